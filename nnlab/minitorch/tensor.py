"""The core of minitorch: a numpy array that remembers how it was made.

Every operation builds its output Tensor and a small closure, ``_backward``, that
takes the output's gradient dL/dout and ACCUMULATES each input's share into that
input's ``.grad`` (chain rule, one local derivative per input).  ``backward()``
sorts the graph topologically and calls the closures from the loss back to the
leaves, exactly like micrograd, only with arrays instead of single numbers.

Shapes: tensors have any shape; a gradient always has the shape of its tensor
(dL/dW shaped like W).  Where an operation broadcast an input, the gradient is
summed back over the broadcast axes (``_unbroadcast``).
"""
import numpy as np

_grad_enabled = True


class no_grad:
    """Context manager: operations inside it build no graph (for update steps)."""

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, function):
        """Also a decorator: @no_grad() runs the whole function without a graph."""
        def without_grad(*args, **kwargs):
            with no_grad():
                return function(*args, **kwargs)
        return without_grad


def is_grad_enabled():
    """True unless inside ``no_grad()``."""
    return _grad_enabled


def _as_array(data, dtype=None):
    """numpy array of data with torch's dtype rule: Python floats become float32
    (the default dtype), numpy arrays keep their dtype unless dtype is given."""
    if type(data) is np.ndarray and dtype is None and data.dtype.kind in "biuf":
        return data  # the common case: an operation's result
    if isinstance(data, Tensor):
        data = data.data
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data, dtype=dtype)
    if dtype is None and not from_numpy and array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"a tensor holds real numbers; got {type(data).__name__} data of numpy dtype {array.dtype}")
    return array


def _unbroadcast(grad, shape):
    """Sum grad (shaped like an op's output) over the axes broadcasting added, so it
    gets `shape`: leading axes that the input lacked, and axes where it had size 1."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape if grad.ndim == len(shape) else ()):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad  # the caller checks that the shape now fits


class Tensor:
    """An n-dimensional array (``.data``, numpy) with an optional gradient ``.grad``.

    Leaves are the tensors you create; with ``requires_grad=True`` they receive
    dL/d(leaf), shaped like the leaf, when you call ``loss.backward()``.
    """

    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * Tensor -> Tensor

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients; this one is {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._prev = ()  # the tensors this one was computed from (empty for a leaf)
        self._op = ""  # name of the operation that made it, for repr and debugging
        self._backward = lambda: None

    # ----- what it is -----
    shape = property(lambda self: self.data.shape, doc="tuple of sizes, like numpy's")
    dtype = property(lambda self: self.data.dtype, doc="numpy dtype: float32, float64, ...")
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: not self._prev, doc="made by the user, not by an operation")

    @property
    def device(self):
        from .creation import device
        return device("cpu")

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = "" if self.dtype in (np.float32, np.int64, np.bool_) else f", dtype={self.dtype}"
        if self.requires_grad:
            extras += f", grad_fn=<{self._op}>" if self._prev else ", requires_grad=True"
        return f"tensor({body}{extras})"

    def __len__(self):
        return len(self.data)

    def __array__(self, dtype=None, copy=None):  # np.asarray(t), plt.plot(t)
        return self.data if dtype is None else self.data.astype(dtype)

    def __format__(self, spec):  # f"{loss:.4f}" works for a one-element tensor
        return format(self.item(), spec) if self.data.size == 1 else object.__format__(self, spec)

    __float__ = lambda self: float(self.item())
    __bool__ = lambda self: bool(self.data)  # numpy refuses, clearly, when there are several elements

    # Comparisons give bool tensors outside the graph, as in torch; hashing stays by identity.
    __eq__ = lambda self, other: Tensor(self.data == self._lift(other).data)
    __ne__ = lambda self, other: Tensor(self.data != self._lift(other).data)
    __lt__ = lambda self, other: Tensor(self.data < self._lift(other).data)
    __le__ = lambda self, other: Tensor(self.data <= self._lift(other).data)
    __gt__ = lambda self, other: Tensor(self.data > self._lift(other).data)
    __ge__ = lambda self, other: Tensor(self.data >= self._lift(other).data)
    __hash__ = object.__hash__
    all = lambda self: Tensor(self.data.all())
    any = lambda self: Tensor(self.data.any())

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The underlying array (shared memory, as in torch)."""
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: call tensor.detach().numpy() instead")
        return self.data

    def detach(self):
        """Same data (shared), cut off from the graph."""
        return Tensor(self.data)

    # ----- building the graph -----
    def _lift(self, other):
        """other as a Tensor; a Python number takes this tensor's float dtype
        (so 0.5 * float32 tensor stays float32, as in torch)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, list, tuple)) and self.dtype.kind == "f":
            return Tensor(other, dtype=self.dtype)
        return Tensor(other)

    @staticmethod
    def _result(data, inputs, op):
        """Wrap an operation's numpy result; remember the inputs only when a
        gradient can flow (grad mode on and some input requires grad)."""
        out = Tensor(data)
        if _grad_enabled and any(t.requires_grad for t in inputs):
            out.requires_grad, out._prev, out._op = True, inputs, op
        return out

    def _accumulate(self, grad):
        """self.grad += grad, after summing grad back to self's shape."""
        if not self.requires_grad:
            return
        grad = _unbroadcast(np.asarray(grad), self.shape)
        if grad.shape != self.shape:
            raise RuntimeError(f"gradient of shape {grad.shape} does not fit a tensor of shape {self.shape}")
        if self.grad is None:
            self.grad = Tensor(np.array(grad, dtype=self.dtype))  # own copy: never shared with another .grad
        else:
            self.grad.data = np.asarray(self.grad.data + grad, dtype=self.dtype)

    # ----- arithmetic: out = f(self, other); each closure applies d out / d input -----
    def __add__(self, other):
        other = self._lift(other)
        out = Tensor._result(self.data + other.data, (self, other), "add")

        def _backward():
            self._accumulate(out.grad.data)
            other._accumulate(out.grad.data)
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        out = Tensor._result(self.data * other.data, (self, other), "mul")

        def _backward():
            self._accumulate(out.grad.data * other.data)
            other._accumulate(out.grad.data * self.data)
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = self._lift(other)
        out = Tensor._result(self.data / other.data, (self, other), "div")

        def _backward():
            self._accumulate(out.grad.data / other.data)
            other._accumulate(-out.grad.data * out.data / other.data)  # d(a/b)/db = -a/b**2
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        exponent = self._lift(exponent)
        out = Tensor._result(self.data ** exponent.data, (self, exponent), "pow")

        def _backward():
            if self.requires_grad:
                self._accumulate(out.grad.data * exponent.data * self.data ** (exponent.data - 1))
            if exponent.requires_grad:  # d(a**p)/dp = a**p * log(a)
                exponent._accumulate(out.grad.data * out.data * np.log(self.data))
        out._backward = _backward
        return out

    def __matmul__(self, other):
        """Matrix product, numpy's rules: (n, k) @ (k, m) -> (n, m); 1-D operands
        act as a row (left) or column (right) vector; leading axes broadcast."""
        other = self._lift(other)
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not fit: "
                             f"the last size of the first must equal the {'second-to-' if b.ndim > 1 else ''}"
                             f"last size of the second")
        out = Tensor._result(a @ b, (self, other), "matmul")

        def _backward():
            # Treat vectors as (1, k) and (k, 1) matrices; then dA = G B^T, dB = A^T G.
            a2, b2, g = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b), out.grad.data
            g = g[..., None] if b.ndim == 1 else g
            g = g[..., None, :] if a.ndim == 1 else g
            if self.requires_grad:
                self._accumulate(_unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape))
            if other.requires_grad:
                other._accumulate(_unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape))
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-self._lift(other))

    __radd__ = __add__
    __rmul__ = __mul__
    __rsub__ = lambda self, other: self._lift(other) - self
    __rtruediv__ = lambda self, other: self._lift(other) / self
    __rpow__ = lambda self, other: self._lift(other) ** self
    __rmatmul__ = lambda self, other: self._lift(other) @ self
    pow = __pow__

    # ----- reductions and reshaping -----
    def sum(self, dim=None, keepdim=False):
        """Sum over dim (int or tuple; None = all). dL/dself = dL/dout copied back along dim."""
        out = Tensor._result(np.sum(self.data, axis=dim, keepdims=keepdim), (self,), "sum")

        def _backward():
            g = out.grad.data
            if dim is not None and not keepdim:
                g = np.expand_dims(g, dim)  # put the summed axes back as size 1, then broadcast
            self._accumulate(np.broadcast_to(g, self.shape))
        out._backward = _backward
        return out

    def mean(self, dim=None, keepdim=False):
        """Average over dim (None = all): sum / (number of elements summed)."""
        total = self.sum(dim, keepdim)
        return total / (self.data.size // max(total.data.size, 1))

    def __getitem__(self, index):
        """x[index], numpy's indexing (ints, slices, integer arrays or tensors). The
        gradient goes back to the picked entries, added up where one is picked twice."""
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data
        out = Tensor._result(self.data[index], (self,), "index")

        def _backward():
            grad = np.zeros_like(self.data)
            np.add.at(grad, index, out.grad.data)
            self._accumulate(grad)
        out._backward = _backward
        return out

    @property
    def T(self):
        """Transpose (reverses all axes; for a matrix, rows become columns)."""
        out = Tensor._result(self.data.T, (self,), "T")
        out._backward = lambda: self._accumulate(out.grad.data.T)
        return out

    # ----- in-place updates (for gradient descent under no_grad) -----
    def _inplace(self, ufunc, other):
        other = self._lift(other)
        if _grad_enabled and (self.requires_grad or other.requires_grad):
            raise RuntimeError("in-place update of a tensor that requires grad: do it inside "
                               "`with torch.no_grad():`, as in a gradient-descent step")
        ufunc(self.data, other.data, out=self.data)  # same array, same Tensor object
        return self

    __iadd__ = lambda self, other: self._inplace(np.add, other)
    __isub__ = lambda self, other: self._inplace(np.subtract, other)
    __imul__ = lambda self, other: self._inplace(np.multiply, other)
    __itruediv__ = lambda self, other: self._inplace(np.divide, other)

    def zero_(self):
        """Fill with zeros in place (e.g. ``w.grad.zero_()``)."""
        self.data[...] = 0
        return self

    # ----- backpropagation -----
    def backward(self, gradient=None):
        """Compute dself/d(leaf) for every leaf that requires grad and ADD it to leaf.grad.

        gradient: dL/dself, shaped like self; may be left out when self is a scalar
        (then it is 1, and the leaves get d self / d leaf).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: none of its inputs "
                               "has requires_grad=True (or it was computed under no_grad())")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient argument works only for a scalar (one-element) "
                                   f"tensor; this one has shape {self.shape}. Pass gradient=..., shaped like it.")
            gradient = np.ones_like(self.data)
        gradient = _as_array(gradient, self.dtype)
        if gradient.shape != self.shape:
            raise ValueError(f"backward(gradient): gradient has shape {gradient.shape}; the tensor has shape {self.shape}")
        order = self._topological_order()
        for node in order:
            if node._prev:
                node.grad = None  # intermediate gradients start fresh on every backward()
        self._accumulate(gradient)
        for node in reversed(order):  # outputs before inputs
            if node.grad is not None:
                node._backward()

    def _topological_order(self):
        """Every tensor the graph of self depends on, each listed after all its inputs
        (micrograd's build_topo, with an explicit stack instead of recursion)."""
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((t, False) for t in node._prev if t not in visited)
        return order
