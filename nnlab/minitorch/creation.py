"""Making tensors as PyTorch does: ``tensor``, ``zeros``, ``randn``, ... with its default dtypes
(float32 for floats, int64 for integers), the CPU as the only device, and a seeded generator.
Random values come from numpy's generator, so they differ from PyTorch's; shapes, dtypes and
flags do not.
"""
import builtins
import math
import warnings

import numpy as np

from .dtypes import as_array, default_float, to_numpy_dtype
from .engine import Tensor, make


class device:
    """Where a tensor lives. minitorch computes with numpy, so only "cpu" exists."""

    def __init__(self, type="cpu", index=None):
        name = type.type if isinstance(type, device) else str(type)
        if name.split(":")[0] != "cpu":
            raise RuntimeError(f"minitorch computes on the CPU with numpy; device {name!r} is not available "
                               f"(PyTorch's CUDA and other accelerators are not implemented). Use device('cpu').")
        self.type, self.index = "cpu", None

    def __eq__(self, other):
        return isinstance(other, device) or other == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


def _check_device(where):
    if where is not None:
        device(where)


def _leaf(array, requires_grad):
    t = make(array)
    t.requires_grad = requires_grad  # checks the dtype, as PyTorch does
    return t


def _size(size):
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    if not all(isinstance(n, (builtins.int, np.integer)) for n in size):
        raise TypeError(f"size must be a sequence of ints, got {size}")
    return size


def _float_dtype(dtype):
    return default_float() if dtype is None else to_numpy_dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (number, nested list, numpy array or tensor)."""
    _check_device(device)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
                      "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        data = data.array
    return _leaf(np.array(as_array(data, dtype)), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """data as a tensor, sharing memory with a numpy array or tensor where the dtype allows."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return make(as_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with the numpy array (it keeps its dtype)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return make(as_array(array))


def legacy_tensor_array(data, device=None):
    """The array of torch.Tensor(...): Tensor([1, 2]) holds float32 values; Tensor(2, 3) is 2 x 3 (zeros here,
    uninitialized in PyTorch); Tensor() is empty."""
    _check_device(device)
    if not data:
        return np.zeros((0,), dtype=default_float())
    if builtins.all(isinstance(n, (builtins.int, np.integer)) and not isinstance(n, builtins.bool) for n in data):
        return np.zeros(data, dtype=default_float())
    if len(data) == 1 and isinstance(data[0], Tensor):
        return data[0].array
    if len(data) == 1 and not np.isscalar(data[0]):
        return np.array(as_array(data[0]), dtype=default_float())
    raise TypeError(f"new(): data must be a sequence (got {type(data[0]).__name__})")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """Tensor of shape size (a tuple; () is a scalar) filled with fill_value; its dtype follows the value."""
    _check_device(device)
    value = as_array(fill_value, dtype)
    return _leaf(np.full(_size((size,)) if isinstance(size, (builtins.int, np.integer)) else _size(size),
                         value, dtype=value.dtype), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """zeros(2, 3) or zeros((2, 3)): float32 unless dtype is given."""
    _check_device(device)
    return _leaf(np.zeros(_size(size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """ones(2, 3) or ones((2, 3)): float32 unless dtype is given."""
    _check_device(device)
    return _leaf(np.ones(_size(size), dtype=_float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Uninitialized in PyTorch; zeros here."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(input, dtype):
    return input.array.dtype if dtype is None else to_numpy_dtype(dtype)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _leaf(np.zeros(input.array.shape, dtype=_like(input, dtype)), requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _leaf(np.ones(input.array.shape, dtype=_like(input, dtype)), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _leaf(np.full(input.array.shape, fill_value, dtype=_like(input, dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values start, start + step, ... below end: int64 when all three are integers, else float32."""
    _check_device(device)
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    integral = builtins.all(isinstance(v, (builtins.int, np.integer)) for v in values)
    target = np.dtype(np.int64) if integral and dtype is None else _float_dtype(dtype)
    count = builtins.max(math.ceil((values[1] - values[0]) / values[2]), 0)
    return _leaf((values[0] + values[2] * np.arange(count, dtype=np.float64)).astype(target)
                 if not integral else np.arange(*values, dtype=np.int64).astype(target), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end inclusive, shape (steps,)."""
    _check_device(device)
    values = np.linspace(start, end, steps)  # computed in float64, then rounded once
    return _leaf(values.astype(_float_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _leaf(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


# ----- random numbers (numpy's generator; seeded by manual_seed) -----
_generator = [np.random.default_rng()]


class Generator:
    """What manual_seed returns; minitorch has one global generator."""

    def __init__(self, seed):
        self._seed = seed

    def initial_seed(self):
        return self._seed


def manual_seed(seed):
    """Seed the generator behind rand, randn, randint, randperm: the same seed gives the same numbers
    (not PyTorch's numbers: its generator is a different one)."""
    _generator[0] = np.random.default_rng(builtins.int(seed))
    return Generator(builtins.int(seed))


def seed():
    s = builtins.int(np.random.SeedSequence().entropy % 2**63)
    manual_seed(s)
    return s


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform on [0, 1), float32 unless dtype is given."""
    _check_device(device)
    return _leaf(_generator[0].random(_size(size)).astype(_float_dtype(dtype)), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal, float32 unless dtype is given."""
    _check_device(device)
    return _leaf(_generator[0].standard_normal(_size(size)).astype(_float_dtype(dtype)), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers in [low, high), int64 unless dtype is given: randint(10, (3,)) or randint(0, 10, (3,))."""
    _check_device(device)
    if size is None:
        low, high, size = 0, low, high
    values = _generator[0].integers(low, high, size=_size((size,)) if isinstance(size, builtins.int) else _size(size))
    return _leaf(values.astype(np.int64 if dtype is None else to_numpy_dtype(dtype)), requires_grad)


def randperm(n, dtype=None, device=None, requires_grad=False, generator=None):
    _check_device(device)
    return _leaf(_generator[0].permutation(n).astype(np.int64 if dtype is None else to_numpy_dtype(dtype)),
                 requires_grad)


def normal(mean, std, size=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """Normal samples: normal(mean, std, size) with numbers, or elementwise means and stds as tensors."""
    _check_device(device)
    if size is not None:
        return _leaf((mean + std * _generator[0].standard_normal(_size((size,)) if isinstance(size, builtins.int)
                                                                 else _size(size))).astype(_float_dtype(dtype)),
                     requires_grad)
    means, stds = (np.asarray(v.array if isinstance(v, Tensor) else v) for v in (mean, std))
    shape = np.broadcast_shapes(means.shape, stds.shape)
    dtype_ = (means if isinstance(mean, Tensor) else stds).dtype
    return _leaf((means + stds * _generator[0].standard_normal(shape)).astype(dtype_), requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return rand(*input.array.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return randn(*input.array.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)
