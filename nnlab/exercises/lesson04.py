"""Lesson 04: the gradient of the mean squared error of a line."""

from typing import Callable

import numpy as np

from nnlab.feedback import Describe, Output, Several

from ._catalogue import Exercise, Ref, Variant, negated


def _mse_inputs(rng, case):
    N = int(rng.integers(5, 31))
    x = rng.normal(0.0, 2.0, size=N)
    y = rng.uniform(-1.5, 1.5) * x + rng.uniform(-3, 3) + rng.normal(0.0, 0.5, size=N)
    return float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2)), np.column_stack([x, y])


def _mse_scaled(factor: Callable[[int], float]):
    def answer(inp, ref):
        n = len(inp[2])
        return tuple(float(v) * factor(n) for v in ref)
    return answer


def _mse_no_intercept(inp, ref):
    """The gradient with the residual y - m x: b left out of the prediction."""
    _, m, points = inp
    x, y = points[:, 0], points[:, 1]
    r = y - m * x
    return float(-2.0 * r.mean()), float(-2.0 * (x * r).mean())


_MSE = Exercise(
    id="mse_gradient",
    title="Lesson 04: gradient of the mean squared error of a line",
    signature="mse_gradient(b, m, points)",
    load_reference=Ref("regression", "mse_gradient"),
    make_inputs=_mse_inputs,
    describe=Describe(("b", "m", "points",)),
    outputs=(Output("dJ/db", "dJ/db", scalar=True), Output("dJ/dm", "dJ/dm", scalar=True)),
    unpack=Several(("dJ/db", "dJ/dm"), "mse_gradient(b, m, points)"),
    variants={v.name: v for v in (
        negated("The error is y - (m x + b): its derivative in b and m carries a minus sign."),
        Variant("scaled by N", "J is the MEAN squared error, not the sum: divide "
                "the sum over the points by N.", answer=_mse_scaled(lambda n: n)),
        Variant("scaled by 1/N", "You divided by N twice: a mean already includes it.",
                answer=_mse_scaled(lambda n: 1.0 / n)),
        Variant("factor 2 missing", "The derivative of r**2 is 2 r.",
                answer=_mse_scaled(lambda n: 0.5)),
        Variant("gradient of the half sum of squares",
                "That is the loop's gradient from the notes (no 2, no 1/N); J here is the "
                "mean of the squared errors.", answer=_mse_scaled(lambda n: n / 2.0)),
        Variant("dJ/db and dJ/dm swapped", "Return them in the order (dJ_db, dJ_dm).",
                answer=lambda inp, ref: (ref[1], ref[0])),
        Variant("bias missing", "The line's prediction is m x + b: the residual "
                "y - (m x + b) includes the intercept b.", answer=_mse_no_intercept),
    )},
)


EXERCISES = (_MSE,)
