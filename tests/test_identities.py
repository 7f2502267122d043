"""The seven identities, each against central differences on random shapes and values."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlab import identities as I
from nnlab.functional import relu, relu_grad, softmax_cross_entropy
from nnlab.gradcheck import numerical_gradient, numerical_jacobian, rel_error

from numeric import TOL, assert_matches_numeric

FAST = settings(max_examples=30, deadline=None)
dims = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)



@FAST
@given(n=dims, m=dims, seed=seeds)
def test_identity1_matrix_times_column(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x = rng.standard_normal((n, m)), rng.standard_normal((m, 1))
    got = I.dz_dx_Wx(W, x)
    assert got.shape == (n, m)
    assert rel_error(got, numerical_jacobian(lambda v: W @ v, x)) < TOL


@FAST
@given(n=dims, m=dims, seed=seeds)
def test_identity2_row_times_matrix(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x = rng.standard_normal((n, m)), rng.standard_normal((1, n))
    got = I.dz_dx_xW(W, x)
    assert got.shape == (m, n)
    assert rel_error(got, numerical_jacobian(lambda v: v @ W, x)) < TOL


@FAST
@given(n=dims, seed=seeds)
def test_identity3_vector_with_itself(n, seed):
    x = np.random.default_rng(seed).standard_normal((n, 1))
    got = I.dz_dx_identity(x)
    assert rel_error(got, numerical_jacobian(lambda v: v, x)) < TOL
    assert np.array_equal(got, np.eye(n))


@FAST
@given(n=dims, seed=seeds)
def test_identity4_elementwise(n, seed):
    x = np.random.default_rng(seed).standard_normal((n, 1))
    got = I.dz_dx_elementwise(lambda v: 1 - np.tanh(v) ** 2, x)
    assert got.shape == (n, n)
    assert rel_error(got, numerical_jacobian(np.tanh, x)) < TOL


@FAST
@given(n=dims, seed=seeds)
def test_identity4_with_relu_away_from_the_kink(n, seed):
    rng = np.random.default_rng(seed)
    # |x| >= 0.1, far from ReLU's kink at 0 compared with the step h = 1e-5
    x = rng.choice([-1, 1], size=(n, 1)) * rng.uniform(0.1, 2.0, size=(n, 1))
    assert rel_error(I.dz_dx_elementwise(relu_grad, x), numerical_jacobian(relu, x)) < TOL


@FAST
@given(n=dims, m=dims, seed=seeds)
def test_identity5_dJ_dW_for_Wx(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x, delta = rng.standard_normal((n, m)), rng.standard_normal((m, 1)), rng.standard_normal((1, n))
    got = I.dJ_dW_Wx(delta, x)
    # J = delta . z is the linear loss whose dJ/dz is exactly delta
    expected = numerical_gradient(lambda V: (delta @ (V @ x)).item(), W)
    assert_matches_numeric(got, expected, "dJ/dW")


@FAST
@given(n=dims, m=dims, seed=seeds)
def test_identity6_dJ_dW_for_xW(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x, delta = rng.standard_normal((n, m)), rng.standard_normal((1, n)), rng.standard_normal((1, m))
    got = I.dJ_dW_xW(delta, x)
    expected = numerical_gradient(lambda V: ((x @ V) @ delta.T).item(), W)
    assert_matches_numeric(got, expected, "dJ/dW")


@FAST
@given(c=st.integers(2, 8), scale=st.floats(0.1, 2.0), seed=seeds)
def test_identity7_softmax_cross_entropy(c, scale, seed):
    rng = np.random.default_rng(seed)
    # bounded logits: no probability is within 1e-3 of 0 or 1, so every entry of the
    # gradient is large enough to check to 1e-7 relative
    theta = scale * rng.uniform(-1, 1, (c, 1))
    y = np.zeros((c, 1))
    y[rng.integers(c)] = 1.0
    got = I.dJ_dtheta(theta, y)
    assert got.shape == (1, c)  # a row, numerator layout
    expected = numerical_gradient(lambda t: softmax_cross_entropy(t, y), theta)
    assert rel_error(got, expected.T) < TOL


def test_identity7_is_finite_for_huge_logits():
    theta = np.array([[1e4], [-1e4], [0.0]])
    y = np.array([[0.0], [1.0], [0.0]])
    assert np.allclose(I.dJ_dtheta(theta, y), [[1.0, -1.0, 0.0]])


@pytest.mark.parametrize("call, shapes", [
    (lambda: I.dz_dx_Wx(np.ones((3, 4)), np.ones((3, 1))), [r"\(3, 1\)", r"\(4, 1\)", r"\(3, 4\)"]),
    (lambda: I.dz_dx_xW(np.ones((3, 4)), np.ones((1, 4))), [r"\(1, 4\)", r"\(1, 3\)"]),
    (lambda: I.dz_dx_identity(np.ones((1, 3))), [r"\(1, 3\)"]),
    (lambda: I.dJ_dW_Wx(np.ones((3, 1)), np.ones((4, 1))), [r"\(3, 1\)", r"row \(1, n\)"]),
    (lambda: I.dJ_dW_xW(np.ones((1, 2)), np.ones((3, 1))), [r"\(3, 1\)", r"row \(1, n\)"]),
    (lambda: I.dJ_dtheta(np.ones((3, 1)), np.ones((2, 1))), [r"\(2, 1\)", r"\(3, 1\)"]),
])
def test_shape_errors_name_the_shapes(call, shapes):
    with pytest.raises(ValueError) as err:
        call()
    for pattern in shapes:
        assert re.search(pattern, str(err.value)), str(err.value)


def test_bad_values_and_dtypes():
    with pytest.raises(TypeError, match="dtype"):
        I.dz_dx_Wx(np.array([["a"]]), np.ones((1, 1)))
    with pytest.raises(ValueError, match="nan or inf"):
        I.dJ_dW_Wx(np.array([[np.nan]]), np.ones((1, 1)))
    with pytest.raises(ValueError, match="one-hot"):
        I.dJ_dtheta(np.zeros((2, 1)), np.array([[1.0], [1.0]]))
    with pytest.raises(ValueError, match="one derivative per entry"):
        I.dz_dx_elementwise(lambda v: np.ones(5), np.ones((3, 1)))
