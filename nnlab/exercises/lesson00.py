"""Lesson 00: a numerically stable softmax."""

import numpy as np

from nnlab.feedback import Describe, Output, Single

from ._catalogue import (MAX_SHIFT_HINT, OVERFLOW_HINT, Exercise, Ref, Variant, logits, naive_softmax,
                         sizes, stable_softmax)


def _softmax_inputs(rng, case):
    return (logits(rng, sizes(rng, 1, 3, 7)[0], case),)


_SOFTMAX = Exercise(
    id="softmax",
    title="A numerically stable softmax of a column of logits",
    signature="softmax(theta)",
    load_reference=Ref("functional", "softmax"),
    make_inputs=_softmax_inputs,
    describe=Describe(("theta",)),
    outputs=(Output("softmax", "softmax(theta)", "it has the shape of theta, (C, 1) = {shape}"),),
    unpack=Single("softmax"),
    variants={v.name: v for v in (
        Variant("softmax without the max-shift overflows", MAX_SHIFT_HINT,
                answer=lambda inp, ref: naive_softmax(inp[0])),
        Variant("normalized over the wrong axis", "theta is a column (C, 1): the C "
                "probabilities down the column sum to 1.",
                answer=lambda inp, ref: stable_softmax(inp[0], axis=1)),
        Variant("not normalized", "Divide by the sum of the exponentials, so the "
                "probabilities sum to 1.",
                answer=lambda inp, ref: np.exp(inp[0] - np.max(inp[0]))),
    )},
    nonfinite_hint=OVERFLOW_HINT,
)


EXERCISES = (_SOFTMAX,)
