"""Lesson 05: softplus as a custom autograd Function."""

import numpy as np

from nnlab.feedback import Describe, Output, _numpy, as_is, run_function

from ._catalogue import Exercise, Variant


_SOFTPLUS_EDGES = np.array([-1000.0, -100.0, 100.0, 1000.0])


def _softplus_inputs(rng, case):
    """x (n,) with ordinary values and the edges +-100, +-1000; upstream gradient w (n,)."""
    x = np.concatenate([rng.uniform(-6.0, 6.0, size=int(rng.integers(3, 7))), _SOFTPLUS_EDGES])
    x = x[rng.permutation(x.size)]
    return x, rng.uniform(0.5, 2.0, size=x.size) * rng.choice([-1.0, 1.0], size=x.size)


def _softplus_np(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _softplus_expected(inp) -> dict:
    """Forward values, and w * d softplus/dx by central differences in float64 (h = 1e-5)."""
    x, w = inp
    h = 1e-5
    slope = (_softplus_np(x + h) - _softplus_np(x - h)) / (2 * h)
    return {"forward": _softplus_np(x), "backward": w * slope}


def _softplus_classes() -> dict:
    """Reference and known-wrong Softplus Functions (built on first use, then cached)."""
    if _SOFTPLUS_CACHE:
        return _SOFTPLUS_CACHE
    import nnlab.minitorch as torch

    def values(t):
        return np.asarray(_numpy(t), dtype=np.float64)

    def make(name, forward, local_grad, use_grad_output=True):
        def fwd(ctx, input):
            ctx.save_for_backward(input)
            return torch.tensor(forward(values(input)), dtype=torch.float64)

        def bwd(ctx, grad_output):
            (input,) = ctx.saved_tensors
            local = torch.tensor(local_grad(values(input)), dtype=torch.float64)
            return grad_output * local if use_grad_output else local

        return type("Softplus", (torch.autograd.Function,), {
            "forward": staticmethod(fwd), "backward": staticmethod(bwd),
            "__doc__": f"softplus(x) = log(1 + exp(x)){name}"})

    def sigmoid(x):
        return np.exp(-np.logaddexp(0.0, -x))

    _SOFTPLUS_CACHE.update({
        "reference": make("", _softplus_np, sigmoid),
        "unstable forward": make(", overflowing", lambda x: np.log(1 + np.exp(x)), sigmoid),
        "unstable backward": make(", overflowing in backward", _softplus_np,
                                  lambda x: np.exp(x) / (1 + np.exp(x))),
        "grad_output ignored": make(", ignoring grad_output", _softplus_np, sigmoid,
                                    use_grad_output=False),
        "negated backward": make(", negated backward", _softplus_np, lambda x: -sigmoid(x)),
        "softplus in backward": make(", softplus in backward", _softplus_np, _softplus_np),
    })
    return _SOFTPLUS_CACHE


_SOFTPLUS_CACHE: dict = {}


def _softplus_variant(name: str, hint: str) -> Variant:
    return Variant(name, hint, student=lambda: _softplus_classes()[name])


_SOFTPLUS = Exercise(
    id="softplus",
    title="Lesson 05: softplus as a custom autograd Function",
    signature="Softplus",
    load_reference=lambda: _softplus_classes()["reference"],
    make_inputs=_softplus_inputs,
    describe=Describe(("x", "upstream gradient",)),
    outputs=(
        Output("forward", "Softplus.apply(x)", "it has the shape of x, {shape}"),
        Output("backward", "x.grad (from your backward)", "x.grad has the shape of x, {shape}"),
    ),
    unpack=as_is,
    variants={v.name: v for v in (
        _softplus_variant("unstable forward", "exp(1000) is inf in float64. For large x, "
                          "softplus(x) is x plus a tiny correction: rewrite it so exp only "
                          "sees numbers <= 0."),
        _softplus_variant("unstable backward", "exp(x) / (1 + exp(x)) is inf / inf = nan at "
                          "x = 1000: rewrite the fraction so exp only sees numbers <= 0."),
        _softplus_variant("grad_output ignored", "The chain rule: backward returns grad_output "
                          "times the local derivative d softplus/dx."),
        _softplus_variant("negated backward", "softplus is increasing, so its derivative "
                          "is positive."),
        _softplus_variant("softplus in backward", "backward needs the derivative "
                          "d softplus/dx, not softplus(x) itself."),
    )},
    run=run_function,
    expected=_softplus_expected,
    nonfinite_hint=("exp overflows for large inputs (x = 1000 is among the test values): "
                    "write the formula so exp only sees numbers <= 0."),
    kind="class",
)


EXERCISES = (_SOFTPLUS,)
