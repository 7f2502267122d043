"""Lesson 03: the one-layer network, column form (backward, graded per gradient) and batch form (backward_batch)."""

from typing import Callable

import numpy as np

from nnlab.feedback import Keyed, Output, describe_batch, describe_cache

from ._catalogue import (MASK_HINT, Exercise, Ref, Variant, away_from_zero, map_answer, negated,
                         one_hot, sizes, stable_softmax)


_ONELAYER_KEYS = ("delta1", "delta2", "U", "b2", "W", "b1", "x")


def _onelayer_inputs(rng, case):
    """A cache from nnlab.onelayer.forward with random Dx, Dh, Nc (distinct, Dh >= 3).

    b1 is chosen so that every z_i is at least 0.2 away from the ReLU kink, some z_i are
    negative (the mask matters) and at least one z_i has the opposite sign of (W x)_i (the
    bias matters).
    """
    from nnlab.onelayer import forward

    Dh, Dx, Nc = sizes(rng, 3, 3, 7)
    x = rng.standard_normal((Dx, 1))
    W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
    Wx = W @ x
    z = away_from_zero(rng, (Dh, 1), 0.2, 1.5)
    z[0, 0] = -np.sign(Wx[0, 0]) * abs(z[0, 0])  # the bias flips this unit
    z[1, 0], z[2, 0] = abs(z[1, 0]), -abs(z[2, 0])  # both signs occur
    z = z[rng.permutation(Dh)]
    b1 = z - Wx
    U = rng.standard_normal((Nc, Dh)) / np.sqrt(Dh)
    b2 = rng.standard_normal((Nc, 1)) * 0.5
    y = one_hot(rng, Nc)
    _, cache = forward(x, y, W, b1, U, b2)
    return (cache,)


def _grads_from_delta2(cache, delta2) -> dict:
    """dJ/dW, dJ/db1, dJ/dx that a given delta2 (1, Dh) leads to."""
    x, W = np.asarray(cache["x"]), np.asarray(cache["W"])
    return {"delta2": delta2, "W": delta2.T @ x.T, "b1": delta2.T, "x": (delta2 @ W).T}


def _ol_no_mask(cache, ref):
    return _grads_from_delta2(cache, np.asarray(ref["delta1"]) @ np.asarray(cache["U"]))


def _ol_no_bias(cache, ref):
    W, x = np.asarray(cache["W"]), np.asarray(cache["x"])
    mask = ((W @ x) > 0).T
    return _grads_from_delta2(cache, (np.asarray(ref["delta1"]) @ np.asarray(cache["U"])) * mask)


def _ol_variant(key: str, name: str, hint: str, wrong: Callable) -> Variant:
    """A variant of backward(cache) that is wrong in `key` only: wrong(cache, ref) -> value."""
    def answer(inp, ref):
        return {**ref, key: wrong(inp[0], ref)}
    return Variant(name, hint, answer=answer)


def _ol_common(key: str) -> list:
    return [
        _ol_variant(key, "transposed", "A gradient dJ/dP is shaped like P; delta1 and delta2 "
                    "are rows (Jacobians of the scalar J).", lambda c, r: np.asarray(r[key]).T),
        _ol_variant(key, "negated", "Every entry has the wrong sign: delta1 is yhat - y, "
                    "not y - yhat.", lambda c, r: -np.asarray(r[key])),
    ]


_BIAS_HINT = "ReLU'(z) uses z = W x + b1: b1 decides which units are active."


def _onelayer_variants(key: str) -> list:
    variants = _ol_common(key)
    if key == "delta1":
        variants += [
            _ol_variant(key, "softmax missing", "yhat is softmax(theta), not theta itself.",
                        lambda c, r: (np.asarray(c["theta"]) - np.asarray(c["y"])).T),
            _ol_variant(key, "bias missing", "theta = U h + b2: b2 is part of the logits.",
                        lambda c, r: (stable_softmax(np.asarray(c["U"]) @ np.asarray(c["h"]))
                                      - np.asarray(c["y"])).T),
        ]
    if key == "U":
        variants[0] = _ol_variant(key, "outer product reversed",
                                  "Entry (i, j) of dJ/dU is delta1_i h_j: it is shaped like U, "
                                  "yours is its transpose.",
                                  lambda c, r: np.asarray(r[key]).T)
        variants += [
            _ol_variant(key, "z used instead of h", "theta = U h + b2 uses the activations "
                        "h = ReLU(z), not z.",
                        lambda c, r: np.asarray(r["delta1"]).T @ np.asarray(c["z"]).T),
            _ol_variant(key, "bias missing", "h = ReLU(W x + b1): include b1 when you "
                        "compute h (or use h from the cache).",
                        lambda c, r: np.asarray(r["delta1"]).T
                        @ np.maximum(np.asarray(c["W"]) @ np.asarray(c["x"]), 0).T),
        ]
    if key == "W":
        variants[0] = _ol_variant(key, "outer product reversed",
                                  "Entry (i, j) of dJ/dW is delta2_i x_j: it is shaped like W, "
                                  "yours is its transpose.",
                                  lambda c, r: np.asarray(r[key]).T)
    if key == "delta2":
        variants.append(_ol_variant(key, "multiplied by h, not by ReLU'(z)",
                                    "The derivative of ReLU is 1 where z > 0 and 0 elsewhere, "
                                    "not h itself.",
                                    lambda c, r: (np.asarray(r["delta1"]) @ np.asarray(c["U"]))
                                    * np.asarray(c["h"]).T))
    if key in ("delta2", "W", "b1", "x"):
        variants += [
            _ol_variant(key, "ReLU mask missing", MASK_HINT,
                        lambda c, r: _ol_no_mask(c, r)[key]),
            _ol_variant(key, "bias missing", _BIAS_HINT, lambda c, r: _ol_no_bias(c, r)[key]),
        ]
    return variants


_ONELAYER_OUTPUTS = {
    "delta1": Output("delta1", "delta1 = dJ/dtheta", "delta1 is a row (1, Nc) = {shape}"),
    "delta2": Output("delta2", "delta2 = dJ/dz", "delta2 is a row (1, Dh) = {shape}"),
    "U": Output("U", "dJ/dU", "U has shape (Nc, Dh) = {shape}"),
    "b2": Output("b2", "dJ/db2", "b2 has shape (Nc, 1) = {shape}"),
    "W": Output("W", "dJ/dW", "W has shape (Dh, Dx) = {shape}"),
    "b1": Output("b1", "dJ/db1", "b1 has shape (Dh, 1) = {shape}"),
    "x": Output("x", "dJ/dx", "x has shape (Dx, 1) = {shape}"),
}

_ONELAYER = tuple(
    Exercise(
        id=f"onelayer.{key}",
        title=f"Lesson 03: the one-layer network, {_ONELAYER_OUTPUTS[key].label}",
        signature="backward(cache)",
        load_reference=Ref("onelayer", "backward"),
        make_inputs=_onelayer_inputs,
        describe=describe_cache,
        outputs=(_ONELAYER_OUTPUTS[key],),
        unpack=Keyed((key,), "backward(cache)"),
        variants={v.name: v for v in _onelayer_variants(key)},
    )
    for key in _ONELAYER_KEYS
)


# --------------------------------------------------------------------------------------
# Lesson 03: the one-layer network, batch form
# --------------------------------------------------------------------------------------

_BATCH_KEYS = ("U", "b2", "W", "b1", "X")


def _batch_inputs(rng, case):
    """A cache from nnlab.onelayer.forward_batch; N, Dx, Dh, Nc distinct, no Z near 0,
    some Z < 0, and some unit whose sign the bias flips."""
    from nnlab.onelayer import forward_batch

    N, Dx, Dh, Nc = sizes(rng, 4, 2, 8)
    labels = rng.integers(0, Nc, size=N)
    U = rng.standard_normal((Nc, Dh)) / np.sqrt(Dh)
    b2 = rng.standard_normal((Nc, 1)) * 0.5
    for _ in range(1000):
        X = rng.standard_normal((N, Dx))
        W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
        b1 = rng.standard_normal((Dh, 1))
        XW = X @ W.T
        Z = XW + b1.T
        if (np.min(np.abs(Z)) > 0.05 and (Z < 0).any() and (Z > 0).any()
                and ((XW > 0) != (Z > 0)).any()):
            break
    _, cache = forward_batch(X, labels, W, b1, U, b2)
    return (cache,)


def _batch_dtheta(cache) -> np.ndarray:
    """dJ/dTheta (N, Nc) of the mean cross-entropy, from nnlab.functional."""
    from nnlab.functional import softmax_cross_entropy_batch

    return softmax_cross_entropy_batch(cache["Theta"], cache["labels"])[1]


def _batch_from_dZ(cache, ref, dZ) -> dict:
    """The answer dict (U and b2 as in ref) that a given dJ/dZ (N, Dh) leads to."""
    X, W = np.asarray(cache["X"]), np.asarray(cache["W"])
    return {**ref, "W": dZ.T @ X, "b1": dZ.sum(axis=0).reshape(np.shape(ref["b1"])),
            "X": dZ @ W}


def _batch_wrong_axis(inp, ref):
    (cache,) = inp
    dtheta = _batch_dtheta(cache)
    dZ = (dtheta @ np.asarray(cache["U"])) * (np.asarray(cache["Z"]) > 0)
    return {**ref, "b2": dtheta.sum(axis=1, keepdims=True), "b1": dZ.sum(axis=1, keepdims=True)}


def _batch_no_mask(inp, ref):
    (cache,) = inp
    return _batch_from_dZ(cache, ref, _batch_dtheta(cache) @ np.asarray(cache["U"]))


def _batch_no_bias(inp, ref):
    (cache,) = inp
    mask = (np.asarray(cache["X"]) @ np.asarray(cache["W"]).T) > 0
    return _batch_from_dZ(cache, ref, (_batch_dtheta(cache) @ np.asarray(cache["U"])) * mask)


def _batch_scaled(factor: Callable[[int], float]):
    def answer(inp, ref):
        n = np.shape(inp[0]["X"])[0]
        return {k: np.asarray(v) * factor(n) for k, v in ref.items()}
    return answer


_BATCH = Exercise(
    id="onelayer_batch",
    title="Lesson 03: the one-layer network on a batch, all gradients",
    signature="backward_batch(cache)",
    load_reference=Ref("onelayer", "backward_batch"),
    make_inputs=_batch_inputs,
    describe=describe_batch,
    outputs=(
        Output("U", "dJ/dU", "U has shape (Nc, Dh) = {shape}"),
        Output("b2", "dJ/db2", "b2 has shape (Nc, 1) = {shape}"),
        Output("W", "dJ/dW", "W has shape (Dh, Dx) = {shape}"),
        Output("b1", "dJ/db1", "b1 has shape (Dh, 1) = {shape}"),
        Output("X", "dJ/dX", "X has shape (N, Dx) = {shape}"),
    ),
    unpack=Keyed(_BATCH_KEYS, "backward_batch(cache)"),
    variants={v.name: v for v in (
        Variant("transposed", "A gradient is shaped like its parameter: {label} has the "
                "shape of the matrix it differentiates.",
                answer=lambda inp, ref: map_answer(ref, np.transpose)),
        negated("Every entry has the wrong sign: dJ/dTheta is (Yhat - Y) / N."),
        Variant("scaled by N", "J is the MEAN loss over the batch, not the sum: "
                "each example's gradient carries a factor 1/N.",
                answer=_batch_scaled(lambda n: n)),
        Variant("scaled by 1/N", "You divided by N twice: dJ/dTheta already has the 1/N "
                "of the mean, the later gradients inherit it.",
                answer=_batch_scaled(lambda n: 1.0 / n)),
        Variant("summed over the wrong axis", "A bias is shared by all N examples: sum its "
                "gradient over the batch axis, one entry per unit.", answer=_batch_wrong_axis),
        Variant("ReLU mask missing", MASK_HINT.replace("z > 0", "Z > 0").replace("(z)", "(Z)"),
                answer=_batch_no_mask),
        Variant("bias missing", "ReLU'(Z) uses Z = X W^T + b1^T: b1 decides which units are "
                "active (or use Z from the cache).", answer=_batch_no_bias),
    )},
)


EXERCISES = (*_ONELAYER, _BATCH)
