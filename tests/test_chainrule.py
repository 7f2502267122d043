"""The chain rule example of lesson 01, against central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlab import chainrule
from nnlab.gradcheck import numerical_jacobian, rel_error

FAST = settings(max_examples=40, deadline=None)
xs = st.floats(-3, 3, allow_nan=False)


def assert_matches_numeric(got, numeric, name):
    """Relative error < 1e-7 entry by entry, for entries of at least 1e-3.

    Where a derivative is ~0 (e.g. d(x^2 sin x)/dx at x = 0) central differences leave
    ~1e-10 of truncation and rounding error, so a relative comparison means nothing;
    those entries are held to an absolute 1e-9 instead.
    """
    numeric = np.asarray(numeric)
    assert got.shape == numeric.shape, f"{name}: shape {got.shape} vs {numeric.shape}"
    resolvable = np.abs(numeric) >= 1e-3
    if resolvable.any():
        err = rel_error(got[resolvable], numeric[resolvable])
        assert err < 1e-7, f"{name}: relative error {err:.2e}"
    tiny_err = np.max(np.abs(got - numeric)[~resolvable], initial=0.0)
    assert tiny_err < 1e-9, f"{name}: absolute error {tiny_err:.2e} on entries below 1e-3"


@FAST
@given(x=xs)
def test_dg_dx_matches_central_differences(x):
    jac = chainrule.dg_dx(x)
    assert jac.shape == (2, 1)
    assert_matches_numeric(jac, numerical_jacobian(chainrule.compose, x), "dg/dx")


@FAST
@given(x=xs)
def test_df_dx_matches_central_differences(x):
    assert_matches_numeric(chainrule.df_dx(x), numerical_jacobian(chainrule.f, x), "df/dx")


@FAST
@given(y1=xs, y2=xs)
def test_dg_df_matches_central_differences(y1, y2):
    y = np.array([y1, y2])
    jac = chainrule.dg_df(y)
    assert jac.shape == (2, 2)
    assert_matches_numeric(jac, numerical_jacobian(chainrule.g, y), "dg/df")


def test_values_and_the_explicit_formula():
    x = 0.7
    assert np.allclose(chainrule.f(x), [0.49, np.sin(0.7)])
    assert np.allclose(chainrule.compose(x), [0.49 * np.sin(0.7), 0.49 + np.exp(np.sin(0.7))])
    # d/dx [x^2 sin x, x^2 + exp(sin x)]
    expected = [[2 * x * np.sin(x) + x**2 * np.cos(x)], [2 * x + np.exp(np.sin(x)) * np.cos(x)]]
    assert rel_error(chainrule.dg_dx(x), np.array(expected)) < 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        chainrule.f(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        chainrule.g(np.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        chainrule.f("1.0")
    with pytest.raises(ValueError, match="finite"):
        chainrule.dg_dx(float("nan"))
