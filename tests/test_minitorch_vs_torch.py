"""nnlab.minitorch against PyTorch, as a second implementation.

Each case is a small program written against PyTorch's documented API, with the engine passed in
as `torch`. It runs on both engines and must give the same outcome: the same values (to float32
precision), shapes, dtypes, requires_grad / is_leaf flags and grad_fn names, or the same type of
exception. The longer programs (an MLP trained by hand, the notes' Legendre fit, custom Functions,
autograd.grad, retain_grad, masking) run unchanged on both and must print the same numbers.

Skipped, with the reason, when PyTorch is not installed (it is an optional test oracle).
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

torch = pytest.importorskip("torch", reason="PyTorch (the second implementation these tests compare with) "
                                            "is not installed; a CPU build is enough")
import nnlab.minitorch as mt  # noqa: E402

RTOL, ATOL = 2e-6, 1e-6  # float32 precision: summation order may differ in the last bits


# ----- running a program on both engines -----
def builtin_exception(exc):
    """The first built-in class of an exception (PyTorch raises subclasses such as torch.AcceleratorError)."""
    return next(c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins")


def describe(value, engine):
    """A comparable description of a program's result on `engine` (torch or minitorch)."""
    if isinstance(value, engine.Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grad = value.grad if value.is_leaf or value.retains_grad else None
        return {"tensor": np.array(value.detach().numpy()), "dtype": str(value.dtype), "shape": tuple(value.shape),
                "shape type": type(value.shape).__name__, "requires_grad": value.requires_grad,
                "is_leaf": value.is_leaf, "grad_fn": None if value.grad_fn is None else value.grad_fn.name(),
                "grad": None if grad is None else describe(grad, engine)}
    if isinstance(value, engine.Size):
        return ("Size", tuple(value))
    if isinstance(value, engine.dtype):
        return ("dtype", str(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__ if type(value) in (tuple, list) else "namedtuple",
                [describe(v, engine) for v in value])
    if isinstance(value, dict):
        return {k: describe(v, engine) for k, v in value.items()}
    if isinstance(value, (bool, int, float, str, type(None), np.ndarray)):
        return value
    raise TypeError(f"cannot describe a {type(value).__name__}")


def run(program, engine):
    try:
        return describe(program(engine), engine)
    except Exception as exc:  # the outcome to compare is the exception's type
        return ("raises", builtin_exception(exc))


def assert_same(ours, theirs, where="result"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), f"{where}: {ours} vs {theirs}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, tuple) and theirs and theirs[0] == "raises":
        assert ours == theirs, f"{where}: minitorch gives {ours}, PyTorch {theirs}"
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{where}: {ours} vs {theirs}"
        for k, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, f"{where}[{k}]")
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape, f"{where}: {ours} vs {theirs}"
        if theirs.dtype.kind == "f":
            np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, float) and isinstance(ours, float):
        assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL, nan_ok=True), f"{where}: {ours} vs {theirs}"
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: minitorch {ours!r}, PyTorch {theirs!r}"


def same_on_both(program):
    theirs = run(program, torch)
    ours = run(program, mt)
    assert_same(ours, theirs)
    return theirs


def data(rows, cols, seed=0, scale=1.0):
    """Deterministic test values (lists, so that each engine builds its own float32 tensor)."""
    return (np.random.default_rng(seed).normal(size=(rows, cols)) * scale).round(3).tolist()


# ----- one-line programs: creation, dtypes, operations, gradients, errors -----
def backward_twice(t, make):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = make(x)
    y.backward()
    y.backward()
    return x.grad


def grad_of(t, f, values=(0.5, -1.5, 2.0, 0.0)):
    x = t.tensor(list(values), requires_grad=True)
    f(t, x).sum().backward()
    return x.grad


CASES = {
    # dtypes of creation and promotion
    "tensor of floats": lambda t: t.tensor([1.0]),
    "tensor of ints": lambda t: t.tensor([1, 2]),
    "tensor of bools": lambda t: t.tensor([True, False]),
    "tensor mixed int/float": lambda t: t.tensor([1, 2.5]),
    "tensor of numpy float64": lambda t: t.tensor(np.array([1.0, 2.0])),
    "tensor of numpy float32": lambda t: t.tensor(np.array([1.0, 2.0], dtype=np.float32)),
    "tensor of numpy int32": lambda t: t.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor of numpy scalar": lambda t: t.tensor(np.float64(1.5)),
    "tensor scalar": lambda t: t.tensor(3.5),
    "tensor dtype=float": lambda t: t.tensor([1], dtype=float),
    "tensor dtype=torch.double": lambda t: t.tensor([1], dtype=t.double),
    "tensor requires_grad int": lambda t: t.tensor([1, 2], requires_grad=True),
    "Tensor(list of ints)": lambda t: t.Tensor([1, 2]),
    "Tensor(numpy float64)": lambda t: t.Tensor(np.array([1.5, 2.0])),
    "Tensor(sizes)": lambda t: t.Tensor(2, 3).shape,
    "Tensor()": lambda t: t.Tensor(),
    "Tensor(float)": lambda t: t.Tensor(2.5),
    "int * 0.5": lambda t: t.tensor([1, 2]) * 0.5,
    "0.5 * int": lambda t: 0.5 * t.tensor([1, 2]),
    "int * 2": lambda t: t.tensor([1, 2]) * 2,
    "int / 2": lambda t: t.tensor([1, 2]) / 2,
    "int / int": lambda t: t.tensor([3, 4]) / t.tensor([2, 8]),
    "int + float32 tensor": lambda t: t.tensor([1, 2]) + t.tensor([0.5, 0.25]),
    "float32 + float64": lambda t: t.tensor([1.0]) + t.tensor([2.0], dtype=t.float64),
    "float32 vec + float64 scalar tensor": lambda t: t.tensor([1.0, 2.0]) + t.tensor(2.0, dtype=t.float64),
    "int vec * float64 scalar tensor": lambda t: t.tensor([1, 2]) * t.tensor(1.5, dtype=t.float64),
    "int32 + int64": lambda t: t.tensor([1], dtype=t.int32) + t.tensor([1]),
    "bool + 1": lambda t: t.tensor([True, False]) + 1,
    "bool + True": lambda t: t.tensor([True, False]) + True,
    "float32 * numpy float64 scalar": lambda t: t.ones(2) * np.float64(2.5),
    "numpy scalar on the left": lambda t: (np.float64(2.0) * t.ones(2), np.int64(2) - t.ones(2),
                                           np.float32(1) / t.ones(2)),
    "numpy array on the right": lambda t: t.ones(2) * np.ones(2),
    "numpy array on the left": lambda t: np.ones(2) * t.ones(2),
    "numpy array on the left of @": lambda t: np.ones(2) @ t.ones(2),
    "int ** 2": lambda t: t.tensor([1, 2]) ** 2,
    "int ** 2.0": lambda t: t.tensor([1, 2]) ** 2.0,
    "int ** -1": lambda t: t.tensor([1, 2]) ** -1,
    "2 ** float": lambda t: 2 ** t.tensor([1.0, 3.0]),
    "int exp": lambda t: t.tensor([1, 2]).exp(),
    "int sqrt": lambda t: t.tensor([1, 4]).sqrt(),
    "int abs": lambda t: t.tensor([-1, 2]).abs(),
    "int relu": lambda t: t.tensor([-1, 2]).relu(),
    "int clamp(min=0.5)": lambda t: t.tensor([-1, 2]).clamp(min=0.5),
    "int clamp(min=0)": lambda t: t.tensor([-1, 2]).clamp(min=0),
    "int sum": lambda t: t.tensor([1, 2]).sum(),
    "int32 sum": lambda t: t.tensor([1, 2], dtype=t.int32).sum(),
    "bool sum": lambda t: t.tensor([True, True, False]).sum(),
    "float sum": lambda t: t.tensor([1.5, 2.0]).sum(),
    "int mean": lambda t: t.tensor([1, 2]).mean(),
    "float mean": lambda t: t.tensor([1.0, 2.0]).mean(),
    "mean dim keepdim": lambda t: t.tensor(data(3, 4)).mean(dim=1, keepdim=True),
    "sum dim tuple": lambda t: t.tensor(data(3, 4)).sum(dim=(0, 1)),
    "sum dim list": lambda t: t.tensor(data(3, 4)).sum([0]),
    "int max": lambda t: t.tensor([3, 1, 2]).max(),
    "float max": lambda t: t.tensor([3.0, 1.0, 2.0]).max(),
    "max dim": lambda t: tuple(t.tensor(data(3, 4)).max(dim=1)),
    "max dim keepdim": lambda t: tuple(t.tensor(data(3, 4)).max(1, keepdim=True)),
    "max of two": lambda t: t.max(t.tensor([1.0, 5.0]), t.tensor([2.0, 3.0])),
    "min": lambda t: t.tensor([3.0, 1.0, 2.0]).min(),
    "argmax": lambda t: t.tensor(data(3, 4)).argmax(dim=1),
    "argmax all": lambda t: t.tensor(data(3, 4)).argmax(),
    "where": lambda t: t.where(t.tensor([1.0, -2.0]) > 0, t.tensor([1.0, -2.0]), 0.0),
    "where int and float": lambda t: t.where(t.tensor([True, False]), t.tensor([1, 2]), 0.5),
    "where dtype int": lambda t: t.where(t.tensor([True, False]), t.tensor([1, 2]), 0),
    "where of two numbers": lambda t: (t.where(t.tensor([True, False]), 1.0, 2.0), t.where(t.tensor([True]), 1, 2),
                                       t.where(t.tensor([[True], [False]]), 1, 2.5)),
    "functions refuse numbers": lambda t: t.exp(2.0),
    "sum refuses a list": lambda t: t.sum([1.0, 2.0]),
    "matmul refuses a list": lambda t: t.matmul(t.ones(2), [1.0, 2.0]),
    "np.asarray of a tensor that requires grad": lambda t: np.asarray(t.ones(2, requires_grad=True)),
    "np.asarray of a detached tensor": lambda t: np.asarray(t.ones(2, requires_grad=True).detach()),
    "comparison dtype": lambda t: t.tensor([1.0, 2.0]) > 1.5,
    "comparison int float": lambda t: t.tensor([1, 2]) == 1.0,
    "equal to None": lambda t: t.tensor([1.0]) == None,  # noqa: E711
    "bool mask and": lambda t: (t.tensor([1.0, 2.0, 3.0]) > 1) & (t.tensor([1.0, 2.0, 3.0]) < 3),
    "bool mask not": lambda t: ~(t.tensor([1.0, 2.0]) > 1),
    "all/any": lambda t: ((t.ones(2) > 0).all(), (t.ones(2) < 0).any()),
    # creation functions
    "zeros": lambda t: t.zeros(2, 3),
    "zeros tuple": lambda t: t.zeros((2, 3), dtype=t.float64),
    "ones int": lambda t: t.ones(2, dtype=t.long),
    "full float": lambda t: t.full((2,), 1.5),
    "full int": lambda t: t.full((2,), 3),
    "full bool": lambda t: t.full((2,), True),
    "full scalar": lambda t: t.full((), 0.3, requires_grad=True),
    "zeros_like": lambda t: t.zeros_like(t.tensor([1, 2])),
    "ones_like float64": lambda t: t.ones_like(t.tensor([1.0], dtype=t.float64)),
    "ones_like dtype": lambda t: t.ones_like(t.tensor([1, 2]), dtype=t.float32),
    "full_like": lambda t: t.full_like(t.zeros(2), 7),
    "arange int": lambda t: t.arange(5),
    "arange start stop": lambda t: t.arange(2, 7),
    "arange float step": lambda t: t.arange(0, 1, 0.25),
    "arange float end": lambda t: t.arange(3.0),
    "arange dtype": lambda t: t.arange(4, dtype=t.float32),
    "arange negative step": lambda t: t.arange(5, 0, -2),
    "linspace": lambda t: t.linspace(-math.pi, math.pi, 7),
    "linspace float64": lambda t: t.linspace(0, 1, 5, dtype=t.float64),
    "eye": lambda t: t.eye(3),
    "randn shape dtype": lambda t: (t.manual_seed(0), t.randn(2, 3).shape, t.randn(2, 3).dtype)[1:],
    "randn requires_grad": lambda t: t.randn(2, requires_grad=True).requires_grad,
    "randn float64": lambda t: t.randn((2,), dtype=t.float64).dtype,
    "rand range": lambda t: bool(((t.rand(100) >= 0) & (t.rand(100) < 1)).all()),
    "randint": lambda t: (t.randint(0, 5, (3,)).dtype, t.randint(0, 5, (3,)).shape, int(t.randint(3, 4, (1,)))),
    "randn_like": lambda t: t.randn_like(t.zeros(2, 2, dtype=t.float64)).dtype,
    "manual_seed repeats": lambda t: bool((t.manual_seed(3), t.rand(3))[1].eq((t.manual_seed(3), t.rand(3))[1]).all()),
    "get_default_dtype": lambda t: t.get_default_dtype(),
    "dtype reprs": lambda t: [str(d) for d in (t.float, t.double, t.long, t.int, t.bool, t.float32, t.int64)],
    "is_floating_point": lambda t: [t.float32.is_floating_point, t.int64.is_floating_point,
                                    t.ones(1).is_floating_point()],
    # tensor attributes and conversions
    "shape is Size": lambda t: t.ones(2, 3).shape,
    "shape equals tuple": lambda t: t.ones(2, 3).shape == (2, 3),
    "size()": lambda t: (t.ones(2, 3).size(), t.ones(2, 3).size(1), t.ones(2, 3).size(-1)),
    "dim numel": lambda t: (t.ones(2, 3).dim(), t.ones(2, 3).numel(), t.ones(2, 3).ndim, len(t.ones(2, 3))),
    "Size numel": lambda t: t.ones(2, 3).shape.numel(),
    "item float": lambda t: t.tensor(2.5).item(),
    "item int": lambda t: t.tensor(3).item(),
    "item bool": lambda t: t.tensor(True).item(),
    "item one-element vector": lambda t: t.tensor([[1.5]]).item(),
    "item of several": lambda t: t.ones(2).item(),
    "float()": lambda t: float(t.tensor([2.5])),
    "float() of several": lambda t: float(t.ones(2)),
    "int()": lambda t: int(t.tensor(3.7)),
    "index with a tensor": lambda t: [10, 20, 30][t.tensor(2)],
    "index with a float tensor": lambda t: [10, 20, 30][t.tensor(2.0)],
    "bool() of several": lambda t: bool(t.ones(2) > 0),
    "bool() of one": lambda t: bool(t.tensor([1.0]) > 0),
    "tolist": lambda t: t.tensor(data(2, 2)).tolist(),
    "numpy dtype": lambda t: str(t.ones(2).numpy().dtype),
    "numpy requires grad": lambda t: t.ones(2, requires_grad=True).numpy(),
    "detach numpy": lambda t: t.ones(2, requires_grad=True).detach().numpy(),
    "detach flags": lambda t: t.ones(2, requires_grad=True).mul(2).detach(),
    "numpy shares memory": lambda t: (lambda x: (x.numpy().__setitem__(0, 5.0), x)[1])(t.zeros(2)),
    "double float long": lambda t: (t.tensor([1.5]).double(), t.tensor([1.5]).float(), t.tensor([1.5]).long()),
    "to dtype": lambda t: t.tensor([1, 2]).to(t.float32),
    "to cpu": lambda t: t.tensor([1.0]).to("cpu"),
    "len of 0-d": lambda t: len(t.tensor(1.0)),
    "iterate": lambda t: [row for row in t.tensor(data(2, 3))],
    "format": lambda t: f"{t.tensor(2.0 / 3.0):.3f}",
    "repr float": lambda t: repr(t.tensor([1.5, 2.0])),
    "repr whole": lambda t: repr(t.tensor([1.0, 2.0])),
    "repr int": lambda t: repr(t.tensor([1, 2])),
    "repr float64": lambda t: repr(t.tensor([0.5], dtype=t.float64)),
    "repr requires_grad": lambda t: repr(t.tensor([0.5], requires_grad=True)),
    "repr grad_fn": lambda t: repr(t.tensor([0.5], requires_grad=True) * 2),
    "repr scalar": lambda t: repr(t.tensor(3.0)),
    "repr int32": lambda t: repr(t.tensor([1], dtype=t.int32)),
    "repr bool": lambda t: repr(t.tensor([True, False])),
    "repr matrix": lambda t: repr(t.tensor(data(3, 4))),
    "repr 3-D": lambda t: repr(t.arange(24.0).reshape(2, 3, 4) / 7),
    "repr long vector": lambda t: repr(t.linspace(-2, 2, 30)),
    "repr padded": lambda t: repr(t.tensor([0.0, 15.0, -3.0, 100.0])),
    "repr scientific": lambda t: repr(t.tensor([1e-5, 1.0, 3e3])),
    "repr big": lambda t: repr(t.tensor([1e9, 2.0])),
    "repr summarized": lambda t: repr(t.arange(2000.0).reshape(40, 50) / 3),
    "repr summarized vector": lambda t: repr(t.arange(1500)),
    "repr inf nan": lambda t: repr(t.tensor([float("inf"), float("nan"), 1.5])),
    "repr whole with inf": lambda t: repr(t.tensor([float("-inf"), 2.0])),
    "repr empty": lambda t: (repr(t.tensor([])), repr(t.zeros(2, 0)), repr(t.tensor([], dtype=t.int32))),
    "repr negative zero": lambda t: repr(t.tensor([-0.0, 0.5])),
    "repr zeros": lambda t: repr(t.zeros(3)),
    "repr long grad_fn": lambda t: repr(t.linspace(0, 1, 9, requires_grad=True) * 3),
    "str": lambda t: str(t.tensor([[1.5, -2.25]], dtype=t.float64, requires_grad=True)),
    "format of a 1-element vector": lambda t: f"{t.tensor([2.0]):.3f}",
    "format without spec": lambda t: f"{t.tensor([2.0])}",
    # shapes
    "reshape": lambda t: t.arange(6).reshape(2, 3),
    "reshape tuple": lambda t: t.arange(6).reshape((3, -1)),
    "view": lambda t: t.arange(6.0).view(3, 2),
    "view -1": lambda t: t.arange(6.0).view(-1),
    "view non-contiguous": lambda t: t.ones(2, 3).t().view(-1),
    "reshape non-contiguous": lambda t: t.arange(6).reshape(2, 3).t().reshape(-1),
    "reshape wrong size": lambda t: t.ones(3).reshape(2),
    "view shares memory": lambda t: (lambda x: (x.view(2, 2).__setitem__((0, 0), 9.0), x)[1])(t.zeros(4)),
    "t()": lambda t: t.tensor(data(2, 3)).t(),
    "t() of 1-D": lambda t: t.tensor([1.0, 2.0]).t(),
    "t() of 3-D": lambda t: t.ones(2, 2, 2).t(),
    ".T": lambda t: t.tensor(data(2, 3)).T,
    "transpose": lambda t: t.ones(2, 3, 4).transpose(0, 2).shape,
    "permute": lambda t: t.ones(2, 3, 4).permute(2, 0, 1).shape,
    "unsqueeze squeeze": lambda t: (t.ones(3).unsqueeze(0).shape, t.ones(1, 3, 1).squeeze().shape,
                                    t.ones(1, 3, 1).squeeze(0).shape),
    "flatten": lambda t: t.ones(2, 3, 4).flatten().shape,
    "clone": lambda t: t.tensor([1.0, 2.0]).clone(),
    "cat": lambda t: t.cat([t.ones(2, 1), t.zeros(2, 2)], dim=1),
    "stack": lambda t: t.stack([t.ones(2), t.zeros(2)]),
    "cat promotes": lambda t: t.cat([t.tensor([1, 2]), t.tensor([0.5])]),
    "cat of 0-dim": lambda t: t.cat([t.tensor(1.0), t.tensor(2.0)]),
    "stack of 0-dim": lambda t: t.stack([t.tensor(1.0), t.tensor(2.0)]),
    # indexing
    "index int": lambda t: t.tensor(data(3, 4))[1],
    "index scalar": lambda t: t.tensor(data(3, 4))[1, 2],
    "index slice": lambda t: t.tensor(data(3, 4))[:, 1:3],
    "index list": lambda t: t.tensor(data(3, 4))[[0, 2, 2]],
    "index mask": lambda t: t.tensor([1.0, -2.0, 3.0])[t.tensor([1.0, -2.0, 3.0]) > 0],
    "index tensor": lambda t: t.tensor(data(3, 4))[t.tensor([2, 0])],
    "index pairs": lambda t: t.tensor(data(3, 4))[t.arange(3), t.tensor([0, 3, 1])],
    "index out of range": lambda t: t.ones(3)[5],
    "mask assign": lambda t: (lambda g: (g.__setitem__(g < 0, 0), g)[1])(t.tensor([1.0, -2.0, 3.0, -0.5])),
    "mask assign int": lambda t: (lambda g: (g.__setitem__(g < 2, 7), g)[1])(t.tensor([1, 2, 3])),
    "slice assign": lambda t: (lambda g: (g.__setitem__(slice(0, 2), t.tensor([5.0, 6.0])), g)[1])(t.zeros(3)),
    # matrix products
    "mm": lambda t: t.mm(t.tensor(data(2, 3)), t.tensor(data(3, 2, 1))),
    "mm method": lambda t: t.tensor(data(2, 3)).mm(t.tensor(data(3, 2, 1))),
    "mm of vectors": lambda t: t.mm(t.ones(3), t.ones(3)),
    "matmul mat-vec": lambda t: t.tensor(data(2, 3)) @ t.tensor([1.0, 2.0, 3.0]),
    "matmul vec-mat": lambda t: t.tensor([1.0, 2.0]) @ t.tensor(data(2, 3)),
    "matmul dot": lambda t: t.tensor([1.0, 2.0]) @ t.tensor([3.0, 4.0]),
    "matmul batch": lambda t: (t.ones(2, 1, 3, 4) @ t.ones(5, 4, 2)).shape,
    "matmul int": lambda t: t.tensor([[1, 2]]) @ t.tensor([[3], [4]]),
    "matmul shapes": lambda t: t.ones(3, 4) @ t.ones(5, 2),
    "matmul dtypes": lambda t: t.ones(2, 2) @ t.ones(2, 2, dtype=t.float64),
    "matmul 0-d": lambda t: t.tensor(1.0) @ t.ones(2),
    "broadcast mismatch": lambda t: t.ones(3) + t.ones(4),
    # elementwise values
    "functions": lambda t: [f(t.tensor([0.5, 1.0, 2.0])) for f in (t.exp, t.log, t.sin, t.cos, t.tanh, t.sigmoid,
                                                                  t.sqrt, t.abs, t.relu)],
    "methods": lambda t: [getattr(t.tensor([-0.5, 1.0, 2.0]), m)() for m in ("exp", "relu", "tanh", "abs", "sigmoid")],
    "log of 0 and -1": lambda t: t.log(t.tensor([0.0, -1.0])),
    "division by zero": lambda t: t.tensor([1.0, 0.0, -1.0]) / 0,
    "clamp min max": lambda t: t.tensor([-2.0, 0.5, 3.0]).clamp(min=-1, max=1),
    "clamp max": lambda t: t.clamp(t.tensor([-2.0, 0.5, 3.0]), max=1.0),
    "softmax": lambda t: t.tensor(data(2, 3)).softmax(dim=1),
    "log_softmax": lambda t: t.tensor(data(2, 3)).log_softmax(1),
    "sub rsub neg div": lambda t: (t.tensor([1.0, 2.0]) - 1, 1 - t.tensor([1.0, 2.0]), -t.tensor([1.0]),
                                   3 / t.tensor([2.0, 4.0])),
    "python pow": lambda t: (t.tensor([2.0, 3.0]) ** 3, t.tensor([4.0]) ** 0.5, t.tensor([2.0]).pow(2)),
    "norm dot square sign": lambda t: (t.tensor([3.0, -4.0]).norm(), t.tensor(data(2, 3)).norm(dim=1),
                                       t.tensor([1.0, 2.0]).dot(t.tensor([3.0, 4.0])), t.tensor([1.5, -2.0]).square(),
                                       t.tensor([1.5, 0.0, -2.0]).sign()),
    "var std": lambda t: (t.tensor(data(3, 4)).var(), t.tensor(data(3, 4)).std(dim=0),
                          t.tensor(data(3, 4)).var(1, keepdim=True, unbiased=False)),
    "allclose isclose equal": lambda t: (t.allclose(t.ones(2), t.ones(2) + 1e-9), t.isclose(t.ones(2), t.zeros(2)),
                                         t.equal(t.ones(2), t.ones(2)), t.ones(2).allclose(t.zeros(2))),
    "type": lambda t: (t.ones(2).type(), t.ones(2).type(t.float64), t.tensor([1, 2]).type()),
    "normal_ uniform_ shapes": lambda t: (t.zeros(3, 2).normal_(0, 0.1).shape, t.zeros(3).uniform_(-1, 1).dtype,
                                          bool((t.zeros(100).uniform_(-1, 1).abs() <= 1).all())),
    "normal_ on a leaf that requires grad": lambda t: t.zeros(3, requires_grad=True).normal_(),
    "torch.normal": lambda t: (t.normal(0.0, 0.01, size=(2, 1)).shape, t.normal(0.0, 0.01, size=(2, 1)).dtype,
                               t.normal(t.zeros(3), 1.0).shape),
    # gradients (values against PyTorch's)
    "grad norm var std": lambda t: grad_of(t, lambda t, x: x.norm() + x.var() + x.std() + (x * x).sqrt().sum()),
    "grad add mul": lambda t: grad_of(t, lambda t, x: x * x + 3 * x),
    "grad pow": lambda t: grad_of(t, lambda t, x: x ** 3 - x ** 2),
    "grad div": lambda t: grad_of(t, lambda t, x: 1 / (x * x + 1)),
    "grad exp log": lambda t: grad_of(t, lambda t, x: (x.exp() + 1).log()),
    "grad sin cos tanh sigmoid": lambda t: grad_of(t, lambda t, x: t.sin(x) * t.cos(x) + x.tanh() + x.sigmoid()),
    "grad sqrt": lambda t: grad_of(t, lambda t, x: (x * x + 1).sqrt()),
    "grad abs (0 at 0)": lambda t: grad_of(t, lambda t, x: x.abs()),
    "grad relu (0 at 0)": lambda t: grad_of(t, lambda t, x: x.relu()),
    "grad clamp": lambda t: grad_of(t, lambda t, x: x.clamp(min=0.0)),
    "grad clamp bounds": lambda t: grad_of(t, lambda t, x: x.clamp(-1, 1), values=(-1.0, 1.0, 2.0, 0.5)),
    "grad max ties": lambda t: grad_of(t, lambda t, x: x.max(), values=(2.0, 1.0, 2.0, 0.0)),
    "grad max dim": lambda t: grad_of(t, lambda t, x: x.reshape(2, 2).max(dim=0).values),
    "grad maximum ties": lambda t: grad_of(t, lambda t, x: t.max(x, t.tensor([0.5, 0.0, 0.0, 0.0]))),
    "grad where": lambda t: grad_of(t, lambda t, x: t.where(x > 0, x * x, -x)),
    "grad mean": lambda t: grad_of(t, lambda t, x: x.reshape(2, 2).mean(dim=0)),
    "grad index": lambda t: grad_of(t, lambda t, x: x[[0, 2, 2]] * x[1:3].sum() + x[x > 0]),
    "grad t view reshape": lambda t: grad_of(t, lambda t, x: x.view(2, 2).t().reshape(-1) * t.arange(4.0)),
    "grad matmul": lambda t: grad_of(t, lambda t, x: x.reshape(2, 2) @ t.tensor([[1.0, 2.0], [3.0, 4.0]])),
    "grad mm": lambda t: grad_of(t, lambda t, x: t.mm(x.reshape(1, 4), t.ones(4, 3))),
    "grad log_softmax": lambda t: grad_of(t, lambda t, x: x.log_softmax(0) * t.arange(4.0)),
    "grad softmax": lambda t: grad_of(t, lambda t, x: x.softmax(0) * t.arange(4.0)),
    "grad cat stack": lambda t: grad_of(t, lambda t, x: t.cat([x, x[:2]]) * t.arange(6.0) + t.stack([x, x]).sum(0)),
    "grad clone double": lambda t: grad_of(t, lambda t, x: x.clone().double() * 2),
    "grad broadcast": lambda t: grad_of(t, lambda t, x: x.reshape(4, 1) * t.ones(1, 3) + x),
    "grad int tensor times": lambda t: grad_of(t, lambda t, x: x * t.tensor([1, 2, 3, 4])),
    "grad float64 data": lambda t: grad_of(t, lambda t, x: x * t.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.float64)),
    "grad pow tensor exponent": lambda t: grad_of(t, lambda t, x: t.tensor([2.0, 2.0, 2.0, 2.0]) ** x),
    "grad_fn names": lambda t: [y.grad_fn.name() for y in (lambda x: (
        x + x, x - x, x - 1, 1 - x, x * 2, x / 2, x ** 2, x ** x, 2 ** x, -x, x.exp(), x.log(), x.relu(), x.tanh(),
        x.sigmoid(), x.sin(), x.cos(), x.sqrt(), x.abs(), x.clamp(min=0), x.max(), x.min(), x.sum(), x.sum(0),
        x.mean(), x.mean(0), x.reshape(2, 1), x.view(2, 1), x.reshape(2, 1).t(), x.reshape(2, 1).T, x[0], x[1:],
        x[[0, 1]], x.clone(), x.double(), x @ x, x.reshape(1, 2) @ x, x.reshape(1, 2).mm(x.reshape(2, 1)),
        x.unsqueeze(0), x.log_softmax(0), x.softmax(0), t.max(x, x), t.where(x > 0, x, 0.0)))(
        t.tensor([1.0, 2.0], requires_grad=True))],
    "next_functions": lambda t: (lambda w, x: [(n.name() if n is not None else None)
                                               for n, _ in (w * x + w).grad_fn.next_functions])(
        t.ones(2, requires_grad=True), t.ones(2)),
    "accumulate grad variable": lambda t: (lambda w: (w * 2).grad_fn.next_functions[0][0].variable is w)(
        t.ones(2, requires_grad=True)),
    # the graph's rules
    "requires_grad propagation": lambda t: [(y.requires_grad, y.is_leaf) for y in (lambda w, x: (
        w * x, x * 2, w.detach() * x, w + 1))(t.ones(2, requires_grad=True), t.ones(2))],
    "no_grad": lambda t: (lambda w: [(y.requires_grad, y.is_leaf) for y in [w * 2]] + [t.is_grad_enabled()])(
        t.ones(2, requires_grad=True)) if False else _under_no_grad(t),
    "no_grad decorator": lambda t: t.no_grad()(lambda w: w * 2)(t.ones(2, requires_grad=True)),
    "set_grad_enabled": lambda t: _set_grad_enabled(t),
    "enable_grad inside no_grad": lambda t: _enable_grad(t),
    "leaf grad": lambda t: (lambda w: ((w * w).sum().backward(), w.grad)[1])(t.tensor([1.0, 3.0], requires_grad=True)),
    "non-leaf grad is None": lambda t: _non_leaf_grad(t),
    "retain_grad": lambda t: _retain_grad(t),
    "retain_grad on leaf": lambda t: (lambda w: (w.retain_grad(), (w * 2).sum().backward(), w.grad)[2])(
        t.ones(2, requires_grad=True)),
    "retain_grad without grad": lambda t: t.ones(2).retain_grad(),
    "grads accumulate": lambda t: _accumulate(t),
    "grad is kept and added in place": lambda t: _grad_in_place(t),
    "requires_grad_": lambda t: (lambda w: (w.requires_grad_(), w.requires_grad, w.is_leaf))(t.ones(2)),
    "requires_grad_ on non-leaf": lambda t: (t.ones(2, requires_grad=True) * 2).requires_grad_(False),
    "set requires_grad on int": lambda t: setattr(t.tensor([1, 2]), "requires_grad", True),
    "backward without grad": lambda t: t.ones(2).sum().backward(),
    "backward of non-scalar": lambda t: (t.ones(2, requires_grad=True) * 2).backward(),
    "backward of one-element vector": lambda t: (lambda w: ((w * 3).backward(), w.grad)[1])(
        t.ones(1, requires_grad=True)),
    "backward with gradient": lambda t: (lambda w: ((w * 3).backward(t.tensor([1.0, 2.0])), w.grad)[1])(
        t.ones(2, requires_grad=True)),
    "backward gradient wrong shape": lambda t: (t.ones(2, requires_grad=True) * 3).backward(t.ones(3)),
    "backward gradient numpy": lambda t: (t.ones(2, requires_grad=True) * 3).backward(np.ones(2)),
    "backward twice (mul)": lambda t: backward_twice(t, lambda x: (x * x).sum()),
    "backward twice (times a number)": lambda t: backward_twice(t, lambda x: (x * 2).sum()),
    "backward twice (add, sum)": lambda t: backward_twice(t, lambda x: (x + 1).sum()),
    "backward twice (exp)": lambda t: backward_twice(t, lambda x: x.exp().sum()),
    "backward twice (mean)": lambda t: backward_twice(t, lambda x: x.mean()),
    "backward twice retain_graph": lambda t: _retain_graph(t),
    "in-place on saved tensor": lambda t: _modified_saved(t, lambda e: e.add_(1)),
    "in-place on saved input": lambda t: _modified_saved(t, lambda e: e.mul_(2), saved_input=True),
    "in-place on an unsaved tensor": lambda t: _modified_unsaved(t),
    "leaf in-place outside no_grad": lambda t: t.ones(2, requires_grad=True).zero_(),
    "leaf += outside no_grad": lambda t: _iadd(t.ones(2, requires_grad=True)),
    "leaf in-place under no_grad": lambda t: _sgd_step(t),
    "leaf setitem outside no_grad": lambda t: t.ones(2, requires_grad=True).__setitem__(0, 5.0),
    "view of leaf in-place": lambda t: t.ones(2, requires_grad=True)[0].add_(1),
    "non-leaf += 1": lambda t: _nonleaf_iadd(t),
    "non-leaf *= in graph": lambda t: _nonleaf_imul(t),
    "non-leaf setitem": lambda t: _nonleaf_setitem(t),
    "detached in-place bumps version": lambda t: _detach_version(t),
    "int += float": lambda t: _iadd(t.tensor([1, 2]), 0.5),
    "float += int": lambda t: _iadd(t.tensor([1.0, 2.0]), 1),
    "in-place shape mismatch": lambda t: _iadd(t.zeros(2), t.ones(3, 2)),
    "grad assignment": lambda t: (lambda w: (setattr(w, "grad", t.ones(2)), w.grad)[1])(t.zeros(2, requires_grad=True)),
    "grad assignment wrong shape": lambda t: setattr(t.zeros(2, requires_grad=True), "grad", t.ones(3)),
    "grad assignment wrong dtype": lambda t: setattr(t.zeros(2, requires_grad=True), "grad",
                                                     t.ones(2, dtype=t.float64)),
    "w = w - lr * w.grad outside no_grad": lambda t: _wrong_sgd(t),
    "data attribute": lambda t: _data_attribute(t),
    "tensor(tensor)": lambda t: _copy_construct(t),
    "cuda is not available": lambda t: t.cuda.is_available(),
    "autograd.backward of two outputs": lambda t: (lambda w: (t.autograd.backward([(w * w).sum(), w * 3],
                                                                                  [None, t.ones(2)]), w.grad)[1])(
        t.tensor([1.0, 2.0], requires_grad=True)),
    # more of what small programs do
    "none index grad": lambda t: grad_of(t, lambda t, x: x[:, None] * t.ones(1, 3)),
    "none index": lambda t: t.ones(2, 3)[None, :, 1].shape,
    "negative step": lambda t: t.arange(5)[::-1],
    "step slice": lambda t: t.arange(10).reshape(2, 5)[:, ::2],
    "max positional": lambda t: tuple(t.max(t.tensor(data(2, 3)), 1)),
    "bce": lambda t: grad_of(t, lambda t, x: -(t.tensor([1.0, 0.0, 1.0, 0.0]) * t.log(t.sigmoid(x))
                                               + (1 - t.tensor([1.0, 0.0, 1.0, 0.0]))
                                               * t.log(1 - t.sigmoid(x))).mean()),
    "accuracy": lambda t: (t.tensor(data(4, 3)).argmax(1) == t.tensor([0, 1, 2, 0])).float().mean(),
    "sum item int": lambda t: (t.tensor([1, 2]) == t.tensor([1, 3])).sum().item(),
    "zip iterate": lambda t: [a * b for a, b in zip(t.tensor([1.0, 2.0]), t.tensor([3.0, 4.0]))],
    "new_zeros": lambda t: t.ones(2).new_zeros(3),
    "int tensor index": lambda t: t.tensor([10.0, 20.0, 30.0])[t.tensor(1)],
    "bool list index": lambda t: t.tensor([10.0, 20.0])[[True, False]],
    "clamp positional": lambda t: t.tensor([-1.0, 2.0]).clamp(0),
    "softmax neg dim": lambda t: t.tensor(data(2, 3)).softmax(-1),
    "cat tuple": lambda t: t.cat((t.ones(2), t.zeros(1)), 0),
    "int zeros": lambda t: t.zeros(2, dtype=t.int),
    "sum keepdim": lambda t: t.tensor(data(2, 3)).sum(dim=1, keepdim=True),
    "exp of neg": lambda t: t.exp(-t.tensor([1.0])),
    "mean of empty dim list": lambda t: t.ones(2, 3).mean(dim=[0, 1]),
    "backward on leaf": lambda t: (lambda w: (w.backward(t.ones(2)), w.grad)[1])(t.ones(2, requires_grad=True)),
    "detach_": lambda t: (lambda h: (h.detach_(), h.requires_grad, h.is_leaf))(t.ones(2, requires_grad=True) * 2),
    "item of grad": lambda t: (lambda w: ((w * 3).backward(), w.grad.item())[1])(
        t.tensor(2.0, requires_grad=True)),
    "division int by int tensor 0": lambda t: t.tensor([1, 0]) / t.tensor([0, 0]),
    "pow float exponent negative base": lambda t: t.tensor([-8.0, 4.0]) ** (1 / 3),
    "sqrt negative": lambda t: t.sqrt(t.tensor([-1.0])),
    "matmul 3d @ 1d": lambda t: (t.ones(2, 3, 4) @ t.ones(4)).shape,
    "x.T 3d": lambda t: t.ones(2, 3, 4).T.shape,
    "bool arithmetic": lambda t: t.tensor([True, False]) * 2.5,
    "int floor div": lambda t: t.tensor([5, 7]) // 2,
    "mod": lambda t: t.tensor([5, 7]) % 3,
    "int pow float tensor": lambda t: 2 ** t.tensor([1, 2]),
    "requires_grad on result of int op": lambda t: (t.ones(2, requires_grad=True) > 0).requires_grad,
    "float64 linspace": lambda t: t.linspace(0, 1, 3, dtype=t.float64) * 0.1,
    "squeeze dim nonsingleton": lambda t: t.ones(2, 3).squeeze(0).shape,
    "unsqueeze negative": lambda t: t.ones(2, 3).unsqueeze(-1).shape,
    "randn size tuple": lambda t: t.randn((2, 3)).shape,
    "randn no args": lambda t: t.randn(()).shape,
    "arange float dtype int args": lambda t: t.arange(0, 5, 2, dtype=t.float64),
    "full_like float fill int tensor": lambda t: t.full_like(t.tensor([1, 2]), 2.7),
    "ones_like requires_grad": lambda t: t.ones_like(t.ones(2), requires_grad=True),
    "max of ints and floats": lambda t: t.max(t.tensor([1, 5]), t.tensor([2.5, 3.0])),
    "neg bool": lambda t: -t.tensor([True]),
    "abs grad at 0": lambda t: grad_of(t, lambda t, x: t.abs(x) * 3),
    "where grad broadcast": lambda t: grad_of(t, lambda t, x: t.where(x.reshape(4, 1) > 0, x.reshape(4, 1),
                                                                      t.zeros(1, 3))),
    "remainder grad": lambda t: grad_of(t, lambda t, x: (x * 3) % 1.5),
    "remainder grad for the divisor": lambda t: grad_of(t, lambda t, x: 7.0 % (x + 3)),
    "floor divide grad": lambda t: grad_of(t, lambda t, x: x // 2),
    "floor div float": lambda t: t.tensor([-3.5, 2.5]) // 2,
    "rfloordiv rmod": lambda t: (7 // t.tensor([2, 3]), 7 % t.tensor([2, 3])),
    "new_ones new_tensor new_full": lambda t: (t.ones(2, dtype=t.float64).new_ones(3), t.ones(2).new_tensor([1, 2]),
                                               t.tensor([1, 2]).new_full((2,), 5)),
}


def _under_no_grad(t):
    w = t.ones(2, requires_grad=True)
    with t.no_grad():
        y = w * 2
        inside = t.is_grad_enabled()
    return y, inside, t.is_grad_enabled()


def _set_grad_enabled(t):
    w = t.ones(2, requires_grad=True)
    with t.set_grad_enabled(False):
        y = w * 2
    return y, t.is_grad_enabled()


def _enable_grad(t):
    w = t.ones(2, requires_grad=True)
    with t.no_grad():
        with t.enable_grad():
            y = w * 2
    return y


def _non_leaf_grad(t):
    w = t.ones(2, requires_grad=True)
    h = w * 2
    h.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return h.grad, h.is_leaf, w.grad


def _retain_grad(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    h = w * w
    h.retain_grad()
    (h * 3).sum().backward()
    return h.grad, h.retains_grad, w.grad


def _accumulate(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    (w * 3).sum().backward()
    return w.grad


def _grad_in_place(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    first = w.grad
    (w * 3).sum().backward()
    return first is w.grad, first


def _retain_graph(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


def _modified_saved(t, modify, saved_input=False):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    e = h.exp()
    modify(h if saved_input else e)
    e.sum().backward()
    return x.grad


def _modified_unsaved(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1
    y = h * 2  # saves only the number 2
    h.add_(10)
    y.sum().backward()
    return x.grad, h


def _iadd(tensor, value=1):
    tensor += value
    return tensor


def _sgd_step(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with t.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()
        w[0] = 5.0
        w.mul_(2)
    return w, w.grad


def _nonleaf_iadd(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    h = w * w
    z = h * 3
    h += 1
    (h.sum() + z.sum()).backward()
    return h, w.grad


def _nonleaf_imul(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    v = t.tensor([3.0, -1.0], requires_grad=True)
    h = w + 0
    before = h + 0
    h *= v
    (h * h).sum().backward()
    return h, before, w.grad, v.grad


def _nonleaf_setitem(t):
    w = t.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = w * 2
    h[h < 0] = 0
    (h * h).sum().backward()
    return w.grad


def _detach_version(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    x.detach().zero_()
    y.sum().backward()
    return x.grad


def _wrong_sgd(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):
        loss = (w * w).sum()
        loss.backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = w - 0.1 * w.grad
    return w


def _data_attribute(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.5 * w.grad.data
    w.grad.data.zero_()
    return w, w.grad, w.data


def _copy_construct(t):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = t.tensor(t.tensor([1.0, 2.0], requires_grad=True))
    return out, [w.category.__name__ for w in caught]


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_outcome_as_pytorch(name):
    same_on_both(CASES[name])


# ----- whole programs, written for PyTorch, run unchanged on both -----
PROGRAMS = {}

PROGRAMS["mlp trained by hand"] = '''
import torch

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.2], [0.9, 0.4]])
y = torch.tensor([[0.0], [1.0], [1.0], [0.0], [0.6], [1.0]])
W1 = torch.tensor([[0.5, -0.3, 0.8], [-0.6, 0.9, 0.4]], requires_grad=True)     # (2, 3)
b1 = torch.zeros(3, requires_grad=True)
W2 = torch.tensor([[0.7], [-1.1], [0.5]], requires_grad=True)                   # (3, 1)
b2 = torch.zeros(1, requires_grad=True)
learning_rate = 0.1
for step in range(200):
    h = (X.mm(W1) + b1).clamp(min=0)
    y_pred = h @ W2 + b2
    loss = (y_pred - y).pow(2).mean()
    if step % 20 == 0:
        print(step, loss.item())
    loss.backward()
    with torch.no_grad():
        for p in (W1, b1, W2, b2):
            p -= learning_rate * p.grad
            p.grad.zero_()
print("loss", loss.item(), loss.dtype, loss.shape, loss.requires_grad, loss.grad_fn.name())
print("W1", W1.tolist(), W1.is_leaf, W1.grad.abs().max().item())
print("b2", b2.tolist())
'''

PROGRAMS["micrograd sanity check"] = '''
import torch

x = torch.Tensor([-4.0]).double()
x.requires_grad = True
z = 2 * x + 2 + x
q = z.relu() + z * x
h = (z * z).relu()
y = h + q + q * x
y.backward()
xpt, ypt = x, y
print(ypt.data.item(), xpt.grad.item(), ypt.dtype)
'''

PROGRAMS["micrograd more ops"] = '''
import torch

a = torch.Tensor([-4.0]).double()
b = torch.Tensor([2.0]).double()
a.requires_grad = True
b.requires_grad = True
c = a + b
d = a * b + b**3
c = c + c + 1
c = c + 1 + c + (-a)
d = d + d * 2 + (b + a).relu()
d = d + 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g = g + 10.0 / f
g.backward()
print(g.data.item(), a.grad.item(), b.grad.item())
'''

PROGRAMS["custom Function with needs_input_grad"] = '''
import torch
from torch.autograd import Function


class LinearFunction(Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        print("needs_input_grad", ctx.needs_input_grad)
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
w = torch.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], requires_grad=True)
b = torch.tensor([0.01, -0.02], requires_grad=True)
out = LinearFunction.apply(x, w, b)
print(out, out.grad_fn.name())
(out ** 2).sum().backward()
print(x.grad, w.grad, b.grad)
x.requires_grad_()
out = LinearFunction.apply(x, w)
out.sum().backward()
print(x.grad, w.grad)
'''

PROGRAMS["MyReLU with a mask"] = '''
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


x = torch.linspace(-2, 2, 9, requires_grad=True)
y = MyReLU.apply(x * 3 - 1)
loss = (y * torch.arange(9)).sum()
loss.backward()
print(y, x.grad)
g = x.detach().clone()
g[g < 0] = 0
g[0] = -1.0
print(g, torch.where(g > 0.5, g, torch.zeros_like(g)), g.abs().sqrt().cos().max())
'''

PROGRAMS["autograd.grad"] = '''
import torch

x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
h = x.tanh() * 2
y = (h ** 3).sum()
dy_dx, dy_dh = torch.autograd.grad(y, [x, h], retain_graph=True)
print(dy_dx, dy_dh, x.grad)
(dy_dx_again,) = torch.autograd.grad(y, x, grad_outputs=torch.tensor(2.0))
print(dy_dx_again)
z = x.exp()
(g,) = torch.autograd.grad(z, x, torch.ones(3))
print(g)
print(torch.autograd.grad((x * 2).sum(), [x, torch.ones(3, requires_grad=True)], allow_unused=True)[1])
'''

PROGRAMS["retain_grad on an intermediate"] = '''
import torch

w = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
x = torch.tensor([[1.0], [2.0]])
z = w @ x
z.retain_grad()
a = z.sigmoid()
a.retain_grad()
loss = (a - 1).pow(2).sum()
loss.backward()
print(z.grad, a.grad, w.grad, z.is_leaf, z.retains_grad, loss.retains_grad)
'''

PROGRAMS["shapes, dtypes and flags of a random program"] = '''
import torch

torch.manual_seed(0)
x = torch.randn(4, 3)
w = torch.rand(3, 2, requires_grad=True)
b = torch.zeros(2, requires_grad=True)
idx = torch.randint(0, 4, (5,))
out = (x[idx] @ w + b).relu()
loss = out.mean()
loss.backward()
print(x.shape, x.dtype, idx.dtype, out.shape, out.requires_grad, loss.shape, loss.dtype)
print(w.grad.shape, w.grad.dtype, b.grad.shape, x.grad, out.is_leaf, w.is_leaf, loss.grad_fn.name())
print(torch.arange(5).float().mean(), torch.ones_like(x).sum(), torch.zeros_like(w).requires_grad)
'''


PROGRAMS["linear regression from scratch, d2l style"] = '''
import random
import torch

def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))

torch.manual_seed(0)
random.seed(0)
true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = synthetic_data(true_w, true_b, 1000)
print(features.shape, labels.shape, features.dtype)

def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]

w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)

def linreg(X, w, b):
    return torch.matmul(X, w) + b

def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()

lr, num_epochs, batch_size = 0.03, 3, 10
for epoch in range(num_epochs):
    for X, y in data_iter(batch_size, features, labels):
        l = squared_loss(linreg(X, w, b), y)
        l.sum().backward()
        sgd([w, b], lr, batch_size)
    with torch.no_grad():
        train_l = squared_loss(linreg(features, w, b), labels)
        print(f'epoch {epoch + 1}, loss small: {bool(train_l.mean() < 0.01)}')
print((true_w - w.reshape(true_w.shape)).abs().max() < 0.01, abs(true_b - b.item()) < 0.01, w.shape, b.dtype)
'''


def run_program(source, engine_import):
    import contextlib
    import io

    buffer = io.StringIO()
    program = source.replace("import torch\n", engine_import + "\n")
    program = program.replace("from torch.autograd import", "from " + engine_import.split()[1] + ".autograd import")
    with contextlib.redirect_stdout(buffer):
        exec(compile(program, "program.py", "exec"), {"__name__": "__main__"})
    return buffer.getvalue()


NUMBER = r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+e[-+]?\d+|nan|-?inf"


def assert_same_printout(ours, theirs, rtol=1e-5):
    import re

    assert re.sub(NUMBER, "#", ours) == re.sub(NUMBER, "#", theirs), f"minitorch printed\n{ours}\nPyTorch\n{theirs}"
    for a, b in zip(re.findall(NUMBER, ours), re.findall(NUMBER, theirs)):
        assert float(a) == pytest.approx(float(b), rel=rtol, abs=1e-6), f"{a} vs {b}\n{ours}\n{theirs}"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_unchanged_on_both(name):
    theirs = run_program(PROGRAMS[name], "import torch")
    ours = run_program(PROGRAMS[name], "import nnlab.minitorch as torch")
    assert_same_printout(ours, theirs)


def test_the_notes_legendre_fit_prints_the_same_on_both():
    from test_minitorch_legendre import SEED_PROGRAM

    theirs = run_program(SEED_PROGRAM, "import torch")
    ours = run_program(SEED_PROGRAM, "import nnlab.minitorch as torch")
    assert_same_printout(ours, theirs, rtol=1e-5)


# ----- float64 expressions: values and gradients to 1e-12 -----
TORCH_EXPRESSIONS = {
    "polynomial": lambda m, a, b: (a * b - a / (b * b + 1) + 2 ** a).pow(2).sum(),
    "legendre-style": lambda m, a, b: (0.5 * (5 * a ** 3 - 3 * a) * b).sum(),
    "mlp": lambda m, a, b: m.log_softmax(m.relu(a @ b.T) @ b, 1).mean(),
    "elementwise": lambda m, a, b: (m.sin(a) * m.exp(b) + m.log(a * a + 1)).sum(dim=0).mean(),
    "indexing": lambda m, a, b: m.tanh(a[[0, 2, 2]]).sum() + m.sigmoid(b[:, 1:]).mean(dim=1, keepdim=True).sum(),
}


@pytest.mark.parametrize("name", sorted(TORCH_EXPRESSIONS))
def test_float64_expressions_match_pytorch(name):
    rng = np.random.default_rng(1)
    a_np, b_np = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    f = TORCH_EXPRESSIONS[name]
    ours = [mt.tensor(v, requires_grad=True) for v in (a_np, b_np)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a_np, b_np)]
    out_ours, out_theirs = f(mt, *ours), f(torch, *theirs)
    out_ours.backward()
    out_theirs.backward()
    assert out_ours.item() == pytest.approx(out_theirs.item(), rel=1e-12)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-10, atol=1e-12)


# ----- dtype promotion, exhaustively: every pair of dtypes, 0-dim and with dimensions, and Python numbers -----
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
OPERATORS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "<": lambda a, b: a < b, "**": lambda a, b: a ** b, "where": None,
}


def operand(t, kind, dims):
    """A small tensor of the given dtype name (0-dim or 2 entries), or a Python number ("number:2.5")."""
    if kind.startswith("number:"):
        return eval(kind.split(":")[1])
    values = [True, False] if kind == "bool" else [3, 2]
    return t.tensor(values[0] if dims == 0 else values, dtype=getattr(t, kind))


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_dtype_promotion_matches_pytorch(op):
    kinds = DTYPES + ["number:True", "number:2", "number:2.5"]
    mismatches = []
    for left in DTYPES:
        for right in kinds:
            for dims in [(1, 1), (1, 0), (0, 1), (0, 0)]:
                def program(t):
                    a, b = operand(t, left, dims[0]), operand(t, right, dims[1])
                    if op == "where":
                        return t.where(t.tensor([True, False]), a, b)
                    return OPERATORS[op](a, b)
                theirs, ours = run(program, torch), run(program, mt)
                if isinstance(theirs, dict) and theirs["dtype"] == "torch.float16":
                    theirs["tensor"], ours["tensor"] = theirs["tensor"].astype(np.float32), ours["tensor"].astype(
                        np.float32)  # half precision: compared to float32 tolerance after rounding
                try:
                    assert_same(ours, theirs, f"{left} {op} {right}, dims {dims}")
                except AssertionError as mismatch:
                    mismatches.append(str(mismatch).splitlines()[0])
    assert not mismatches, f"{len(mismatches)} cases differ:\n" + "\n".join(mismatches[:20])


UNARY = {
    "exp": lambda t, a: a.exp(), "log": lambda t, a: a.log(), "sqrt": lambda t, a: a.sqrt(),
    "sin": lambda t, a: t.sin(a), "tanh": lambda t, a: a.tanh(), "sigmoid": lambda t, a: a.sigmoid(),
    "abs": lambda t, a: a.abs(), "neg": lambda t, a: -a, "relu": lambda t, a: a.relu(),
    "sum": lambda t, a: a.sum(), "mean": lambda t, a: a.mean(), "max": lambda t, a: a.max(),
    "clamp(min=0)": lambda t, a: a.clamp(min=0), "clamp(max=1.5)": lambda t, a: a.clamp(max=1.5),
    "argmax": lambda t, a: a.argmax(), "float()": lambda t, a: a.float(), "sign": lambda t, a: a.sign(),
    "square": lambda t, a: a.square(), "softmax": lambda t, a: a.softmax(0), "~": lambda t, a: ~a,
    "repr": lambda t, a: repr(a), "item": lambda t, a: a[0].item(), "tolist": lambda t, a: a.tolist(),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_dtypes_match_pytorch(name):
    mismatches = []
    for kind in DTYPES:
        theirs = run(lambda t: UNARY[name](t, operand(t, kind, 1)), torch)
        ours = run(lambda t: UNARY[name](t, operand(t, kind, 1)), mt)
        try:
            assert_same(ours, theirs, f"{name} of {kind}")
        except AssertionError as mismatch:
            mismatches.append(str(mismatch).splitlines()[0])
    assert not mismatches, "\n".join(mismatches)


# ----- random compositions of operations, float64: values and gradients to 1e-10 -----
STEPS = {
    "sin": lambda t, x, y: x.sin(), "cos": lambda t, x, y: t.cos(x), "tanh": lambda t, x, y: x.tanh(),
    "sigmoid": lambda t, x, y: t.sigmoid(x), "exp of tanh": lambda t, x, y: x.tanh().exp(),
    "relu": lambda t, x, y: x.relu(), "abs": lambda t, x, y: x.abs(), "square": lambda t, x, y: x.square(),
    "x * y": lambda t, x, y: x * y, "x + y": lambda t, x, y: x + y, "x - 2y": lambda t, x, y: x - 2 * y,
    "x / (1 + y^2)": lambda t, x, y: x / (1 + y ** 2), "clamp": lambda t, x, y: x.clamp(-0.5, 0.5),
    "where": lambda t, x, y: t.where(x > y, x, y * 0.5), "maximum": lambda t, x, y: t.maximum(x, y),
    "softmax": lambda t, x, y: x.softmax(-1), "log_softmax": lambda t, x, y: x.log_softmax(dim=-1),
    "sum keepdim": lambda t, x, y: x.sum(-1, keepdim=True) * y, "mean": lambda t, x, y: x.mean() + y,
    "max dim": lambda t, x, y: x.max(-1, keepdim=True).values + y,
    "sqrt(1 + x^2)": lambda t, x, y: (1 + x * x).sqrt(),
    "reshape back": lambda t, x, y: x.reshape(-1).reshape(x.shape) * 3,
    "transpose twice": lambda t, x, y: x.transpose(0, -1).transpose(0, -1) + y,
    "index": lambda t, x, y: x[..., :1] * y, "pow 3": lambda t, x, y: x ** 3 / 4,
    "matmul with y^T": lambda t, x, y: ((x @ y.transpose(-1, -2)).sum(-1, keepdim=True) * x if x.dim() > 1
                                        else (x @ y) * x),
}


@settings(max_examples=60, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_random_compositions_match_pytorch(shape, steps, seed):
    rng = np.random.default_rng(seed)
    x_np, y_np, upstream = (rng.uniform(-2, 2, size=shape) for _ in range(3))

    def program(t):
        x = t.tensor(x_np, requires_grad=True)
        y = t.tensor(y_np, requires_grad=True)
        out = x
        for step in steps:
            out = STEPS[step](t, out, y)
        (out * t.tensor(upstream)).sum().backward()
        return out.detach().numpy(), x.grad.numpy(), y.grad.numpy() if y.grad is not None else None

    theirs, ours = program(torch), program(mt)
    for name, a, b in zip(("value", "dL/dx", "dL/dy"), ours, theirs):
        assert (a is None) == (b is None), f"{name}: {a} vs {b}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name} after {steps}")
