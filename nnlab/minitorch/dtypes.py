"""PyTorch's dtypes and its type-promotion rules, on numpy arrays.

* A tensor built from Python floats is float32 (the default dtype); from Python ints, int64;
  a numpy array keeps its dtype (``torch.tensor(np.ones(2))`` is float64).
* An operation between two tensors of different *categories* (bool < integer < floating)
  takes the dtype of the higher one: int64 tensor * float32 tensor is float32 (numpy says float64).
* Within one category, a tensor with dimensions wins over a 0-dim tensor: a float32 vector
  times a float64 scalar tensor stays float32; two tensors with dimensions promote as numpy does.
* A Python number takes the tensor's dtype when it fits its category: float32 tensor * 0.5 is
  float32; int64 tensor * 0.5 is the default float dtype, float32 (numpy: float64).
* x ** 2 and x ** 3 are computed as PyTorch computes them (x*x, x*x*x), to the same last bit.
"""
import builtins

import numpy as np


class dtype:
    """A tensor's element type, printed as PyTorch prints it (``torch.float32``)."""

    def __init__(self, name, numpy_dtype, torch_type_name):
        self.name, self.numpy, self.type_name = name, np.dtype(numpy_dtype), torch_type_name
        self.is_floating_point = self.numpy.kind == "f"
        self.is_complex, self.is_signed = False, self.numpy.kind in "fi"
        self.itemsize = self.numpy.itemsize

    def __repr__(self):
        return f"torch.{self.name}"

    def to_real(self):
        return self


float16 = dtype("float16", np.float16, "Half")
float32 = dtype("float32", np.float32, "Float")
float64 = dtype("float64", np.float64, "Double")
uint8 = dtype("uint8", np.uint8, "Byte")
int8 = dtype("int8", np.int8, "Char")
int16 = dtype("int16", np.int16, "Short")
int32 = dtype("int32", np.int32, "Int")
int64 = dtype("int64", np.int64, "Long")
bool_ = dtype("bool", np.bool_, "Bool")
FROM_NUMPY = {d.numpy: d for d in (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)}
CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating

_default_float = [float32]


def get_default_dtype():
    """The dtype of tensors made from Python floats: float32 unless set_default_dtype changed it."""
    return _default_float[0]


def set_default_dtype(d):
    if d not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float[0] = d


def default_float():
    return _default_float[0].numpy


def to_numpy_dtype(d):
    """numpy dtype of a torch dtype (a numpy dtype or type is accepted too)."""
    if isinstance(d, dtype):
        return d.numpy
    if d in (builtins.float, builtins.int, builtins.bool):  # as in torch: float means float64
        return {builtins.float: float64, builtins.int: int64, builtins.bool: bool_}[d].numpy
    try:
        return FROM_NUMPY[np.dtype(d)].numpy
    except (TypeError, KeyError):
        raise TypeError(f"dtype must be a torch dtype such as torch.float32, got {d!r}") from None


def to_torch_dtype(numpy_dtype):
    try:
        return FROM_NUMPY[numpy_dtype]
    except KeyError:
        raise TypeError(f"minitorch has no tensor type for numpy dtype {numpy_dtype}; "
                        f"it supports {', '.join(map(repr, FROM_NUMPY.values()))}") from None


def as_array(data, dtype=None):
    """numpy array for torch.tensor(data, dtype=...): Python floats become the default float
    dtype, Python ints int64, bools bool; numpy arrays and numpy scalars keep their dtype."""
    target = None if dtype is None else to_numpy_dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
    else:
        array = np.asarray(data)
        if array.dtype.kind == "f":
            array = array.astype(default_float())
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
        elif array.dtype == object or array.dtype.kind not in "bf":
            raise TypeError(f"a tensor holds numbers of one type and shape; could not infer one from "
                            f"{type(data).__name__} data (numpy made dtype {array.dtype} of it)")
    if target is not None:
        return array.astype(target)
    to_torch_dtype(array.dtype)  # refuses complex, strings, uint16, ...
    return array


def wrap_number(value, like):
    """A Python (or numpy) number as a 0-dim array, with the dtype it takes next to the array `like`
    (PyTorch's "wrapped number" rule: it keeps the tensor's dtype unless its category is higher)."""
    kind = like.dtype.kind
    if type(value) is builtins.float and kind == "f":  # the common case: 0.5 * x
        return np.array(value, dtype=like.dtype)
    if isinstance(value, (builtins.bool, np.bool_)):
        return np.array(value, dtype=like.dtype)
    if isinstance(value, (builtins.int, np.integer)):
        return np.array(value, dtype=np.int64 if kind == "b" else like.dtype)
    if isinstance(value, (builtins.float, np.floating)):
        return np.array(value, dtype=like.dtype if kind == "f" else default_float())
    if isinstance(value, (complex, np.complexfloating)):
        raise NotImplementedError("complex numbers (PyTorch's complex dtypes) are not implemented in minitorch")
    return as_array(value)


def result_type(x, y):
    """The dtype of an operation on arrays x and y, by PyTorch's rules (see the module docstring)."""
    if x.dtype == y.dtype:
        return x.dtype
    cx, cy = CATEGORY[x.dtype.kind], CATEGORY[y.dtype.kind]
    if cx != cy:
        return x.dtype if cx > cy else y.dtype
    if (x.ndim == 0) != (y.ndim == 0):
        return y.dtype if x.ndim == 0 else x.dtype
    return np.promote_types(x.dtype, y.dtype)


def promote(x, y):
    """Arrays x and y, both in the dtype of an operation between them (PyTorch's rules)."""
    if x.dtype == y.dtype:
        return x, y
    dtype = result_type(x, y)
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


def power(x, p):
    """x ** p on arrays, as PyTorch computes it: x*x for 2 and x*x*x for 3; 0 ** -1 is inf, quietly."""
    if x.dtype == np.bool_:  # a bool tensor to a Python bool: x ** True is x, x ** False is True
        return x | ~p
    exponent = p.item() if p.ndim == 0 else None
    if exponent == 2 or exponent == 3:
        return x * x if exponent == 2 else x * x * x
    from .errors import broadcast
    with np.errstate(all="ignore"):
        return broadcast(np.power, x, p)


def floating(array):
    """array as floating point: integers and bools become the default float dtype (exp, sqrt, ... and /)."""
    return array if array.dtype.kind == "f" else array.astype(default_float())
