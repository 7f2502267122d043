"""Lesson 01: dg/dx of g(f(x)) by the chain rule."""

import numpy as np

from nnlab.feedback import Describe, Output, Single

from ._catalogue import Exercise, Ref, Variant, away_from_zero, negated


def _chain_inputs(rng, case):
    return (float(away_from_zero(rng, (), 0.3, 2.0)),)


def _chain_one_path(inp, ref):
    from nnlab.chainrule import df_dx, dg_df, f

    (x,) = inp
    return dg_df(f(x))[:, :1] * df_dx(x)[0, 0]


def _chain_dgdf_transposed(inp, ref):
    from nnlab.chainrule import df_dx, dg_df, f

    (x,) = inp
    return dg_df(f(x)).T @ df_dx(x)


_CHAIN = Exercise(
    id="chain_rule.dg_dx",
    title="Lesson 01: dg/dx of g(f(x)) by the chain rule",
    signature="dg_dx(x)",
    load_reference=Ref("chainrule", "dg_dx"),
    make_inputs=_chain_inputs,
    describe=Describe(("x",)),
    outputs=(Output("dg/dx", "dg/dx",
                    "dg/dx has one row per output g_i and one column for x: (2, 1) = {shape}"),),
    unpack=Single("dg/dx"),
    variants={v.name: v for v in (
        Variant("transposed", "Rows of a Jacobian index the outputs g_1, g_2; "
                "its one column is for x.", answer=lambda inp, ref: np.asarray(ref).T),
        negated(),
        Variant("a path of the chain rule is missing",
                "x reaches each g_i through both f_1 and f_2: add the two products, "
                "one per path.", answer=_chain_one_path),
        Variant("dg/df transposed", "In dg/df, row i holds the derivatives of g_i "
                "with respect to f_1, f_2 (numerator layout).", answer=_chain_dgdf_transposed),
    )},
)


EXERCISES = (_CHAIN,)
