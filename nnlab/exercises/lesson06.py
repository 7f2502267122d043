"""Lesson 06: dropout and batch normalization, backward."""

from typing import Callable

import numpy as np

from nnlab.feedback import Output, Several, Single, describe_batchnorm, describe_dropout

from ._catalogue import Exercise, Ref, Variant, away_from_zero, negated, sizes


def _dropout_inputs(rng, case):
    """dout (N, D) and the cache of nnlab.layers.dropout_forward, 0.2 <= p <= 0.4.

    Every fourth case (case 3, 7, ...) is in evaluation mode (train=False, mask None),
    where backward passes dout through unchanged.
    """
    from nnlab.layers import dropout_forward

    N, D = sizes(rng, 2, 3, 8)
    x = rng.standard_normal((N, D))
    p = float(rng.uniform(0.2, 0.4))
    _, cache = dropout_forward(x, p, seed=int(rng.integers(2**31)), train=case % 4 != 3)
    return rng.standard_normal((N, D)), cache


def _dropout_variant(name: str, hint: str, wrong: Callable) -> Variant:
    """A dropout_backward wrong in training mode only: wrong(dout, kept, p) -> dx, where
    kept is 1 for the units the forward pass kept and 0 for dropped ones."""
    def answer(inp, ref):
        dout, cache = inp
        if not cache["train"]:
            return ref
        return wrong(np.asarray(dout), (np.asarray(cache["mask"]) != 0) * 1.0, cache["p"])
    return Variant(name, hint, answer=answer)


_DROPOUT = Exercise(
    id="dropout_backward",
    title="Lesson 06: inverted dropout, backward",
    signature="dropout_backward(dout, cache)",
    load_reference=Ref("layers", "dropout_backward"),
    make_inputs=_dropout_inputs,
    describe=describe_dropout,
    outputs=(Output("dx", "dx", "x has shape (N, D) = {shape}"),),
    unpack=Single("dx"),
    variants={v.name: v for v in (
        _dropout_variant("mask missing", "Units dropped in the forward pass had no effect on "
                         "the output, so they get zero gradient.",
                         lambda dout, kept, p: dout),
        _dropout_variant("1/(1-p) scale missing", "Inverted dropout scales the kept units by "
                         "1/(1-p) in forward; backward scales their gradient the same way.",
                         lambda dout, kept, p: dout * kept),
        _dropout_variant("scaled by 1/(1-p) twice", "The mask in the cache already includes "
                         "the 1/(1-p) scale.", lambda dout, kept, p: dout * kept / (1 - p) ** 2),
        _dropout_variant("scaled by 1/p instead of 1/(1-p)", "p is the probability of "
                         "DROPPING a unit; kept units are scaled by 1 over the keep "
                         "probability.", lambda dout, kept, p: dout * kept / p),
        negated(),
    )},
)


def _batchnorm_inputs(rng, case):
    """dout (N, D) and the cache of nnlab.layers.batchnorm_forward (train mode), N != D."""
    from nnlab.layers import batchnorm_forward

    N = sizes(rng, 1, 5, 9)[0]
    D = sizes(rng, 1, 2, 4)[0]
    x = rng.normal(rng.uniform(-2, 2, size=D), rng.uniform(0.5, 3, size=D), size=(N, D))
    gamma = away_from_zero(rng, (D,), 0.5, 2.0)
    beta = rng.standard_normal(D)
    _, cache = batchnorm_forward(x, gamma, beta)
    return rng.standard_normal((N, D)), cache


def _bn_parts(inp):
    dout, cache = inp
    return (np.asarray(dout), np.asarray(cache["x_hat"]), np.asarray(cache["gamma"]),
            np.asarray(cache["std"]))


def _bn_constant_stats(inp, ref):
    dout, x_hat, gamma, std = _bn_parts(inp)
    return dout * gamma / std, ref[1], ref[2]


def _bn_wrong_axis(inp, ref):
    dout, x_hat, _, _ = _bn_parts(inp)
    return ref[0], (dout * x_hat).sum(axis=1), dout.sum(axis=1)


def _bn_mean(inp, ref):
    n = np.shape(inp[0])[0]
    return ref[0], np.asarray(ref[1]) / n, np.asarray(ref[2]) / n


_BATCHNORM = Exercise(
    id="batchnorm_backward",
    title="Lesson 06: batch normalization, backward",
    signature="batchnorm_backward(dout, cache)",
    load_reference=Ref("layers", "batchnorm_backward"),
    make_inputs=_batchnorm_inputs,
    describe=describe_batchnorm,
    outputs=(
        Output("dx", "dx", "x has shape (N, D) = {shape}"),
        Output("dgamma", "dgamma", "gamma has shape (D,) = {shape}"),
        Output("dbeta", "dbeta", "beta has shape (D,) = {shape}"),
    ),
    unpack=Several(("dx", "dgamma", "dbeta"), "batchnorm_backward(dout, cache)"),
    variants={v.name: v for v in (
        Variant("summed over the wrong axis", "gamma and beta have one entry per feature: sum "
                "over the batch axis (the N rows).", answer=_bn_wrong_axis),
        Variant("scaled by 1/N", "gamma and beta are used by all N rows: "
                "add up their gradients, don't average them.", answer=_bn_mean),
        Variant("mean and variance treated as constants", "The batch mean and variance depend "
                "on every x_i too: dx needs the paths through them.",
                answer=_bn_constant_stats),
        Variant("gamma missing", "out = gamma * x_hat + beta: on its way from out to x_hat "
                "the gradient passes through gamma.", answer=lambda inp, ref: (
                    np.asarray(ref[0]) / _bn_parts(inp)[2], ref[1], ref[2])),
        Variant("x_hat missing", "out = gamma * x_hat + beta: the derivative of out with "
                "respect to gamma is x_hat, not 1.",
                answer=lambda inp, ref: (ref[0], np.asarray(inp[0]).sum(axis=0), ref[2])),
        negated(),
    )},
)


EXERCISES = (_DROPOUT, _BATCHNORM)
