"""Custom operations with a hand-written backward, as ``torch.autograd.Function``.

    class Square(Function):
        @staticmethod
        def forward(ctx, x):              # x: Tensor, any shape
            ctx.save_for_backward(x)
            return x * x
        @staticmethod
        def backward(ctx, grad_output):   # grad_output = dL/dout, shaped like out
            x, = ctx.saved_tensors
            return grad_output * 2 * x    # dL/dx, shaped like x

    y = Square.apply(x)

forward and backward both run under no_grad(): they compute values, and the
engine records the single Function node itself.
"""
import numpy as np

from .tensor import Tensor, no_grad, is_grad_enabled


class FunctionCtx:
    """The ``ctx`` passed to forward and backward: a place to keep what backward needs."""

    saved_tensors = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    """Subclass it and write static ``forward(ctx, *inputs)`` and ``backward(ctx, grad_output)``.

    backward returns one gradient per forward input (a Tensor shaped like that
    input, or None when no gradient is needed), as a tuple when there are several.
    """

    @staticmethod
    def forward(ctx, *inputs):
        raise NotImplementedError("write forward(ctx, ...) in your Function subclass")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("write backward(ctx, grad_output) in your Function subclass")

    @classmethod
    def apply(cls, *inputs):
        """Run forward on the inputs and return its output as one node of the graph."""
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        with no_grad():
            result = cls.forward(ctx, *inputs)
        if isinstance(result, (tuple, list)):
            raise TypeError(f"{cls.__name__}.forward returned {len(result)} values; minitorch Functions return one Tensor")
        tensors = tuple(t for t in inputs if isinstance(t, Tensor))
        out = Tensor._result(result.data if isinstance(result, Tensor) else result, tensors, cls.__name__)

        def _backward():
            with no_grad():
                grads = cls.backward(ctx, Tensor(out.grad.data))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(inputs):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradient(s); "
                                   f"forward takes {len(inputs)} input(s): return one per input (None for no gradient)")
            for t, grad in zip(inputs, grads):
                if isinstance(t, Tensor) and grad is not None:
                    t._accumulate(grad.data if isinstance(grad, Tensor) else np.asarray(grad))
        out._backward = _backward
        return out


__all__ = ["Function", "FunctionCtx", "no_grad", "is_grad_enabled"]
