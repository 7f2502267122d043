"""The autodiff core of minitorch: a numpy array that remembers how it was made.

Read it top to bottom, like micrograd. A Tensor holds its values in ``array`` (numpy). When an
operation runs while some input requires grad, its output gets a ``grad_fn``: a Node that holds
the operation's backward, a plain function from dL/dout to (dL/dinput, ...). ``backward()``
orders the nodes so that each comes before the nodes of its inputs, and walks them, adding up
the gradients that reach each node; a leaf that requires grad receives its total in ``.grad``.

PyTorch's other rules (dtypes, tensor creation, the errors it raises, the other operations)
live in the other modules of the package; this file calls them by name.
"""
import numpy as np

from . import errors, grad_mode
from .dtypes import as_array, floating, result_type, wrap_number


class Node:
    """A tensor's grad_fn: one recorded operation (PyTorch names it, e.g. MulBackward0)."""

    def __init__(self, name, backward, inputs, saved=()):
        self._name, self.backward = name, backward
        # where each input's gradient goes: its own grad_fn, or the leaf itself (if it requires grad)
        self.next = [t.grad_fn or (t if t.requires_grad else None) for t in inputs]
        self.input_shapes = [(t.array.shape, t.array.dtype) for t in inputs]
        self.saved = [(t, t._version) for t in saved if t is not None]  # checked before backward
        self.freed, self.retained = False, None  # retained: the tensor that asked for retain_grad()

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"


def make(array, grad_fn=None):
    """A new tensor holding array (no copy); a leaf unless grad_fn is given."""
    t = Tensor.__new__(Tensor)
    if type(array) is not np.ndarray:  # numpy gives scalars for 0-dim results; a tensor holds an array
        array = np.asarray(array)
    t.array, t.grad_fn, t._requires_grad, t._grad = array, grad_fn, grad_fn is not None, None
    t._versions, t._base = [0], None  # in-place changes counted, shared with views
    return t


def record(name, array, inputs, backward, saved=()):
    """The output of an operation: with a grad_fn if grad mode is on and an input requires grad."""
    if grad_mode.enabled and any(t.requires_grad for t in inputs):
        return make(array, Node(name, backward, inputs, saved))
    return make(array)


class Tensor:
    """An n-dimensional array of one dtype, and its place in the graph (``grad_fn``, ``.grad``)."""

    __array_ufunc__ = None  # numpy defers to the Tensor's reflected operators

    def __init__(self, *data, device=None):
        """torch.Tensor(data) or torch.Tensor(*sizes): the default float dtype (float32), as in PyTorch."""
        from .creation import legacy_tensor_array
        self.__dict__.update(make(legacy_tensor_array(data, device)).__dict__)

    requires_grad = property(lambda self: self._requires_grad)
    is_leaf = property(lambda self: self.grad_fn is None, doc="made by you, not by an operation")
    _version = property(lambda self: self._versions[0])

    @requires_grad.setter
    def requires_grad(self, flag):
        errors.check_requires_grad(self, flag)
        self._requires_grad = bool(flag)

    @property
    def grad(self):
        """dL/d(this tensor) after backward(): filled for leaves that require grad (None elsewhere)."""
        if self.grad_fn is not None and self.grad_fn.retained is not self:
            errors.warn_non_leaf_grad()
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = errors.check_grad_assignment(self, value)

    # ----- operations: the output, and a backward from dL/dout to each input's gradient -----
    def _operands(self, other):
        """(other as a Tensor, both arrays in the dtype PyTorch's promotion rules give)"""
        if not isinstance(other, Tensor):
            other = make(wrap_number(other, self.array))
        x, y = self.array, other.array
        if x.dtype != y.dtype:
            dtype = result_type(x, y)
            x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
        return other, x, y

    def __add__(self, other):
        other, x, y = self._operands(other)

        def backward(g):                # g: (shape of x + y)
            return g, g                 # the engine sums each back to x's and y's shape
        return record("AddBackward0", broadcast(np.add, x, y), (self, other), backward)

    def __mul__(self, other):
        other, x, y = self._operands(other)

        def backward(g):                # g: (shape of x * y)
            return g * y, g * x
        saved = (other if self.requires_grad else None, self if other.requires_grad else None)
        return record("MulBackward0", broadcast(np.multiply, x, y), (self, other), backward, saved)

    def __pow__(self, exponent):
        exponent, x, p = self._operands(exponent)
        errors.check_integer_power(x, p)
        out = power(x, p)

        def backward(g):                # g: (shape of out)
            with np.errstate(all="ignore"):
                dx = g * p * power(x, p - 1)
                dp = g * out * np.log(np.where(x == 0, 1, x)) if exponent.requires_grad else None
            return dx, dp
        name = "PowBackward1" if isinstance(exponent, Tensor) and exponent.array.ndim else "PowBackward0"
        return record(name, out, (self, exponent), backward, (self, exponent if exponent.requires_grad else None))

    def __matmul__(self, other):
        """Matrix product: (n, k) @ (k, m) -> (n, m); a 1-D left operand is a row, a 1-D right one a
        column (dropped from the result); leading axes broadcast (stacks of matrices)."""
        other = other if isinstance(other, Tensor) else make(as_array(other))
        a, b = self.array, other.array
        errors.check_matmul(a, b)
        a2, b2 = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)

        def backward(g):                # g: (..., n, m), with the 1-D axes dropped
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if a.ndim == 1 else g
            g = g[..., None] if b.ndim == 1 else g
            da = g @ np.swapaxes(b2, -1, -2)   # dL/dA = G B^T: (..., n, k)
            db = np.swapaxes(a2, -1, -2) @ g   # dL/dB = A^T G: (..., k, m)
            return sum_to(da, a2.shape).reshape(a.shape), sum_to(db, b2.shape).reshape(b.shape)
        name = {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0"}.get((a.ndim, b.ndim), "MatmulBackward0")
        saved = (other if self.requires_grad else None, self if other.requires_grad else None)
        return record(name, a @ b, (self, other), backward, saved)

    def sum(self, dim=None, keepdim=False, dtype=None):
        """Sum over dim (int or tuple; None: everything). Integers and bools sum to int64, as in PyTorch."""
        x = self.array if dtype is not None or self.array.dtype.kind == "f" else self.array.astype(np.int64)
        axis = tuple(dim) if isinstance(dim, (list, tuple)) else dim
        out = np.sum(x, axis=axis, keepdims=keepdim, dtype=None if dtype is None else as_array(0, dtype).dtype)

        def backward(g):                # g: (shape of x, without the summed axes unless keepdim)
            if axis is not None and not keepdim:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, x.shape),)
        return record("SumBackward0" if dim is None else "SumBackward1", np.asarray(out), (self,), backward)

    # ----- backpropagation -----
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Add d(self)/d(leaf) into leaf.grad for every leaf that requires grad (gradient: dL/dself,
        shaped like self; optional for a one-element self). Frees the graph unless retain_graph."""
        if inputs is not None:
            raise errors.not_implemented("backward(inputs=...)", "use torch.autograd.grad")
        run_backward([self], [errors.root_gradient(self, gradient, create_graph)], bool(retain_graph), True)


def broadcast(ufunc, x, y):
    """ufunc(x, y), with PyTorch's error when the shapes do not broadcast."""
    try:
        return ufunc(x, y)
    except ValueError:
        raise errors.broadcast_error(x.shape, y.shape) from None


def power(x, p):
    """x ** p, by PyTorch's kernels for the common exponents (x*x for 2, x*x*x for 3), so that the
    values agree with it to the last bit; 0 ** -1 is inf, quietly, as in PyTorch."""
    if p.ndim == 0 and p == 2:
        return x * x
    if p.ndim == 0 and p == 3:
        return x * x * x
    with np.errstate(all="ignore"):
        return broadcast(np.power, x, p)


def sum_to(g, shape):
    """g summed over the axes that broadcasting added or stretched, so that it has `shape`."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True)


def topological_order(roots):
    """Every node reachable from roots, each before the nodes of its inputs (micrograd's build_topo
    reversed, with an explicit stack instead of recursion)."""
    order, visited, stack = [], set(), [(node, False) for node in roots]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((n, False) for n in node.next if isinstance(n, Node) and n not in visited)
    return order[::-1]


def run_backward(outputs, output_grads, retain_graph, accumulate):
    """Walk the graph from outputs: {node or leaf: dL/d(it)}. With accumulate (backward(), not
    autograd.grad()), leaves that require grad and retained tensors add theirs into .grad."""
    grads = {}
    for t, g in zip(outputs, output_grads):
        key = t.grad_fn or t
        grads[key] = grads[key] + g if key in grads else g
    with np.errstate(all="ignore"):
        for node in topological_order([k for k in grads if isinstance(k, Node)]):
            g = grads.get(node)
            if g is None:
                continue
            if accumulate and node.retained is not None:
                node.retained._accumulate_grad(g)
            if node.saved:
                errors.check_saved(node)
            input_grads = node.backward(g)
            node.freed = bool(node.saved) and not retain_graph
            for edge, (shape, dtype), gi in zip(node.next, node.input_shapes, input_grads):
                if edge is not None and gi is not None:
                    gi = sum_to(np.asarray(gi), shape).astype(dtype, copy=False)
                    grads[edge] = grads[edge] + gi if edge in grads else gi
    if accumulate:
        for leaf, g in grads.items():
            if isinstance(leaf, Tensor):
                leaf._accumulate_grad(g)
    return grads
