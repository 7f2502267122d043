"""Elementwise functions and log_softmax, in the same pattern as the Tensor operators:
compute the output, then a closure that multiplies dL/dout by the local derivative
f'(x) (identity (4) of the lessons: the Jacobian of an elementwise f is diag(f'(x)))
and accumulates it into the input's .grad.  Any shape.
"""
import numpy as np

from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def sin(input):
    """sin(x); d/dx = cos(x)."""
    x = _tensor(input)
    out = Tensor._result(np.sin(x.data), (x,), "sin")
    out._backward = lambda: x._accumulate(out.grad.data * np.cos(x.data))
    return out


def exp(input):
    """exp(x); d/dx = exp(x), which is the output itself."""
    x = _tensor(input)
    out = Tensor._result(np.exp(x.data), (x,), "exp")
    out._backward = lambda: x._accumulate(out.grad.data * out.data)
    return out


def log(input):
    """Natural log; d/dx = 1/x."""
    x = _tensor(input)
    out = Tensor._result(np.log(x.data), (x,), "log")
    out._backward = lambda: x._accumulate(out.grad.data / x.data)
    return out


def relu(input):
    """max(x, 0); d/dx = 1 where x > 0, else 0 (0 at the kink, as torch)."""
    x = _tensor(input)
    out = Tensor._result(np.maximum(x.data, 0), (x,), "relu")
    out._backward = lambda: x._accumulate(out.grad.data * (x.data > 0))
    return out


def tanh(input):
    """tanh(x); d/dx = 1 - tanh(x)**2."""
    x = _tensor(input)
    out = Tensor._result(np.tanh(x.data), (x,), "tanh")
    out._backward = lambda: x._accumulate(out.grad.data * (1 - out.data ** 2))
    return out


def sigmoid(input):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2 so it never overflows; d/dx = s (1 - s)."""
    x = _tensor(input)
    out = Tensor._result(0.5 * (1 + np.tanh(0.5 * x.data)), (x,), "sigmoid")
    out._backward = lambda: x._accumulate(out.grad.data * out.data * (1 - out.data))
    return out


def matmul(input, other):
    """input @ other (numpy's matmul rules; see Tensor.__matmul__)."""
    return _tensor(input) @ other


def log_softmax(input, dim):
    """log softmax along dim: x - log(sum(exp(x), dim)).

    Built from sum/exp/log, so its gradient comes from theirs. Subtracting the
    max first (a constant, so no gradient flows through it) keeps exp from
    overflowing; logits of +-1e4 stay finite.
    """
    x = _tensor(input)
    shifted = x - Tensor(np.max(x.data, axis=dim, keepdims=True))
    return shifted - log(exp(shifted).sum(dim=dim, keepdim=True))
