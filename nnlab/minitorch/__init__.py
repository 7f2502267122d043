"""minitorch: a small reverse-mode autodiff engine on numpy, spelled like PyTorch.

    import nnlab.minitorch as torch
    w = torch.tensor([[1.0, 2.0]], requires_grad=True)   # (1, 2)
    x = torch.ones(2, 1)                                  # column vector (2, 1)
    loss = (w @ x).pow(2).sum()
    loss.backward()                                       # w.grad: (1, 2), shaped like w

Modules, in reading order: tensor.py (the Tensor and backward), ops.py
(sin, exp, log, relu, tanh, sigmoid, log_softmax), autograd.py (custom Functions),
creation.py (tensor, zeros, ..., dtypes, device).
"""
from . import autograd
from .creation import bool_, device, float32, float64, full, int64, linspace, ones, tensor, zeros
from .ops import exp, log, log_softmax, matmul, relu, sigmoid, sin, tanh
from .tensor import Tensor, is_grad_enabled, no_grad

float = float32  # as in torch: torch.float is float32
double = float64
long = int64

__all__ = [
    "Tensor", "tensor", "full", "zeros", "ones", "linspace",
    "sin", "exp", "log", "relu", "tanh", "sigmoid", "matmul", "log_softmax",
    "no_grad", "is_grad_enabled", "autograd", "device",
    "float", "float32", "float64", "double", "int64", "long", "bool_",
]
