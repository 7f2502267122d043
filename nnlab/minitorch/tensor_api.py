"""The rest of PyTorch's Tensor API on the core's Tensor: sizes and dtypes, conversions, printing,
in-place changes (with PyTorch's guards), and the operations of ops.py as methods (x.exp() is
torch.exp(x)). A name that PyTorch has and minitorch does not raises an AttributeError naming it.
"""
import numpy as np

from . import errors, grad_mode, ops
from .dtypes import bool_, float16, float32, float64, int32, int64, to_numpy_dtype, to_torch_dtype, wrap_number
from .engine import Node, Tensor, make, record
from .printing import tensor_repr


class Size(tuple):
    """A tensor's shape: a tuple of ints, printed as PyTorch prints it."""

    def __repr__(self):
        return f"torch.Size([{', '.join(map(str, self))}])"

    def numel(self):
        return int(np.prod(self, dtype=np.int64))


# ----- what a tensor is -----
def size(self, dim=None):
    return Size(self.array.shape) if dim is None else self.array.shape[dim]


def item(self):
    """The single value of a one-element tensor, as a Python number."""
    if self.array.size != 1:
        raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted to Scalar")
    return self.array.item()


def numpy(self):
    """The underlying numpy array (shared memory, as in PyTorch)."""
    if self.requires_grad:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    return self.array


def detach(self):
    """Same memory (and in-place counter), outside the graph."""
    out = make(self.array)
    out._versions = self._versions
    return out


def _device(self):
    from .creation import device
    return device("cpu")


def _data(self):
    return make(self.array)  # same memory; changes through .data are not counted (PyTorch's escape hatch)


def _set_data(self, value):
    self.array = value.array


def _one_value(self, kind):
    if self.array.size != 1:
        raise ValueError("only one element tensors can be converted to Python scalars")
    return kind(self.array.item())


def _bool(self):
    if self.array.size != 1:
        raise RuntimeError(f"Boolean value of Tensor with {'more than one value' if self.array.size else 'no values'} "
                           f"is ambiguous")
    return bool(self.array.item())


def _len(self):
    if self.array.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return len(self.array)


def _iter(self):
    if self.array.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(len(self.array)))


def _format(self, spec):  # f"{loss:.4f}" works for a 0-dim tensor, as in PyTorch
    if self.array.ndim == 0:
        return format(self.array.item(), spec)
    if spec:
        raise TypeError("unsupported format string passed to Tensor.__format__")
    return tensor_repr(self)


def to(self, *args, dtype=None, device=None, **kwargs):
    """tensor.to(dtype), tensor.to("cpu"), tensor.to(other_tensor): minitorch has only the CPU."""
    from .creation import device as device_type
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, (str, device_type)):
            device_type(arg)
        else:
            dtype = arg
    if device is not None:
        device_type(device)
    return self if dtype is None else ops.to_dtype(self, dtype)


def _cuda(self, *args, **kwargs):
    raise errors.not_implemented("CUDA (tensor.cuda())", "minitorch computes on the CPU with numpy")


def detach_(self):
    """Make this tensor a leaf that does not require grad, in place."""
    if self._base is not None:
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    self.grad_fn, self._requires_grad = None, False
    return self


def _new(fill):
    def new(self, *size, dtype=None, device=None, requires_grad=False):
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        t = make(fill(shape, self.array.dtype if dtype is None else to_numpy_dtype(dtype)))
        return requires_grad_(t, requires_grad)
    return new


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from . import creation
    return creation.tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)


def requires_grad_(self, requires_grad=True):
    self.requires_grad = requires_grad
    return self


def retain_grad(self):
    """Keep dL/d(this non-leaf tensor) in .grad during backward()."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is not None:
        self.grad_fn.retained = self


def _accumulate_grad(self, g):
    """PyTorch's AccumulateGrad: the first gradient becomes .grad (own copy), later ones add into it."""
    if self._grad is None:
        self._grad = make(np.array(g, dtype=self.array.dtype))
    else:
        self._grad.array += g


def _register_hook(self, hook):
    raise errors.not_implemented("tensor.register_hook (gradient hooks)")


# ----- in-place changes -----
def _inplace(self, compute, other=None, name=None):
    """self <- compute(self, other) in the same memory, as PyTorch's in-place ops: refused on a leaf
    that requires grad (unless under no_grad); on a non-leaf, recorded in the graph; counted."""
    errors.check_inplace(self, grad_mode.enabled)
    if grad_mode.enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
        before = make(self.array.copy(), self.grad_fn)  # stands for self's value before the change
        before._requires_grad = self.requires_grad
        result = compute(before, other)
        self.grad_fn, self._requires_grad = result.grad_fn, True
    else:
        with grad_mode.no_grad():
            result = compute(self, other)
    errors.check_inplace_dtype(result.array.dtype, self)
    if result.array.shape != self.array.shape:
        raise RuntimeError(f"output with shape {errors.size(self.array.shape)} doesn't match the broadcast shape "
                           f"{errors.size(result.array.shape)}")
    self.array[...] = result.array
    self._versions[0] += 1
    return self


def _setitem(self, index, value):
    """self[index] = value (a number or a tensor), in place: g[x < 0] = 0 works, as in PyTorch."""
    value = ops.tensor_of(value, self.array)

    def put(before, value):
        index_ = ops._numpy_index(index)
        out = before.array.copy()
        out[index_] = value.array

        def backward(g):                # g: (shape of self) -> zero where overwritten; the picked part to value
            g_before = g.copy()
            g_before[index_] = 0
            return g_before, g[index_]
        return record("CopySlices", out, (before, value), backward)
    return _inplace(self, put, value)


def fill_(self, value):
    def fill(t, v):
        return record("FillBackward0", np.full_like(t.array, v), (t,), lambda g: (None,))
    return _inplace(self, fill, value)


def zero_(self):
    return fill_(self, 0)


def copy_(self, src):
    def copy(t, src):
        src = ops.tensor_of(src)
        return record("CopyBackwards", np.broadcast_to(src.array, t.array.shape).astype(t.array.dtype), (t, src),
                      lambda g: (None, g))
    return _inplace(self, copy, src)


def _random_fill(draw):
    def fill(self, *args, **kwargs):
        from . import creation
        values = draw(creation._generator[0], self.array.shape, *args, **kwargs).astype(self.array.dtype)
        return _inplace(self, lambda t, v: record("RandomBackward", v, (t,), lambda g: (None,)), values)
    return fill


def _type(self, dtype=None):
    """tensor.type(): its type name (torch.FloatTensor); tensor.type(dtype): a copy in that dtype."""
    return errors.type_name(self.array) if dtype is None else ops.to_dtype(self, dtype)


def _inplace_binary(op, ufunc):
    """x += y and friends; without a graph to record (the update step under no_grad), straight into
    x's memory with the numpy ufunc."""
    def inplace(self, other):
        if grad_mode.enabled and (self._requires_grad or getattr(other, "_requires_grad", False)
                                  or self._base is not None):
            return _inplace(self, op, other)
        y = other.array if isinstance(other, Tensor) else wrap_number(other, self.array)
        if y.dtype != self.array.dtype or y.ndim > self.array.ndim or ufunc is np.divide and y.dtype.kind != "f":
            return _inplace(self, op, other)  # promotion, broadcasting and their errors: the general way
        try:
            ufunc(self.array, y, out=self.array)
        except ValueError:
            return _inplace(self, op, other)
        self._versions[0] += 1
        return self
    return inplace


# ----- comparisons and logic: bool tensors outside the graph -----
def _compare(ufunc):
    def compare(self, other):
        if other is None:
            return ufunc is np.not_equal
        other, x, y = self._operands(other)
        return make(np.asarray(ufunc(x, y)))
    return compare


def _logical(ufunc):
    def logical(self, other):
        other, x, y = self._operands(other)
        return make(np.asarray(ufunc(x, y)))
    return logical


def _reflected(op):
    """number <op> tensor; a numpy array on the left is refused with a TypeError, as PyTorch does."""
    def reflected(self, other):
        return NotImplemented if isinstance(other, np.ndarray) else op(self, other)
    return reflected


def _index(self):
    if self.array.size != 1 or self.array.dtype.kind not in "iu":
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(self.array.item())


def _missing(self, name):
    raise AttributeError(f"'Tensor' object has no attribute '{name}': minitorch implements a subset of "
                         f"PyTorch's Tensor API, and tensor.{name} is not in it")


METHODS = {
    # what it is
    "shape": property(lambda self: Size(self.array.shape), doc="the sizes, as torch.Size (a tuple)"),
    "dtype": property(lambda self: to_torch_dtype(self.array.dtype)),
    "device": property(_device),
    "ndim": property(lambda self: self.array.ndim),
    "is_cuda": False,
    "data": property(_data, _set_data),
    "retains_grad": property(lambda self: self.grad_fn is not None and self.grad_fn.retained is self),
    "T": property(lambda self: ops.permute(self, tuple(range(self.array.ndim))[::-1])),
    "mT": property(lambda self: ops.transpose(self, -2, -1)),
    "size": size, "dim": lambda self: self.array.ndim, "ndimension": lambda self: self.array.ndim,
    "numel": lambda self: self.array.size, "nelement": lambda self: self.array.size,
    "element_size": lambda self: self.array.itemsize,
    "is_floating_point": lambda self: self.array.dtype.kind == "f",
    "item": item, "tolist": lambda self: self.array.tolist(), "numpy": numpy,
    "detach": detach, "detach_": detach_, "clone": ops.clone,
    "new_zeros": _new(np.zeros), "new_ones": _new(np.ones), "new_empty": _new(np.zeros), "new_tensor": _new_tensor,
    "new_full": lambda self, size, fill_value, dtype=None, **kw: _new(lambda s, d: np.full(s, fill_value, d))(
        self, size, dtype=dtype, **kw), "contiguous": lambda self: self, "cpu": lambda self: self,
    "cuda": _cuda, "to": to,
    "double": lambda self: ops.to_dtype(self, float64), "float": lambda self: ops.to_dtype(self, float32),
    "half": lambda self: ops.to_dtype(self, float16), "long": lambda self: ops.to_dtype(self, int64),
    "int": lambda self: ops.to_dtype(self, int32), "bool": lambda self: ops.to_dtype(self, bool_),
    "type": _type,
    "requires_grad_": requires_grad_, "retain_grad": retain_grad, "_accumulate_grad": _accumulate_grad,
    "register_hook": _register_hook,
    "__repr__": tensor_repr, "__str__": tensor_repr, "__format__": _format, "__len__": _len, "__iter__": _iter,
    "__array__": lambda self, dtype=None, copy=None: numpy(self) if dtype is None else numpy(self).astype(dtype),
    "__float__": lambda self: _one_value(self, float), "__int__": lambda self: _one_value(self, int),
    "__index__": _index,
    "__bool__": _bool, "__hash__": object.__hash__, "__getattr__": _missing,
    # arithmetic
    "__sub__": ops.sub, "__neg__": ops.neg, "neg": ops.neg, "__truediv__": ops.div, "__abs__": ops.abs,
    "__radd__": _reflected(Tensor.__add__), "__rmul__": _reflected(Tensor.__mul__), "__rsub__": _reflected(ops.rsub),
    "__rtruediv__": _reflected(ops.rdiv), "__rpow__": _reflected(ops.rpow),
    "__floordiv__": ops.floor_divide, "__mod__": ops.remainder, "floor_divide": ops.floor_divide,
    "remainder": ops.remainder,
    "__rfloordiv__": _reflected(lambda self, other: ops.floor_divide(ops.tensor_of(other, self.array), self)),
    "__rmod__": _reflected(lambda self, other: ops.remainder(ops.tensor_of(other, self.array), self)),
    "__rmatmul__": _reflected(lambda self, other: ops.tensor_of(other) @ self),
    "add": lambda self, other: self + other, "sub": ops.sub, "mul": lambda self, other: self * other,
    "div": ops.div, "pow": lambda self, exponent: self ** exponent, "matmul": ops.matmul, "mm": ops.mm,
    # comparisons and logic
    "__eq__": _compare(np.equal), "__ne__": _compare(np.not_equal), "__lt__": _compare(np.less),
    "__le__": _compare(np.less_equal), "__gt__": _compare(np.greater), "__ge__": _compare(np.greater_equal),
    "eq": _compare(np.equal), "ne": _compare(np.not_equal), "lt": _compare(np.less), "le": _compare(np.less_equal),
    "gt": _compare(np.greater), "ge": _compare(np.greater_equal),
    "__and__": _logical(np.bitwise_and), "__or__": _logical(np.bitwise_or), "__xor__": _logical(np.bitwise_xor),
    "__invert__": lambda self: make(np.invert(self.array)),
    "all": lambda self: make(np.asarray(self.array.all())), "any": lambda self: make(np.asarray(self.array.any())),
    # in place
    "__iadd__": _inplace_binary(lambda t, o: t + o, np.add), "__isub__": _inplace_binary(ops.sub, np.subtract),
    "__imul__": _inplace_binary(lambda t, o: t * o, np.multiply), "__itruediv__": _inplace_binary(ops.div, np.divide),
    "add_": _inplace_binary(lambda t, o: t + o, np.add), "sub_": _inplace_binary(ops.sub, np.subtract),
    "mul_": _inplace_binary(lambda t, o: t * o, np.multiply), "div_": _inplace_binary(ops.div, np.divide),
    "clamp_": lambda self, min=None, max=None: _inplace(self, lambda t, _: ops.clamp(t, min, max)),
    "__setitem__": _setitem, "fill_": fill_, "zero_": zero_, "copy_": copy_,
    "normal_": _random_fill(lambda rng, shape, mean=0.0, std=1.0: mean + std * rng.standard_normal(shape)),
    "uniform_": _random_fill(lambda rng, shape, a=0.0, b=1.0: rng.uniform(a, b, shape)),
    # operations of ops.py
    "__getitem__": ops.getitem,
    "exp": ops.exp, "log": ops.log, "sin": ops.sin, "cos": ops.cos, "tanh": ops.tanh, "sigmoid": ops.sigmoid,
    "sqrt": ops.sqrt, "abs": ops.abs, "square": ops.square, "sign": ops.sign, "var": ops.var, "std": ops.std,
    "norm": ops.norm, "dot": ops.dot, "allclose": ops.allclose, "isclose": ops.isclose, "equal": ops.equal,
    "relu": ops.relu, "clamp": ops.clamp, "clip": ops.clamp,
    "clamp_min": ops.clamp_min, "maximum": ops.maximum, "minimum": ops.minimum,
    "mean": ops.mean, "max": ops.max, "min": ops.min, "argmax": ops.argmax, "argmin": ops.argmin,
    "log_softmax": ops.log_softmax, "softmax": ops.softmax,
    "reshape": ops.reshape, "view": ops.view, "view_as": lambda self, other: ops.view(self, other.array.shape),
    "reshape_as": lambda self, other: ops.reshape(self, other.array.shape), "flatten": ops.flatten,
    "unsqueeze": ops.unsqueeze, "squeeze": ops.squeeze, "t": ops.t, "transpose": ops.transpose,
    "permute": ops.permute, "expand": ops.expand, "expand_as": lambda self, other: ops.expand(self, other.array.shape),
}
for _name, _method in METHODS.items():
    setattr(Tensor, _name, _method)


class AccumulateGrad:
    """The graph's node for a leaf that requires grad: it adds the gradient into leaf.grad."""

    def __init__(self, variable):
        self.variable, self.next_functions = variable, ()

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _next_functions(node):
    """PyTorch's view of a node's inputs: ((grad_fn or AccumulateGrad or None, 0), ...)."""
    out = []
    for edge in node.next:
        if isinstance(edge, Tensor):
            edge.__dict__.setdefault("_accumulator", AccumulateGrad(edge))
            edge = edge._accumulator
        out.append((edge, 0))
    return tuple(out)


def _legacy_init(self, *data, device=None):
    """torch.Tensor(data) or torch.Tensor(*sizes): the default float dtype (float32), as in PyTorch."""
    from .creation import legacy_tensor_array
    self.__dict__.update(make(legacy_tensor_array(data, device)).__dict__)


def _set_requires_grad(self, flag):
    errors.check_requires_grad(self, flag)
    self._requires_grad = bool(flag)


def _get_grad(self):
    """dL/d(this tensor) after backward(): kept for leaves that require grad (and after retain_grad())."""
    if self.grad_fn is not None and self.grad_fn.retained is not self:
        errors.warn_non_leaf_grad()
    return self._grad


def _set_grad(self, value):
    self._grad = errors.check_grad_assignment(self, value)


Tensor.__init__ = _legacy_init
Tensor.requires_grad = property(lambda self: self._requires_grad, _set_requires_grad)
Tensor.grad = property(_get_grad, _set_grad)
Tensor._version = property(lambda self: self._versions[0], doc="how many times it was changed in place")
Node.name = lambda node: node._name
Node.next_functions = property(_next_functions)
Node.__repr__ = lambda node: f"<{node.name()} object at {hex(id(node))}>"
