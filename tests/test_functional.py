"""ReLU, stable softmax / log-softmax / cross-entropy, column and batch form."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnlab.functional import (
    cross_entropy,
    log_softmax,
    relu,
    relu_grad,
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_batch,
)
from nnlab.gradcheck import numerical_gradient, numerical_jacobian, rel_error

FAST = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def test_relu_and_its_derivative():
    x = np.array([[-2.0, 0.0, 3.0]])
    assert np.array_equal(relu(x), [[0.0, 0.0, 3.0]])
    assert np.array_equal(relu_grad(x), [[0.0, 0.0, 1.0]])
    assert relu_grad(x).dtype == np.float64


@FAST
@given(n=st.integers(1, 6), seed=seeds)
def test_relu_grad_matches_central_differences_away_from_zero(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n, 1)) * rng.uniform(0.01, 3.0, size=(n, 1))
    assert rel_error(np.diag(relu_grad(x).ravel()), numerical_jacobian(relu, x)) < 1e-7


@FAST
@given(c=st.integers(1, 8), seed=seeds)
def test_softmax_column_matches_the_naive_formula(c, seed):
    theta = np.random.default_rng(seed).uniform(-5, 5, (c, 1))
    naive = np.exp(theta) / np.exp(theta).sum()
    assert softmax(theta).shape == (c, 1)
    assert rel_error(softmax(theta), naive) < 1e-12
    assert rel_error(log_softmax(theta), np.log(naive)) < 1e-12


@FAST
@given(n=st.integers(1, 5), c=st.integers(2, 6), seed=seeds)
def test_softmax_batch_rows_sum_to_one(n, c, seed):
    logits = np.random.default_rng(seed).standard_normal((n, c)) * 10
    p = softmax(logits, axis=1)
    assert p.shape == (n, c)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(p, softmax(logits.T, axis=0).T)


def test_the_default_axis_normalises_columns_so_a_batch_needs_axis_1():
    """Lesson 00's warning: softmax(batch) without axis=1 sums to 1 down each column."""
    logits = np.array([[2.0, 1.0, 0.0], [1e4, 0.0, -1e4]])      # (N=2, C=3)
    for fn in (softmax, lambda t, **kw: np.exp(log_softmax(t, **kw))):
        by_row, default = fn(logits, axis=1), fn(logits)
        assert np.allclose(by_row.sum(axis=1), 1.0)
        assert np.allclose(default.sum(axis=0), 1.0)
        assert not np.allclose(default.sum(axis=1), 1.0)
        assert np.allclose(by_row[0], np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum())
        assert np.array_equal(by_row[1], [1.0, 0.0, 0.0])


@FAST
@given(c=st.integers(2, 6), seed=seeds)
def test_softmax_jacobian_matches_central_differences(c, seed):
    theta = np.random.default_rng(seed).uniform(-2, 2, (c, 1))
    s = softmax(theta)
    expected = np.diag(s.ravel()) - s @ s.T  # d softmax_i / d theta_j = s_i (1[i=j] - s_j)
    assert rel_error(numerical_jacobian(softmax, theta), expected) < 1e-7


def test_huge_logits_stay_finite_and_correct_column():
    theta = np.array([[1e4], [-1e4], [0.0]])
    assert np.array_equal(softmax(theta), [[1.0], [0.0], [0.0]])
    assert np.allclose(log_softmax(theta), [[0.0], [-2e4], [-1e4]])
    y_true_big = np.array([[1.0], [0.0], [0.0]])
    y_true_small = np.array([[0.0], [1.0], [0.0]])
    assert softmax_cross_entropy(theta, y_true_big) == pytest.approx(0.0, abs=1e-12)
    assert softmax_cross_entropy(theta, y_true_small) == pytest.approx(2e4)
    assert softmax_cross_entropy(-theta, y_true_big) == pytest.approx(2e4)
    # all logits equal and huge: the uniform distribution
    assert np.allclose(softmax(np.full((4, 1), 1e4)), 0.25)
    assert np.allclose(softmax(np.full((4, 1), -1e4)), 0.25)


def test_huge_logits_stay_finite_and_correct_batch():
    logits = np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]])
    labels = np.array([1, 1, 0])
    loss, dlogits = softmax_cross_entropy_batch(logits, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx((2e4 + 0.0 + np.log(2)) / 3)
    expected = np.array([[1.0, -1.0], [0.0, 0.0], [-0.5, 0.5]]) / 3
    assert np.allclose(dlogits, expected)


@FAST
@given(c=st.integers(2, 6), seed=seeds)
def test_cross_entropy_agrees_with_softmax_cross_entropy(c, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-3, 3, (c, 1))
    y = np.eye(c)[:, [rng.integers(c)]]
    assert cross_entropy(y, softmax(theta)) == pytest.approx(softmax_cross_entropy(theta, y), rel=1e-12)


def test_cross_entropy_zero_probability():
    y = np.array([[1.0], [0.0]])
    assert cross_entropy(y, np.array([[1.0], [0.0]])) == 0.0  # 0 * log 0 is skipped, not nan
    assert cross_entropy(y, np.array([[0.0], [1.0]])) == np.inf


@FAST
@given(n=st.integers(1, 5), c=st.integers(2, 5), seed=seeds)
def test_batch_loss_and_gradient(n, c, seed):
    rng = np.random.default_rng(seed)
    logits = rng.uniform(-2, 2, (n, c))
    labels = rng.integers(0, c, n)
    loss, dlogits = softmax_cross_entropy_batch(logits, labels)
    # the mean of the column-form losses, one per row
    per_row = [softmax_cross_entropy(logits[i][:, None], np.eye(c)[:, [labels[i]]]) for i in range(n)]
    assert loss == pytest.approx(np.mean(per_row), rel=1e-12)
    numeric = numerical_gradient(lambda L: softmax_cross_entropy_batch(L, labels)[0], logits)
    assume(np.all(np.abs(numeric) > 1e-4))
    assert rel_error(dlogits, numeric) < 1e-7


def test_bad_input():
    with pytest.raises(TypeError, match="labels has dtype float64"):
        softmax_cross_entropy_batch(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\).*\(2, 3\)"):
        softmax_cross_entropy_batch(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        softmax_cross_entropy_batch(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"y has shape \(2, 1\).*theta has shape \(3, 1\)"):
        softmax_cross_entropy(np.zeros((3, 1)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"\(3,\).*column"):
        softmax_cross_entropy(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="nan or inf"):
        softmax(np.array([[np.nan], [0.0]]))
    with pytest.raises(ValueError, match="nan or inf"):
        log_softmax(np.array([[np.inf], [0.0]]))
    with pytest.raises(TypeError, match="dtype"):
        softmax(np.array([["a"], ["b"]]))
