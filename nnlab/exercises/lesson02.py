"""Lesson 02: the seven identities."""

import numpy as np

from nnlab.feedback import Derivative, Describe, Output, Single

from ._catalogue import (MAX_SHIFT_HINT, OVERFLOW_HINT, Exercise, Ref, Variant, away_from_zero, logits,
                         naive_softmax, negated, one_hot, sizes)


def _id1_inputs(rng, case):
    n, m = sizes(rng, 2)
    return rng.standard_normal((n, m)), rng.standard_normal((m, 1))


def _id2_inputs(rng, case):
    n, m = sizes(rng, 2)
    return rng.standard_normal((n, m)), rng.standard_normal((1, n))


def _id3_inputs(rng, case):
    return (rng.standard_normal((sizes(rng, 1, 2, 6)[0], 1)),)


# The derivatives f' the student's function receives, named as messages show them.
F_PRIMES = (
    Derivative("cos (f = sin)", "cos"),
    Derivative("1 - tanh(x)**2 (f = tanh)", "sech2"),
    Derivative("exp (f = exp)", "exp"),
    Derivative("2 x (f = x**2)", "2x"),
)


def _id4_inputs(rng, case):
    n = sizes(rng, 1, 2, 6)[0]
    f_prime = F_PRIMES[int(rng.integers(len(F_PRIMES)))]
    return f_prime, away_from_zero(rng, (n, 1), 0.2, 2.0)


def _id5_inputs(rng, case):
    n, m = sizes(rng, 2)
    return rng.standard_normal((1, n)), rng.standard_normal((m, 1))


def _id6_inputs(rng, case):
    n, m = sizes(rng, 2)
    return rng.standard_normal((1, m)), rng.standard_normal((1, n))


def _id7_inputs(rng, case):
    classes = sizes(rng, 1, 3, 7)[0]
    return logits(rng, classes, case), one_hot(rng, classes)


_JACOBIAN_LAYOUT = ("In numerator layout row i holds the derivatives of z_i and column j "
                    "those with respect to x_j.")


def _identity(number, signature, title, make_inputs, names, output, variants, **extra):
    name = signature.split("(")[0]
    return Exercise(
        id=f"identity{number}",
        title=f"Lesson 02, identity ({number}): {title}",
        signature=signature,
        load_reference=Ref("identities", name),
        make_inputs=make_inputs,
        describe=Describe(tuple(names)),
        outputs=(output,),
        unpack=Single(output.key),
        variants={v.name: v for v in variants},
        **extra,
    )


_IDENTITIES = (
    _identity(1, "dz_dx_Wx(W, x)", "z = W x, dz/dx", _id1_inputs, ("W", "x"),
              Output("dz/dx", "dz/dx", "dz/dx has one row per z_i and one column per x_j: "
                     "(n, m) = {shape}"),
              (Variant("transposed", _JACOBIAN_LAYOUT,
                       answer=lambda inp, ref: np.asarray(ref).T),
               negated("z = W x has no minus sign: neither has dz/dx."))),
    _identity(2, "dz_dx_xW(W, x)", "z = x W, dz/dx", _id2_inputs, ("W", "x"),
              Output("dz/dx", "dz/dx", "dz/dx has one row per z_i and one column per x_j: "
                     "(m, n) = {shape}"),
              (Variant("transposed", "z_i = sum_k x_k W_ki: write out dz_i/dx_j and see "
                       "which entry of W it is (rows of dz/dx index z).",
                       answer=lambda inp, ref: np.asarray(ref).T),
               negated("z = x W has no minus sign: neither has dz/dx."))),
    _identity(3, "dz_dx_identity(x)", "z = x, dz/dx", _id3_inputs, ("x",),
              Output("dz/dx", "dz/dx", "dz/dx of z = x is (n, n) = {shape}"),
              (Variant("ones everywhere, not the identity",
                       "dz_i/dx_j is 1 only when i == j; off the diagonal it is 0.",
                       answer=lambda inp, ref: np.ones_like(ref)),
               Variant("returned x, not a Jacobian",
                       "dz/dx is an (n, n) matrix of derivatives dz_i/dx_j, not the vector x.",
                       answer=lambda inp, ref: np.array(inp[0])),
               negated())),
    _identity(4, "dz_dx_elementwise(f_prime, x)", "z = f(x) elementwise, dz/dx",
              _id4_inputs, ("f_prime", "x"),
              Output("dz/dx", "dz/dx", "dz/dx is (n, n) = {shape}, one row per z_i"),
              (Variant("a vector, not a diagonal matrix",
                       "z_i depends only on x_i, so dz/dx is an (n, n) matrix with f'(x_i) "
                       "at (i, i) and zeros elsewhere.",
                       answer=lambda inp, ref: np.asarray(inp[0](inp[1]), dtype=float)),
               Variant("f'(x) broadcast, not on the diagonal",
                       "dz_i/dx_j is 0 when i != j: z_i does not depend on the other x_j.",
                       answer=lambda inp, ref: np.tile(np.asarray(inp[0](inp[1])).reshape(-1, 1),
                                                       (1, np.size(inp[1])))),
               Variant("f' not applied",
                       "The diagonal holds the derivatives f'(x_i), not x_i: call f_prime.",
                       answer=lambda inp, ref: np.diag(np.ravel(inp[1]))),
               negated())),
    _identity(5, "dJ_dW_Wx(delta, x)", "z = W x, dJ/dW", _id5_inputs, ("delta", "x"),
              Output("dJ/dW", "dJ/dW", "W has shape (n, m) = {shape}"),
              (Variant("outer product reversed",
                       "Entry (i, j) of dJ/dW is delta_i x_j (i runs over z, j over x), so "
                       "dJ/dW is shaped like W; yours is its transpose.",
                       answer=lambda inp, ref: np.asarray(ref).T),
               negated())),
    _identity(6, "dJ_dW_xW(delta, x)", "z = x W, dJ/dW", _id6_inputs, ("delta", "x"),
              Output("dJ/dW", "dJ/dW", "W has shape (n, m) = {shape}"),
              (Variant("outer product reversed",
                       "Entry (i, j) of dJ/dW is x_i delta_j (i runs over x, j over z), so "
                       "dJ/dW is shaped like W; yours is its transpose.",
                       answer=lambda inp, ref: np.asarray(ref).T),
               negated())),
    _identity(7, "dJ_dtheta(theta, y)", "softmax + cross-entropy, dJ/dtheta", _id7_inputs,
              ("theta", "y"),
              Output("dJ/dtheta", "dJ/dtheta",
                     "in numerator layout dJ/dtheta is a row (1, C) = {shape}"),
              (Variant("transposed", "dJ/dtheta is the Jacobian of the scalar J: one row, "
                       "one column per logit.", answer=lambda inp, ref: np.asarray(ref).T),
               negated("The gradient is yhat minus y, not y minus yhat."),
               Variant("softmax missing", "yhat is softmax(theta), not theta itself.",
                       answer=lambda inp, ref: (inp[0] - inp[1]).T),
               Variant("softmax without the max-shift overflows", MAX_SHIFT_HINT,
                       answer=lambda inp, ref: (naive_softmax(inp[0]) - inp[1]).T)),
              nonfinite_hint=OVERFLOW_HINT),
)


EXERCISES = (*_IDENTITIES,)
