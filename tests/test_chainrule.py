"""The chain rule example of lesson 01, against central differences."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnlab import chainrule
from nnlab.gradcheck import numerical_jacobian, rel_error

FAST = settings(max_examples=40, deadline=None)
xs = st.floats(-3, 3, allow_nan=False)


@FAST
@given(x=xs)
def test_dg_dx_matches_central_differences(x):
    jac = chainrule.dg_dx(x)
    assert jac.shape == (2, 1)
    # where a derivative is ~0 (e.g. x = 0) central differences leave ~1e-10 of truncation
    # error, so a relative comparison is meaningless there
    assume(np.all(np.abs(jac) > 1e-3))
    assert rel_error(jac, numerical_jacobian(chainrule.compose, x)) < 1e-7


@FAST
@given(x=xs)
def test_df_dx_matches_central_differences(x):
    jac = chainrule.df_dx(x)
    assume(np.all(np.abs(jac) > 1e-3))
    assert rel_error(jac, numerical_jacobian(chainrule.f, x)) < 1e-7


@FAST
@given(y1=xs, y2=xs)
def test_dg_df_matches_central_differences(y1, y2):
    y = np.array([y1, y2])
    jac = chainrule.dg_df(y)
    assert jac.shape == (2, 2)
    assume(np.all(np.abs(jac) > 1e-3))
    assert rel_error(jac, numerical_jacobian(chainrule.g, y)) < 1e-7


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
