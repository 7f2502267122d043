"""Making tensors: dtypes, the (CPU-only) device, and torch's factory functions.

As in torch, a tensor built from Python floats is float32 (the default dtype);
float64 must be asked for (``dtype=minitorch.float64``).  Dtypes are numpy dtypes.
"""
import numpy as np

from .tensor import Tensor, _as_array

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)


class device:
    """Where a tensor lives. minitorch computes with numpy, so only "cpu" exists."""

    def __init__(self, type="cpu"):
        name = type.type if isinstance(type, device) else str(type)
        if name.split(":")[0] != "cpu":
            raise RuntimeError(f"minitorch computes on the CPU with numpy; device {name!r} is not available. "
                               f"Use device('cpu').")
        self.type = "cpu"

    def __eq__(self, other):
        return isinstance(other, device) or other == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"


def _dtype_or_none(dtype):
    return None if dtype is None else np.dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (number, nested list, numpy array or tensor)."""
    _check_device(device)
    return Tensor(np.array(_as_array(data, _dtype_or_none(dtype))), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """Tensor of shape size (int or tuple; () is a scalar) filled with fill_value."""
    _check_device(device)
    value = _as_array(fill_value, _dtype_or_none(dtype))
    return Tensor(np.full(size, value, dtype=value.dtype), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """zeros(2, 3) or zeros((2, 3)): float32 unless dtype is given."""
    return full(_size(size), 0.0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """ones(2, 3) or ones((2, 3)): float32 unless dtype is given."""
    return full(_size(size), 1.0, dtype=dtype, device=device, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end inclusive, shape (steps,)."""
    _check_device(device)
    values = np.linspace(start, end, steps)  # computed in float64, then rounded once
    return Tensor(values.astype(float32 if dtype is None else np.dtype(dtype)), requires_grad=requires_grad)


def _size(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def _check_device(where):
    if where is not None:
        device(where)
