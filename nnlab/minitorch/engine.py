"""The autodiff core of minitorch, read top to bottom like micrograd. A Tensor holds its values in
``array``; an operation on tensors that require grad gives its output a ``grad_fn``, a Node holding
the operation's backward: a plain function from dL/dout to (dL/dinput, ...). ``backward()`` orders
the nodes, each before those of its inputs, walks them and adds up the gradients; leaves get theirs
in ``.grad``. PyTorch's other rules (dtypes, errors, guards, more operations) are in other modules.
"""
import numpy as np

from . import errors, grad_mode
from .dtypes import as_array, power, promote, to_numpy_dtype, wrap_number
from .errors import broadcast


class Node:
    """A tensor's grad_fn: one recorded operation, named as PyTorch names it (MulBackward0, ...)."""

    def __init__(self, name, backward, inputs, saved=()):
        self._name, self.backward = name, backward
        # where each input's gradient goes: its own grad_fn, or the leaf itself if it requires grad
        self.next = [t.grad_fn or (t if t._requires_grad else None) for t in inputs]
        self.input_shapes = [(t.array.shape, t.array.dtype) for t in inputs]
        self.saved = [(t, t._versions[0]) for t in saved if t is not None]  # checked before backward
        self.freed, self.retained = False, None  # retained: the tensor that called retain_grad()


def make(array, grad_fn=None):
    """A tensor holding array (not a copy); a leaf unless grad_fn is given."""
    t = Tensor.__new__(Tensor)
    t.array = array if type(array) is np.ndarray else np.asarray(array)  # numpy scalars become 0-dim arrays
    t.grad_fn, t._requires_grad, t._grad = grad_fn, grad_fn is not None, None
    t._versions, t._base = [0], None  # the in-place change counter, shared with views
    return t


def record(name, array, inputs, backward, saved=()):
    """An operation's output: with a grad_fn if grad mode is on and some input requires grad."""
    if grad_mode.enabled and any([t._requires_grad for t in inputs]):
        return make(array, Node(name, backward, inputs, saved))
    return make(array)


class Tensor:
    """An array and its place in the graph (requires_grad, grad: properties in tensor_api.py)."""

    __array_ufunc__ = None  # numpy leaves `number * tensor` to the Tensor
    is_leaf = property(lambda self: self.grad_fn is None, doc="made by you, not by an operation")

    def _operands(self, other):
        """(other as a Tensor, both arrays in the dtype of PyTorch's promotion rules)"""
        other = other if isinstance(other, Tensor) else make(wrap_number(other, self.array))
        return (other, *promote(self.array, other.array))

    def __add__(self, other):
        other, x, y = self._operands(other)

        def backward(g):                # g: (shape of x + y)
            return g, g                 # the engine sums each back to its input's shape
        return record("AddBackward0", broadcast(np.add, x, y), (self, other), backward)

    def __mul__(self, other):
        other, x, y = self._operands(other)

        def backward(g):                # g: (shape of x * y)
            return g * y, g * x
        saved = (other if self.requires_grad else None, self if other.requires_grad else None)
        return record("MulBackward0", broadcast(np.multiply, x, y), (self, other), backward, saved)

    def __pow__(self, exponent):
        errors.check_power(self, exponent)
        exponent, x, p = self._operands(exponent)
        out = power(x, p)

        def backward(g):                # g: (shape of out); d(x**p)/dx = p x**(p-1), d/dp = x**p log x
            dp = g * out * np.log(np.where(x == 0, 1, x)) if exponent.requires_grad else None
            return g * p * power(x, p - 1), dp
        name = "PowBackward1" if exponent.array.ndim else "PowBackward0"
        return record(name, out, (self, exponent), backward, (self, exponent if exponent.requires_grad else None))

    def __matmul__(self, other):
        """(n, k) @ (k, m) -> (n, m); a 1-D operand is a row (left) or column (right); stacks broadcast."""
        other = other if isinstance(other, Tensor) else make(as_array(other))
        a, b = self.array, other.array
        errors.check_matmul(a, b)
        a2, b2 = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)

        def backward(g):                # g: (..., n, m), without the axes of 1-D operands
            g = g[..., None] if b.ndim == 1 else g
            g = g[..., None, :] if a.ndim == 1 else g
            da = g @ np.swapaxes(b2, -1, -2)   # dL/dA = G B^T: (..., n, k)
            db = np.swapaxes(a2, -1, -2) @ g   # dL/dB = A^T G: (..., k, m)
            return sum_to(da, a2.shape).reshape(a.shape), sum_to(db, b2.shape).reshape(b.shape)
        name = {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0"}.get((a.ndim, b.ndim))
        saved = (other if self.requires_grad else None, self if other.requires_grad else None)
        return record(name or "MatmulBackward0", a @ b, (self, other), backward, saved)

    def sum(self, dim=None, keepdim=False, dtype=None):
        """Sum over dim (int or tuple; None: all). Integers and bools sum to int64, as in PyTorch."""
        x = self.array if self.array.dtype.kind == "f" else self.array.astype(np.int64)
        axis = tuple(dim) if isinstance(dim, (list, tuple)) else dim
        out = x.sum(axis=axis, keepdims=keepdim, dtype=None if dtype is None else to_numpy_dtype(dtype))

        def backward(g):                # g: (shape of x, without the summed axes unless keepdim)
            return (np.broadcast_to(g if axis is None or keepdim else np.expand_dims(g, axis), x.shape),)
        return record("SumBackward0" if dim is None else "SumBackward1", out, (self,), backward)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Add d(self)/d(leaf) into the .grad of every leaf that requires grad; gradient is dL/dself
        (optional for a one-element self). Frees the graph's saved tensors unless retain_graph."""
        run_backward([self], [errors.root_gradient(self, gradient, create_graph, inputs=inputs)],
                     bool(retain_graph), True)


def sum_to(g, shape):
    """g summed over the axes that broadcasting added or stretched, so that it has `shape`."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True)


def topological_order(roots):
    """Every node reachable from roots, each before the nodes of its inputs (micrograd's build_topo,
    reversed, with a stack instead of recursion)."""
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
    """Walk the graph from outputs, returning {node or leaf: dL/d(it)}. With accumulate (backward(), not
    autograd.grad()), leaves that require grad and retained tensors add theirs into .grad."""
    grads = {}
    for t, g in zip(outputs, output_grads):
        key = t.grad_fn or t
        grads[key] = grads[key] + g if key in grads else g
    with np.errstate(all="ignore"):  # inf and nan pass quietly, as in PyTorch
        for node in topological_order([key for key in grads if isinstance(key, Node)]):
            g = grads.get(node)
            if g is None:
                continue
            if accumulate and node.retained is not None:
                node.retained._accumulate_grad(g)
            if node.saved:
                errors.check_saved(node)  # freed by an earlier backward(), or changed in place since saved?
            input_grads = node.backward(g)
            node.freed = bool(node.saved) and not retain_graph
            for edge, (shape, dtype), gi in zip(node.next, node.input_shapes, input_grads):
                if edge is not None and gi is not None:
                    gi = gi if type(gi) is np.ndarray else np.asarray(gi)
                    gi = (gi if gi.shape == shape else sum_to(gi, shape)).astype(dtype, copy=False)
                    grads[edge] = grads[edge] + gi if edge in grads else gi
    for leaf, g in grads.items() if accumulate else ():
        if isinstance(leaf, Tensor):
            leaf._accumulate_grad(g)
    return grads
