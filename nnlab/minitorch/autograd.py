"""Custom operations with a hand-written backward, as ``torch.autograd.Function``, and
``torch.autograd.grad``.

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

forward and backward both run under no_grad(): they compute values, and the engine records
the whole Function as one node of the graph (named SquareBackward, as PyTorch names it).
"""
import numpy as np

from . import errors
from .engine import Tensor, make, record, run_backward
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


class FunctionCtx:
    """The ``ctx`` passed to forward and backward: a place to keep what backward needs."""

    _saved, _node = (), None

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward; refused after backward() freed them (retain_graph
        keeps them) or after one was modified in place, as in PyTorch."""
        if self._node is not None:
            errors.check_saved(self._node)
        return self._saved

    def mark_non_differentiable(self, *args):
        raise errors.not_implemented("ctx.mark_non_differentiable")

    def mark_dirty(self, *args):
        raise errors.not_implemented("ctx.mark_dirty (in-place custom Functions)")

    def set_materialize_grads(self, value):
        raise errors.not_implemented("ctx.set_materialize_grads")


class Function:
    """Subclass it and write static ``forward(ctx, *inputs)`` and ``backward(ctx, grad_output)``.

    backward returns one gradient per forward input (a Tensor shaped like that input, or None
    when none is needed: ``ctx.needs_input_grad[i]`` says which), as a tuple when there are several.
    """

    @staticmethod
    def forward(ctx, *inputs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on the inputs and return its output as one node of the graph."""
        if kwargs:
            raise errors.not_implemented("keyword arguments to Function.apply")
        if "setup_context" in vars(cls):
            raise errors.not_implemented("Function.setup_context (forward without ctx)")
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            result = cls.forward(ctx, *args)
        if isinstance(result, (tuple, list)):
            raise errors.not_implemented("a custom Function with several outputs")
        if not isinstance(result, Tensor):
            return result
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        name = f"{cls.__name__}Backward"

        def backward(g):                # g: (shape of the output) -> one gradient per tensor input
            with no_grad():
                grads = cls.backward(ctx, make(g))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) > len(args) and all(g is None for g in grads[len(args):]):
                grads = grads[:len(args)]  # extra Nones are allowed, as in PyTorch
            if len(grads) != len(args):
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(grads)})")
            grads = [grad.array if isinstance(grad, Tensor) else grad for grad in grads]
            for i, grad in enumerate(grads):
                if grad is not None and i not in positions:
                    raise RuntimeError(f"function {name} returned a gradient different than None at position "
                                       f"{i + 1}, but the corresponding forward input was not a Variable")
                if grad is not None and not _expandable(np.shape(grad), args[i].array.shape):
                    raise RuntimeError(f"Function {name} returned an invalid gradient at index {i} - got "
                                       f"{errors.size(np.shape(grad))} but expected shape compatible with "
                                       f"{errors.size(args[i].array.shape)}")
            return [None if grads[i] is None else np.asarray(grads[i]) for i in positions]

        out = record(name, result.array, [args[i] for i in positions], backward,
                     [t for t in ctx._saved if t is not None])
        out._versions = result._versions  # the output is forward's tensor, as PyTorch returns it
        ctx._node = out.grad_fn
        return out


def _expandable(shape, target):
    """Does the input's shape `target` broadcast to the gradient's `shape` (so the gradient sums back)?"""
    try:
        return np.broadcast_shapes(target, shape) == tuple(shape)
    except ValueError:
        return False


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """(dL/d input for each input), without touching any .grad; L = sum of outputs (each weighted by its
    grad_outputs entry). The graph is freed unless retain_graph=True, as in backward()."""
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    roots = [errors.root_gradient(t, g, create_graph, i) for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    keys = [t.grad_fn or t for t in inputs]  # before backward: in-place changes would move grad_fn
    grads = run_backward(outputs, roots, bool(retain_graph), False)
    result = []
    for i, (t, key) in enumerate(zip(inputs, keys)):
        if key not in grads:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired behavior.")
            result.append(make(np.zeros_like(t.array)) if materialize_grads else None)
        else:
            result.append(make(np.array(grads[key], dtype=t.array.dtype)))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """torch.autograd.backward: as tensor.backward(), for several outputs at once (their sum)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors)
    roots = [errors.root_gradient(t, g, create_graph, i, inputs) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    run_backward(tensors, roots, bool(retain_graph), True)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module 'nnlab.minitorch.autograd' has no attribute '{name}': torch.autograd.{name} is "
                         f"part of PyTorch that minitorch does not implement")


__all__ = ["Function", "FunctionCtx", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled"]
