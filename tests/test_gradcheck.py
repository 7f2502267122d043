"""Numerical differentiation and the readable gradient check."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnlab.functional import relu, relu_grad
from nnlab.gradcheck import (
    check,
    eval_numerical_gradient_array,
    near_kink,
    numerical_gradient,
    numerical_jacobian,
    rel_abs_error,
    rel_error,
)

from numeric import assert_matches_numeric

FAST = settings(max_examples=30, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


# ------------------------------------------------------------------ numerical_jacobian

@FAST
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_jacobian_of_linear_map_is_the_matrix(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x = rng.standard_normal((n, m)), rng.standard_normal((m, 1))
    jac = numerical_jacobian(lambda v: W @ v, x)
    assert jac.shape == (n, m)
    assert_matches_numeric(W, jac, "linear map")


@FAST
@given(in_shape=shapes, out_shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_jacobian_any_shapes_numerator_layout(in_shape, out_shape, seed):
    """f(x) = reshape(A @ x.ravel() + sin(x).sum()): Jacobian A + cos(x) broadcast over rows."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape)
    n_out = int(np.prod(out_shape))
    A = rng.standard_normal((n_out, x.size))

    def f(v):
        return (A @ v.ravel() + np.sin(v).sum()).reshape(out_shape)

    jac = numerical_jacobian(f, x)
    expected = A + np.cos(x).ravel()[None, :]
    assert jac.shape == (n_out, x.size)
    assert_matches_numeric(expected, jac, "A + cos(x)")


def test_jacobian_of_elementwise_function_is_diagonal():
    x = np.array([[0.3], [-1.2], [2.0]])
    jac = numerical_jacobian(np.tanh, x)
    assert rel_error(jac, np.diag(1 - np.tanh(x.ravel()) ** 2)) < 1e-7


def test_jacobian_accepts_ints_and_scalars_and_never_mutates_input():
    x = np.array([1, 2, 3])
    jac = numerical_jacobian(lambda v: v**2, x)
    assert rel_error(jac, np.diag([2.0, 4.0, 6.0])) < 1e-7
    assert x.dtype.kind == "i" and x.tolist() == [1, 2, 3]
    assert numerical_jacobian(lambda v: np.array([v, 3 * v]), 2.0).shape == (2, 1)


def test_input_array_is_unchanged_even_if_f_mutates_its_argument():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = x.copy()

    def f(v):
        out = (v**2).sum()
        v *= 10.0  # a careless f
        return out

    grad = numerical_gradient(f, x)
    assert np.array_equal(x, before)
    assert rel_error(grad, 2 * before) < 1e-7


# ------------------------------------------------------------------ numerical_gradient

@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_gradient_is_shaped_like_x(shape, seed):
    rng = np.random.default_rng(seed)
    # |x| >= 0.5 keeps 3 A x^2 well away from 0, where a relative error means nothing
    x = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    A = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    grad = numerical_gradient(lambda v: np.sum(A * v**3), x)
    assert grad.shape == x.shape
    assert rel_error(grad, 3 * A * x**2) < 1e-7


def test_gradient_accepts_a_1x1_loss_and_rejects_vectors():
    x = np.array([[1.0], [2.0]])
    assert rel_error(numerical_gradient(lambda v: v.T @ v, x), 2 * x) < 1e-7
    with pytest.raises(ValueError, match=r"scalar.*\(2, 1\)"):
        numerical_gradient(lambda v: v, x)


# ------------------------------------------------------------------ vector-Jacobian

@FAST
@given(n=st.integers(1, 5), d=st.integers(1, 5), m=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1))
def test_eval_numerical_gradient_array_is_vector_jacobian_product(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.uniform(-1, 1, (n, d)), rng.standard_normal((n, m))
    w = rng.standard_normal((d, m)) / np.sqrt(d)  # keeps tanh out of saturation
    dx = eval_numerical_gradient_array(lambda v: np.tanh(v @ w), x, dout)
    expected = (dout * (1 - np.tanh(x @ w) ** 2)) @ w.T
    assert dx.shape == x.shape
    # an entry of ~1e-9 cannot be resolved to 1e-7 relative by central differences
    assume(np.all(np.abs(expected) > 1e-3))
    assert rel_error(dx, expected) < 1e-7
    # the same as the full Jacobian contracted with dout
    jac = numerical_jacobian(lambda v: np.tanh(v @ w), x)
    assert rel_error(dx, (dout.ravel() @ jac).reshape(x.shape)) < 1e-7


def test_eval_numerical_gradient_array_checks_df_shape():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        eval_numerical_gradient_array(lambda v: 2 * v, np.ones(2), np.ones(3))


# ------------------------------------------------------------------ rel_error

def test_rel_error_formula():
    a = np.array([1.0, 0.0, 2.0])
    b = np.array([1.0, 0.0, 1.0])
    assert rel_error(a, b) == pytest.approx(1 / 3)
    assert rel_error(a, a) == 0.0
    assert rel_error(0.0, 1e-9) == pytest.approx(0.1)  # the 1e-8 floor


def test_rel_error_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        rel_error(np.ones((3, 4)), np.ones((4, 3)))


# ------------------------------------------------------------------ rel_abs_error

def test_exact_zero_scores_a_large_relative_error_but_a_tiny_absolute_one():
    """d(x^3)/dx = 3x^2 is 0 at x = 0, where central differences leave ~1e-10."""
    x = np.array([[0.0], [1.0], [2.0]])
    exact = 3 * x**2
    numeric = numerical_gradient(lambda v: np.sum(v**3), x)
    assert rel_error(exact, numeric) > 5e-3              # "wrong" by the plain rule
    rel, absolute = rel_abs_error(exact, numeric)
    assert rel < 1e-7 and absolute < 1e-9


def test_rel_abs_error_still_catches_wrong_entries_of_both_kinds():
    exact = np.array([0.0, 1.0, 2.0])
    assert rel_abs_error(exact, np.array([0.0, 1.0, 3.0]))[0] == pytest.approx(0.2)
    rel, absolute = rel_abs_error(exact, np.array([5e-4, 1.0, 2.0]))   # 0 vs 5e-4
    assert rel == 0.0 and absolute == pytest.approx(5e-4)
    # a tiny exact value against a large wrong one is judged relatively
    assert rel_abs_error(np.array([0.0]), np.array([0.5])) == (1.0, 0.0)


def test_rel_abs_error_edges_and_bad_input():
    assert rel_abs_error(np.zeros(3), np.zeros(3)) == (0.0, 0.0)
    assert rel_abs_error(np.ones(2), np.ones(2), zero=0.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        rel_abs_error(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="zero"):
        rel_abs_error(np.ones(2), np.ones(2), zero=-1.0)


# ------------------------------------------------------------------ near_kink

def _relu_layer(b1, W, x, v):
    """J = v . relu(W x + b1): W (Dh, Dx), x (Dx, 1), b1 and v (Dh, 1)."""
    return float(np.sum(v * relu(W @ x + b1)))


def test_a_right_gradient_fails_the_check_within_h_of_a_kink_and_passes_once_moved():
    rng = np.random.default_rng(3)
    W, x, v = rng.standard_normal((4, 3)), rng.standard_normal((3, 1)), rng.standard_normal((4, 1))
    b1 = rng.standard_normal((4, 1))
    b1[0] += 3e-6 - (W @ x + b1)[0]                     # unit 0 sits 3e-6 above its kink
    z = W @ x + b1
    exact = v * relu_grad(z)                            # dJ/db1, right by construction
    numeric = numerical_gradient(lambda b: _relu_layer(b, W, x, v), b1)
    assert rel_error(exact, numeric) > 0.1              # order 1, though exact is right
    assert near_kink(z).ravel().tolist() == [True, False, False, False]

    b1_moved = b1 + 1e-3 * near_kink(z)                 # move the point off the kink
    z_moved = W @ x + b1_moved
    assert not near_kink(z_moved).any()
    numeric = numerical_gradient(lambda b: _relu_layer(b, W, x, v), b1_moved)
    assert rel_error(v * relu_grad(z_moved), numeric) < 1e-7


@FAST
@given(seed=st.integers(0, 2**32 - 1), offset=st.floats(1e-7, 1e-3))
def test_off_the_kink_the_check_of_a_relu_layer_holds(seed, offset):
    """Whenever near_kink flags nothing (with the reach of every input), dJ/dW, dJ/db1 and
    dJ/dx of J = v . relu(W x + b1) match central differences."""
    rng = np.random.default_rng(seed)
    W, x, v = rng.standard_normal((3, 2)), rng.standard_normal((2, 1)), rng.standard_normal((3, 1))
    b1 = rng.standard_normal((3, 1))
    b1[0] += offset - (W @ x + b1)[0]                   # unit 0 at +offset from its kink
    z = W @ x + b1
    reach = max(1.0, np.abs(x).max(), np.abs(W).max())
    assume(not near_kink(z, reach=reach).any())
    mask = v * relu_grad(z)                             # (dJ/dz)^T, a column
    for got, numeric in [
        (mask, numerical_gradient(lambda b: _relu_layer(b, W, x, v), b1)),
        (mask @ x.T, numerical_gradient(lambda w: _relu_layer(b1, w, x, v), W)),
        (W.T @ mask, numerical_gradient(lambda u: _relu_layer(b1, W, u, v), x)),
    ]:
        assert_matches_numeric(got, numeric, "relu layer")


def test_near_kink_scales_with_h_and_reach_and_rejects_bad_input():
    z = np.array([[3e-5], [-2e-6], [0.0], [0.5]])
    assert near_kink(z).ravel().tolist() == [False, True, True, False]
    assert near_kink(z, reach=5.0).ravel().tolist() == [True, True, True, False]
    assert near_kink(z, h=1e-7).ravel().tolist() == [False, False, True, False]
    assert near_kink(z).shape == z.shape
    with pytest.raises(ValueError, match="reach"):
        near_kink(z, reach=0.0)
    with pytest.raises(ValueError, match="step h"):
        near_kink(z, h=-1.0)
    with pytest.raises(ValueError, match="non-finite"):
        near_kink(np.array([np.nan]))


# ------------------------------------------------------------------ check

def test_check_returns_the_error_when_it_passes():
    a = np.array([[1.0, 2.0]])
    assert check(a, a.copy(), "dJ/dW") == 0.0
    assert check(a * (1 + 1e-10), a, "dJ/dW") < 1e-9


def test_check_shape_mismatch_message():
    with pytest.raises(AssertionError) as err:
        check(np.ones((3, 4)), np.ones((4, 3)), name="dJ/dW")
    assert "your dJ/dW has shape (3, 4); expected shape (4, 3)" in str(err.value)
    assert "transposed" in str(err.value)


def test_check_reports_max_error_location_and_values():
    expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = expected.copy()
    got[1, 2] = -6.0
    got[0, 0] = 1.001
    with pytest.raises(AssertionError) as err:
        check(got, expected, name="dJ/dU")
    msg = str(err.value)
    assert "dJ/dU" in msg
    assert "largest relative error is 1" in msg
    assert "(1, 2)" in msg
    assert "expected 6" in msg and "got -6" in msg


def test_check_verdict_names_the_kink_and_the_about_zero_cases():
    with pytest.raises(AssertionError, match="wrong, unless a ReLU input.*near_kink"):
        check(np.array([1.0, 2.0]), np.array([1.0, 0.65]), name="dJ/db1")
    with pytest.raises(AssertionError, match="close but not right"):
        check(np.array([1.0, 2.0]), np.array([1.0, 2.0001]))
    with pytest.raises(AssertionError, match=r"about 0.*absolute difference is 1e-10"):
        check(np.array([0.0, 2.0]), np.array([1e-10, 2.0]), name="dg/dx")


def test_check_non_finite_has_its_own_message():
    with pytest.raises(AssertionError, match=r"non-finite.*nan.*\(0, 1\)"):
        check(np.array([[1.0, np.nan]]), np.ones((1, 2)), name="delta1")
    with pytest.raises(AssertionError, match="non-finite"):
        check(np.array([np.inf]), np.ones(1))


def test_check_wrong_types():
    with pytest.raises(AssertionError, match="None"):
        check(None, np.ones(2), name="dJ/db1")
    with pytest.raises(AssertionError, match="dtype"):
        check(np.array(["a", "b"]), np.ones(2))
    with pytest.raises(AssertionError, match="dtype object"):
        check(np.array([object(), object()]), np.ones(2))
    # ints and lists of numbers are fine
    assert check([1, 2], np.array([1.0, 2.0])) == 0.0


# ------------------------------------------------------------------ bad inputs to numerics

@pytest.mark.parametrize("bad", [np.array(["1", "2"]), np.array([1.0, None], dtype=object),
                                 np.array([1 + 2j])])
def test_wrong_dtype_is_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="dtype"):
        numerical_gradient(lambda v: v.sum(), bad)
    with pytest.raises(TypeError, match="dtype"):
        numerical_jacobian(lambda v: v, bad)


def test_non_finite_input_and_output_are_clear_value_errors():
    with pytest.raises(ValueError, match="non-finite"):
        numerical_jacobian(lambda v: v, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="non-finite"):
        numerical_gradient(lambda v: v.sum(), np.array([np.inf]))
    with pytest.raises(ValueError, match="non-finite"), np.errstate(divide="ignore"):
        numerical_gradient(lambda v: np.log(v).sum(), np.array([0.0]))
    with pytest.raises(ValueError, match="step h"):
        numerical_gradient(lambda v: v.sum(), np.ones(2), h=0.0)
