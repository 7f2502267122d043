"""minitorch: a small reverse-mode autodiff engine on numpy that behaves like a subset of PyTorch.

    import nnlab.minitorch as torch
    w = torch.tensor([[1.0, 2.0]], requires_grad=True)   # (1, 2)
    x = torch.ones(2, 1)                                  # column vector (2, 1)
    loss = (w @ x).pow(2).sum()
    loss.backward()                                       # w.grad: (1, 2), shaped like w

Where it implements something, it behaves as PyTorch does (values, shapes, dtypes, the errors it
raises); where it does not, it raises NotImplementedError or AttributeError naming the feature.

Modules, in reading order: engine.py (the autodiff core: Tensor, the graph, backward,
add/mul/pow/matmul/sum), then the PyTorch-compatibility layer: dtypes.py (dtypes and
promotion), errors.py (PyTorch's guards and messages), grad_mode.py (no_grad), ops.py (the
other operations), tensor_api.py (the rest of the Tensor API), creation.py (tensor, zeros,
randn, ...), autograd.py (custom Functions, autograd.grad).
"""
from . import autograd, tensor_api  # noqa: F401  (tensor_api completes the Tensor class)
from .creation import (Generator, arange, as_tensor, device, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, manual_seed, normal, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, seed, tensor, zeros, zeros_like)
from .dtypes import (bool_, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
                     set_default_dtype, uint8)
from .engine import Tensor
from .errors import not_implemented
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import (abs, allclose, argmax, argmin, cat, clamp, clone, cos, dot, equal, exp, flatten, isclose, log,
                  log_softmax, matmul, max, maximum, mean, min, minimum, mm, norm, permute, relu, reshape, sigmoid,
                  sign, sin, softmax, sqrt, square, squeeze, stack, std, t, tanh, transpose, unsqueeze, var, where)
from .tensor_api import Size


def _tensor_arguments(function, name, count=1):
    """function, refusing what is not a Tensor in its first `count` arguments, as PyTorch does."""
    def checked(*args, **kwargs):
        for position, (argument, role) in enumerate(zip(args[:count], ("input", "other"))):
            if not isinstance(argument, Tensor):
                raise TypeError(f"{name}(): argument '{role}' (position {position + 1}) must be Tensor, "
                                f"not {type(argument).__name__}")
        return function(*args, **kwargs)
    checked.__name__, checked.__doc__ = name, function.__doc__
    return checked


for _name in ("abs", "argmax", "argmin", "clamp", "clone", "cos", "exp", "flatten", "log", "log_softmax", "max",
              "mean", "min", "norm", "permute", "relu", "reshape", "sigmoid", "sign", "sin", "softmax", "sqrt",
              "square", "squeeze", "std", "t", "tanh", "transpose", "unsqueeze", "var"):
    globals()[_name] = _tensor_arguments(globals()[_name], _name)
for _name in ("matmul", "mm", "dot", "maximum", "minimum"):
    globals()[_name] = _tensor_arguments(globals()[_name], _name, count=2)

clip = clamp
neg = negative = tensor_api.ops.neg
sub, div = tensor_api.ops.sub, tensor_api.ops.div
float = float32  # as in PyTorch: torch.float is float32, torch.double float64, torch.long int64
double = float64
half = float16
long = int64
int = int32
bool = bool_  # noqa: A001  (PyTorch's name)


def add(input, other):
    return input + other


def mul(input, other):
    return input * other


def pow(input, exponent):
    return input ** exponent


def sum(input, dim=None, keepdim=False, dtype=None):
    return input.sum(dim, keepdim, dtype=dtype)


for _name in ("add", "mul", "pow", "sum"):
    globals()[_name] = _tensor_arguments(globals()[_name], _name)
sub, div, neg = (_tensor_arguments(f, n) for f, n in ((sub, "sub"), (div, "div"), (neg, "neg")))
negative = neg


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


class cuda:
    """torch.cuda, as on a machine without a GPU: minitorch computes on the CPU only."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0


def __getattr__(name):
    """A PyTorch name that minitorch leaves out: an AttributeError that says so."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module 'nnlab.minitorch' has no attribute '{name}': torch.{name} is part of PyTorch "
                         f"that minitorch does not implement (it covers tensors, autograd and a few dozen operations)")
