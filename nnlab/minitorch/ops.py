"""The operations beyond the core's add/mul/pow/matmul/sum, in the core's pattern: compute the
output, and give ``record`` a backward that maps dL/dout to one gradient per input (the engine
sums each back to its input's shape where broadcasting stretched it). Node names are PyTorch's.
In the one-line backwards (`lambda g: ...`), g has the output's shape and each gradient returned
has its input's shape: a view's backward undoes the view (g.T for t(), g.reshape(x.shape) for
reshape), an elementwise one multiplies by the local derivative.

Elementwise functions use identity (4) of the lessons: the Jacobian of an elementwise f is
diag(f'(x)), so dL/dx = dL/dout * f'(x), shaped like x.
"""
import builtins
import collections

import numpy as np

from . import errors
from .dtypes import as_array, floating, result_type, wrap_number
from .engine import Tensor, make, record
from .errors import broadcast


def tensor_of(value, like=None):
    """value as a Tensor; a Python number next to the array `like` takes PyTorch's dtype rule."""
    if isinstance(value, Tensor):
        return value
    return make(wrap_number(value, like) if like is not None and np.ndim(value) == 0 else as_array(value))


# ----- arithmetic beyond the core -----
def sub(input, other):
    if input.array.dtype == np.bool_ or isinstance(other, (bool, np.bool_)) or \
            isinstance(other, Tensor) and other.array.dtype == np.bool_:
        errors.check_subtraction(input, other)
    other, x, y = input._operands(other)

    def backward(g):                    # g: (shape of x - y)
        return g, -g
    return record("SubBackward0", broadcast(np.subtract, x, y), (input, other), backward)


def rsub(input, other):                 # other - input, for a number or array on the left
    errors.check_subtraction(other, input)
    other, x, y = input._operands(other)
    return record("RsubBackward1", broadcast(np.subtract, y, x), (input, other), lambda g: (-g, g))


def neg(input):
    if input.array.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return record("NegBackward0", np.negative(input.array), (input,), lambda g: (-g,))


def _no_derivative(name):
    def backward(g):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    return backward


def floor_divide(input, other):
    """input // other, rounded down; it has no gradient (backward through it raises, as in PyTorch)."""
    other, x, y = input._operands(other)
    with np.errstate(all="ignore"):
        out = broadcast(np.floor_divide, x, y)
    return record("NotImplemented", out, (input, other), _no_derivative("floor_divide"))


def remainder(input, other):
    """input % other, with the sign of other (as Python and PyTorch); d/dinput = 1."""
    other, x, y = input._operands(other)
    with np.errstate(all="ignore"):
        out = broadcast(np.remainder, x, y)

    def backward(g):                    # g: (shape of out); PyTorch has no derivative for other
        return g, (_no_derivative("remainder")(g) if other.requires_grad else None)
    return record("RemainderBackward0", out, (input, other), backward)


def div(input, other):
    other, x, y = input._operands(other)
    x, y = floating(x), floating(y)  # true division: int / int is float, as in PyTorch
    with np.errstate(all="ignore"):
        out = broadcast(np.divide, x, y)

    def backward(g):                    # g: (shape of out)
        return g / y, -g * out / y      # d(x/y)/dy = -x / y**2
    saved = (other, input if other.requires_grad else None)
    return record("DivBackward0", out, (input, other), backward, saved)


def rdiv(input, other):
    return div(tensor_of(other, input.array), input)


def rpow(input, base):
    errors.check_power(base, input)
    base = tensor_of(base, input.array)
    out = base ** input
    if out.grad_fn is not None:
        out.grad_fn._name = "PowBackward2"
    return out


def matmul(input, other):
    """input @ other, numpy's (and PyTorch's) rules."""
    return tensor_of(input) @ other


def mm(input, mat2):
    """Matrix product of two 2-D tensors: (n, k) @ (k, m) -> (n, m)."""
    for name, t in (("self", input), ("mat2", mat2)):
        if tensor_of(t).array.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix")
    return input @ mat2


# ----- elementwise functions: dL/dx = dL/dout * f'(x) -----
def _elementwise(name, f, derivative, input, saves_output=False):
    """f applied to input; derivative(x, out) is f'(x), elementwise."""
    x = floating(input.array) if name != "AbsBackward0" else input.array
    with np.errstate(all="ignore"):
        out = f(x)

    def backward(g):                    # g: (shape of x)
        return (g * derivative(x, out),)
    result = record(name, out, (input,), backward, () if saves_output else (input,))
    if saves_output and result.grad_fn is not None:
        result.grad_fn.saved = [(result, 0)]
    return result


def exp(input):
    return _elementwise("ExpBackward0", np.exp, lambda x, out: out, input, saves_output=True)


def log(input):
    return _elementwise("LogBackward0", np.log, lambda x, out: 1 / x, input)


def sin(input):
    return _elementwise("SinBackward0", np.sin, lambda x, out: np.cos(x), input)


def cos(input):
    return _elementwise("CosBackward0", np.cos, lambda x, out: -np.sin(x), input)


def tanh(input):
    return _elementwise("TanhBackward0", np.tanh, lambda x, out: 1 - out ** 2, input, saves_output=True)


def sigmoid(input):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2 so that it never overflows."""
    return _elementwise("SigmoidBackward0", lambda x: 0.5 * (1 + np.tanh(0.5 * x)), lambda x, out: out * (1 - out),
                        input, saves_output=True)


def sqrt(input):
    return _elementwise("SqrtBackward0", np.sqrt, lambda x, out: 0.5 / out, input, saves_output=True)


def abs(input):
    """|x|; d/dx = sign(x), 0 at 0 (as PyTorch)."""
    errors.check_not_bool(input.array, NotImplementedError, '"abs_cpu" not implemented for \'Bool\'')
    return _elementwise("AbsBackward0", np.abs, lambda x, out: np.sign(x), input)


def square(input):
    return input ** 2


def sign(input):
    """-1, 0 or 1; its gradient is 0 everywhere (as PyTorch)."""
    x = input.array
    out = x.copy() if x.dtype == np.bool_ else np.sign(x)
    return record("SignBackward0", out, (input,), lambda g: (np.zeros_like(g),))


def relu(input):
    """max(x, 0); d/dx = 1 where x > 0, else 0 (0 at the kink, as PyTorch). Keeps integer dtypes."""
    x = input.array
    errors.check_not_bool(x, RuntimeError, "Boolean inputs not supported for relu")
    out = np.maximum(x, np.zeros((), x.dtype))

    def backward(g):                    # g: (shape of x)
        return (g * (out > 0),)
    result = record("ReluBackward0", out, (input,), backward)
    if result.grad_fn is not None:
        result.grad_fn.saved = [(result, 0)]
    return result


def clamp(input, min=None, max=None):
    """Values below min set to min, above max to max; the gradient flows where nothing was clipped."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    x = input.array
    bounds = [tensor_of(b, x).array for b in (min, max) if b is not None]
    dtype = np.result_type(*[result_type(x, b) for b in bounds])
    x = x.astype(dtype, copy=False)
    low = None if min is None else tensor_of(min, x).array.astype(dtype, copy=False)
    high = None if max is None else tensor_of(max, x).array.astype(dtype, copy=False)
    out = np.clip(x, low, high)
    inside = (True if low is None else x >= low) & (True if high is None else x <= high)

    def backward(g):                    # g: (shape of x)
        return (g * inside,)
    return record("ClampBackward1", np.asarray(out), (input,), backward, (input,))


def clamp_min(input, min):
    return clamp(input, min=min)


def maximum(input, other):
    """Elementwise max; where the two are equal, each gets half of the gradient (as PyTorch)."""
    other, x, y = input._operands(other)

    def backward(g):                    # g: (shape of out)
        return g * ((x > y) + 0.5 * (x == y)), g * ((y > x) + 0.5 * (x == y))
    return record("MaximumBackward0", broadcast(np.maximum, x, y), (input, other), backward, (input, other))


def minimum(input, other):
    other, x, y = input._operands(other)

    def backward(g):                    # g: (shape of out)
        return g * ((x < y) + 0.5 * (x == y)), g * ((y < x) + 0.5 * (x == y))
    return record("MinimumBackward0", broadcast(np.minimum, x, y), (input, other), backward, (input, other))


def where(condition, input, other):
    """input where condition is True, other elsewhere (broadcast together)."""
    if not isinstance(condition, Tensor) or condition.array.dtype != np.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor")
    if not isinstance(input, Tensor):
        if isinstance(other, Tensor):
            return where(~condition, other, input)
        input = make(as_array(input))  # two numbers: where(c, 1.0, 2.0) is float32, shaped like c
    other, x, y = input._operands(other)
    c = condition.array

    def backward(g):                    # g: (broadcast shape of condition, x, y)
        return np.where(c, g, 0), np.where(c, 0, g)
    return record("WhereBackward0", np.where(c, x, y), (input, other), backward, (condition,))


# ----- reductions -----
def _axis(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def mean(input, dim=None, keepdim=False, dtype=None):
    """Average over dim (None: everything); only for floating-point tensors, as in PyTorch."""
    x = input.array if dtype is None else input.array.astype(as_array(0, dtype).dtype)
    errors.check_mean_dtype(x)
    axis = _axis(dim)
    out = np.asarray(np.mean(x, axis=axis, keepdims=keepdim), dtype=x.dtype)
    count = x.size // builtins.max(out.size, 1)

    def backward(g):                    # g: (shape of out)
        g = np.expand_dims(g, axis) if axis is not None and not keepdim else g
        return (np.broadcast_to(g / count, x.shape),)
    return record("MeanBackward0" if dim is None else "MeanBackward1", out, (input,), backward)


max_return = collections.namedtuple("max", ["values", "indices"])
min_return = collections.namedtuple("min", ["values", "indices"])


def _extreme(input, dim, keepdim, other, pick, pick_arg, name, pair, returns):
    if isinstance(dim, Tensor):
        return pair(input, dim)
    if other is not None:
        return pair(input, other)
    x = input.array
    if x.size == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    if dim is None:
        out = pick(x)

        def backward(g):                # g: () -> spread evenly over the entries equal to the extreme
            hits = x == out
            return (g * hits / hits.sum(),)
        return record(f"{name.capitalize()}Backward1", np.asarray(out), (input,), backward, (input,))
    index = np.expand_dims(pick_arg(x, axis=dim), dim)
    values = np.take_along_axis(x, index, axis=dim)

    def backward(g):                    # g: (shape of values) -> to the picked index along dim
        grad = np.zeros(x.shape, dtype=g.dtype)
        np.put_along_axis(grad, index, g if keepdim else np.expand_dims(g, dim), axis=dim)
        return (grad,)
    out = record(f"{name.capitalize()}Backward0", values if keepdim else np.squeeze(values, dim), (input,), backward)
    return returns(out, make(index if keepdim else np.squeeze(index, dim)))


def max(input, dim=None, keepdim=False, *, other=None):
    """max(): the largest entry; max(dim): (values, indices) along dim; max(a, b): elementwise maximum."""
    return _extreme(input, dim, keepdim, other, np.max, np.argmax, "max", maximum, max_return)


def min(input, dim=None, keepdim=False, *, other=None):
    return _extreme(input, dim, keepdim, other, np.min, np.argmin, "min", minimum, min_return)


def argmax(input, dim=None, keepdim=False):
    errors.check_not_bool(input.array, RuntimeError, "argmax(): does not support bool input")
    out = np.argmax(input.array, axis=dim, keepdims=keepdim) if dim is not None else np.argmax(input.array)
    return make(np.asarray(out, dtype=np.int64))


def argmin(input, dim=None, keepdim=False):
    errors.check_not_bool(input.array, RuntimeError, "argmin(): does not support bool input")
    out = np.argmin(input.array, axis=dim, keepdims=keepdim) if dim is not None else np.argmin(input.array)
    return make(np.asarray(out, dtype=np.int64))


def var(input, dim=None, keepdim=False, *, correction=1, unbiased=None):
    """Variance over dim (None: all), dividing by n - correction (n - 1 unless told otherwise)."""
    if unbiased is not None:
        correction = int(unbiased)
    centered = input - mean(input, dim, keepdim=True)
    count = input.array.size // builtins.max(np.mean(input.array, axis=_axis(dim), keepdims=keepdim).size, 1)
    return (centered * centered).sum(dim, keepdim) / builtins.max(count - correction, 0)


def std(input, dim=None, keepdim=False, *, correction=1, unbiased=None):
    return sqrt(var(input, dim, keepdim, correction=correction, unbiased=unbiased))


def norm(input, p=2, dim=None, keepdim=False):
    """The p-norm over dim (None: all entries): 2 (Euclidean) or 1."""
    if p == 2 or p == "fro":
        return sqrt((input * input).sum(dim, keepdim))
    if p == 1:
        return abs(input).sum(dim, keepdim)
    raise errors.not_implemented(f"norm with p={p!r}", "minitorch has p=2 and p=1")


def dot(input, other):
    """Inner product of two 1-D tensors."""
    if input.array.ndim != 1 or tensor_of(other).array.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.array.ndim}D and "
                           f"{tensor_of(other).array.ndim}D tensors")
    return input @ other


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input.array, tensor_of(other).array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return make(np.isclose(input.array, tensor_of(other).array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    return input.array.shape == other.array.shape and bool(np.array_equal(input.array, other.array))


def log_softmax(input, dim):
    """x - log(sum(exp(x), dim)), computed after subtracting the max (so +-1e4 stays finite);
    dL/dx = g - softmax(x) * sum(g, dim)."""
    errors.check_floating(input.array, "log_softmax_lastdim_kernel_impl")
    x = input.array.astype(np.float32) if input.array.dtype == np.float16 else input.array  # half: in float32
    shifted = x - np.max(x, axis=dim, keepdims=True)
    out = (shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))).astype(input.array.dtype)

    def backward(g):                    # g: (shape of x)
        return (g - np.exp(out) * np.sum(g, axis=dim, keepdims=True),)
    return record("LogSoftmaxBackward0", out, (input,), backward)


def softmax(input, dim):
    """exp(x) / sum(exp(x), dim); dL/dx = p * (g - sum(g * p, dim))."""
    errors.check_floating(input.array, "softmax_lastdim_kernel_impl")
    x = input.array.astype(np.float32) if input.array.dtype == np.float16 else input.array  # half: in float32
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    p = (e / np.sum(e, axis=dim, keepdims=True)).astype(input.array.dtype)

    def backward(g):                    # g: (shape of x)
        return (p * (g - np.sum(g * p, axis=dim, keepdims=True)),)
    return record("SoftmaxBackward0", p, (input,), backward)


# ----- shapes: views share memory (and the in-place counter) with their base -----
def _view(name, input, array, backward):
    out = record(name, array, (input,), backward)
    if np.shares_memory(array, input.array):
        out._versions, out._base = input._versions, input if input._base is None else input._base
    return out


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def reshape(input, *shape):
    x = input.array
    try:
        out = x.reshape(_shape(shape))
    except ValueError:
        raise RuntimeError(f"shape '{errors.size(_shape(shape))}' is invalid for input of size {x.size}") from None
    return _view("ViewBackward0" if np.shares_memory(out, x) else "UnsafeViewBackward0", input, out,
                 lambda g: (g.reshape(x.shape),))


def view(input, *shape):
    """A new shape for the same memory; like reshape, but refuses when that would need a copy."""
    out = reshape(input, *shape)
    if out.array.size and not np.shares_memory(out.array, input.array):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return out


def flatten(input, start_dim=0, end_dim=-1):
    shape = input.array.shape
    if not shape:
        return reshape(input, 1)
    start, end = start_dim % len(shape), end_dim % len(shape)
    return reshape(input, shape[:start] + (-1,) + shape[end + 1:])


def unsqueeze(input, dim):
    dim = dim % (input.array.ndim + 1)
    return _view("UnsqueezeBackward0", input, np.expand_dims(input.array, dim), lambda g: (np.squeeze(g, dim),))


def squeeze(input, dim=None):
    x = input.array
    axes = tuple(i for i, n in enumerate(x.shape) if n == 1) if dim is None else \
        tuple(d % builtins.max(x.ndim, 1) for d in (dim if isinstance(dim, tuple) else (dim,))
              if x.ndim and x.shape[d] == 1)
    return _view("SqueezeBackward0", input, np.squeeze(x, axes), lambda g: (g.reshape(x.shape),))


def t(input):
    """Transpose of a matrix (a vector or a scalar is returned as it is)."""
    if input.array.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.array.ndim}D")
    return _view("TBackward0", input, input.array.T, lambda g: (g.T,))


def transpose(input, dim0, dim1):
    return _view("TransposeBackward0", input, np.swapaxes(input.array, dim0, dim1),
                 lambda g: (np.swapaxes(g, dim0, dim1),))


def permute(input, *dims):
    dims = _shape(dims)
    return _view("PermuteBackward0", input, np.transpose(input.array, dims),
                 lambda g: (np.transpose(g, np.argsort(dims)),))


def expand(input, *sizes):
    """A broadcast view with the given sizes (-1 keeps a size); the gradient sums back over the copies."""
    x = input.array
    sizes = _shape(sizes)
    shape = tuple(n if s == -1 else s for s, n in zip(sizes, (None,) * (len(sizes) - x.ndim) + x.shape))
    try:
        out = np.broadcast_to(x, shape)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor must match the existing size at a non-singleton "
                           f"dimension: target sizes {errors.size(sizes)}, "
                           f"tensor sizes {errors.size(x.shape)}") from None
    return _view("ExpandBackward0", input, out, lambda g: (g,))  # the engine sums g back to x's shape


def _numpy_index(index):
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index.array if isinstance(index, Tensor) else index


def getitem(input, index):
    """input[index], numpy's (and PyTorch's) indexing. The gradient goes back to the picked
    entries, added up where one is picked twice."""
    index = _numpy_index(index)
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, slice) and i.step is not None and i.step < 1 for i in parts):
        raise ValueError("step must be greater than zero")
    x = input.array
    out = x[index]
    advanced = any(isinstance(i, (list, np.ndarray)) for i in parts)
    name = "IndexBackward0" if advanced else ("SelectBackward0" if any(isinstance(i, int) for i in parts)
                                              else "SliceBackward0")

    def backward(g):                    # g: (shape of out) -> (shape of x), zero where nothing was picked
        grad = np.zeros(x.shape, dtype=g.dtype)
        np.add.at(grad, index, g)
        return (grad,)
    if advanced:  # a copy; PyTorch saves the indices, so a second backward() through it raises
        return record(name, np.array(out), (input,), backward, (make(np.zeros(())),))
    if not any(i is Ellipsis for i in parts):
        out = x[parts + (Ellipsis,)]  # a 0-dim view rather than a numpy scalar when every axis is picked
    return _view(name, input, out, backward)


def cat(tensors, dim=0):
    """The tensors joined along dim (their dtypes promoted, as in PyTorch); the gradient is split back."""
    tensors = [tensor_of(t) for t in tensors]
    arrays = [t.array for t in tensors]
    if any(a.ndim == 0 for a in arrays):
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    dtype = arrays[0].dtype
    for a in arrays[1:]:
        dtype = result_type(np.empty(1, dtype), a)
    out = np.concatenate([a.astype(dtype, copy=False) for a in arrays], axis=dim)
    bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]

    def backward(g):                    # g: (shape of out) -> one slice along dim per input
        return tuple(np.split(g, bounds, axis=dim))
    return record("CatBackward0", out, tuple(tensors), backward)


def stack(tensors, dim=0):
    return cat([unsqueeze(tensor_of(t), dim) for t in tensors], dim)


# ----- copies and dtype conversions -----
def clone(input):
    return record("CloneBackward0", input.array.copy(), (input,), lambda g: (g,))


def to_dtype(input, dtype):
    """A copy in another dtype (the same tensor if it already has it), as tensor.to(dtype)."""
    target = as_array(0, dtype).dtype
    if target == input.array.dtype:
        return input
    if target.kind != "f":  # an integer or bool copy is outside the graph
        return make(input.array.astype(target))
    source = input.array.dtype
    return record("ToCopyBackward0", input.array.astype(target), (input,), lambda g: (g.astype(source),))
