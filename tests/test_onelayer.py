"""The notes' one-layer network: every gradient, column and batch form, vs central differences."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnlab import onelayer
from nnlab.functional import softmax_cross_entropy
from nnlab.gradcheck import numerical_gradient, rel_error

from numeric import TOL, assert_matches_numeric

FAST = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)



def column_problem(Dx, Dh, Nc, seed):
    """Random column-form inputs with every pre-activation z at least 0.1 away from the
    ReLU kink (b1 is solved for), so no step of size h = 1e-5 crosses it."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(Dx, 1)) * rng.uniform(0.5, 1.5, size=(Dx, 1))
    W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
    z_target = rng.choice([-1.0, 1.0], size=(Dh, 1)) * rng.uniform(0.1, 1.0, size=(Dh, 1))
    b1 = z_target - W @ x
    U = rng.standard_normal((Nc, Dh))
    b2 = rng.uniform(-0.5, 0.5, (Nc, 1))
    y = np.eye(Nc)[:, [rng.integers(Nc)]]
    return x, y, W, b1, U, b2


@FAST
@given(Dx=dims, Dh=dims, Nc=st.integers(2, 5), seed=seeds)
def test_column_form_every_gradient(Dx, Dh, Nc, seed):
    x, y, W, b1, U, b2 = column_problem(Dx, Dh, Nc, seed)
    args = {"x": x, "W": W, "b1": b1, "U": U, "b2": b2}
    J, cache = onelayer.forward(x, y, W, b1, U, b2)
    grads = onelayer.backward(cache)
    assert set(grads) == {"delta1", "delta2", "U", "b2", "W", "b1", "x"}

    def loss_with(key):
        def J_of(value):
            a = dict(args, **{key: value})
            return onelayer.forward(a["x"], y, a["W"], a["b1"], a["U"], a["b2"])[0]
        return J_of

    for key in ("U", "b2", "W", "b1", "x"):
        assert_matches_numeric(grads[key], numerical_gradient(loss_with(key), args[key]), key)

    # delta1 = dJ/dtheta and delta2 = dJ/dz are rows (numerator layout)
    theta, z = cache["theta"], cache["z"]
    d_theta = numerical_gradient(lambda t: softmax_cross_entropy(t, y), theta)
    assert_matches_numeric(grads["delta1"], d_theta.T, "delta1")
    d_z = numerical_gradient(lambda v: softmax_cross_entropy(U @ np.maximum(v, 0) + b2, y), z)
    assert_matches_numeric(grads["delta2"], d_z.T, "delta2")


def test_column_form_cache_and_shapes():
    x, y, W, b1, U, b2 = column_problem(4, 3, 2, seed=1)
    J, cache = onelayer.forward(x, y, W, b1, U, b2)
    assert set(cache) == {"x", "y", "W", "b1", "U", "b2", "z", "h", "theta", "yhat"}
    assert cache["z"].shape == cache["h"].shape == (3, 1)
    assert cache["theta"].shape == cache["yhat"].shape == (2, 1)
    assert J == pytest.approx(-np.log(cache["yhat"][y.argmax(), 0]))
    grads = onelayer.backward(cache)
    assert grads["delta1"].shape == (1, 2) and grads["delta2"].shape == (1, 3)
    for key, shape in {"U": (2, 3), "b2": (2, 1), "W": (3, 4), "b1": (3, 1), "x": (4, 1)}.items():
        assert grads[key].shape == shape


def batch_problem(N, Dx, Dh, Nc, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, (N, Dx))
    W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
    b1 = rng.uniform(-0.5, 0.5, (Dh, 1))
    U = rng.standard_normal((Nc, Dh))
    b2 = rng.uniform(-0.5, 0.5, (Nc, 1))
    labels = rng.integers(0, Nc, N)
    return X, labels, W, b1, U, b2


@FAST
@given(N=dims, Dx=dims, Dh=dims, Nc=st.integers(2, 5), seed=seeds)
def test_batch_form_every_gradient(N, Dx, Dh, Nc, seed):
    X, labels, W, b1, U, b2 = batch_problem(N, Dx, Dh, Nc, seed)
    args = {"X": X, "W": W, "b1": b1, "U": U, "b2": b2}
    J, cache = onelayer.forward_batch(X, labels, W, b1, U, b2)
    # a step of h = 1e-5 moves Z by at most ~1e-5 * 1.5 * sqrt(Dx); stay clear of the kink
    assume(np.min(np.abs(cache["Z"])) > 1e-3)
    grads = onelayer.backward_batch(cache)
    assert set(grads) == {"U", "b2", "W", "b1", "X"}
    for key in grads:
        def J_of(value, key=key):
            a = dict(args, **{key: value})
            return onelayer.forward_batch(a["X"], labels, a["W"], a["b1"], a["U"], a["b2"])[0]
        assert_matches_numeric(grads[key], numerical_gradient(J_of, args[key]), key)


@FAST
@given(N=dims, Dx=dims, Dh=dims, Nc=st.integers(2, 5), seed=seeds)
def test_batch_form_is_the_mean_of_the_column_form(N, Dx, Dh, Nc, seed):
    """A second, independent implementation: loop over rows with the column form."""
    X, labels, W, b1, U, b2 = batch_problem(N, Dx, Dh, Nc, seed)
    J, cache = onelayer.forward_batch(X, labels, W, b1, U, b2)
    grads = onelayer.backward_batch(cache)
    losses, sums = [], {k: 0.0 for k in ("U", "b2", "W", "b1")}
    for n in range(N):
        Jn, cn = onelayer.forward(X[n][:, None], np.eye(Nc)[:, [labels[n]]], W, b1, U, b2)
        gn = onelayer.backward(cn)
        losses.append(Jn)
        for k in sums:
            sums[k] = sums[k] + gn[k] / N
        assert np.allclose(grads["X"][n], gn["x"].ravel() / N, rtol=1e-10, atol=1e-14)
        assert np.allclose(cache["Yhat"][n], cn["yhat"].ravel(), rtol=1e-12)
    assert J == pytest.approx(np.mean(losses), rel=1e-12)
    for k in sums:
        assert np.allclose(grads[k], sums[k], rtol=1e-10, atol=1e-14), k


def test_batch_cache_keys_and_huge_logits():
    X, labels, W, b1, U, b2 = batch_problem(3, 4, 5, 3, seed=2)
    J, cache = onelayer.forward_batch(X, labels, W, b1, U, b2 * 0 + np.array([[1e4], [-1e4], [0]]))
    assert set(cache) == {"X", "labels", "W", "b1", "U", "b2", "Z", "H", "Theta", "Yhat"}
    assert np.isfinite(J)
    assert all(np.all(np.isfinite(g)) for g in onelayer.backward_batch(cache).values())


def test_init_params_and_predict():
    p = onelayer.init_params(6, 4, 3, seed=5)
    assert {k: v.shape for k, v in p.items()} == {"W": (4, 6), "b1": (4, 1), "U": (3, 4), "b2": (3, 1)}
    assert all(v.dtype == np.float64 for v in p.values())
    q = onelayer.init_params(6, 4, 3, seed=5)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    X = np.random.default_rng(0).standard_normal((7, 6))
    pred = onelayer.predict(X, **p)
    assert pred.shape == (7,) and pred.dtype.kind == "i"
    _, cache = onelayer.forward_batch(X, pred, **p)
    assert np.array_equal(pred, cache["Yhat"].argmax(axis=1))


def test_load_digits_split():
    X_train, X_test, y_train, y_test = onelayer.load_digits_split(seed=0)
    assert X_train.shape[1] == X_test.shape[1] == 64
    assert len(X_train) + len(X_test) == 1797
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    assert y_train.dtype.kind == "i" and set(np.unique(y_test)) == set(range(10))
    again = onelayer.load_digits_split(seed=0)
    assert np.array_equal(again[0], X_train)


def test_train_on_digits_is_seeded_and_accurate():
    calls = []
    data = onelayer.load_digits_split(seed=0)
    history = onelayer.train(*data, hidden=32, epochs=8, seed=0,
                             progress=lambda epoch, h: calls.append(epoch))
    assert calls == list(range(1, 9))
    assert len(history["loss"]) == len(history["train_acc"]) == len(history["test_acc"]) == 8
    assert history["loss"][-1] < history["loss"][0]
    assert history["test_acc"][-1] > 0.93
    again = onelayer.train(*data, hidden=32, epochs=8, seed=0)
    assert again["loss"] == history["loss"]
    assert set(history["params"]) == {"W", "b1", "U", "b2"}


def test_bad_input():
    x, y, W, b1, U, b2 = column_problem(4, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(3, 1\); expected shape \(4, 1\)"):
        onelayer.forward(x[:3], y, W, b1, U, b2)
    with pytest.raises(ValueError, match=r"b1 has shape \(1, 3\); expected shape \(3, 1\)"):
        onelayer.forward(x, y, W, b1.T, U, b2)
    with pytest.raises(ValueError, match="nan or inf"):
        onelayer.forward(x * np.nan, y, W, b1, U, b2)
    with pytest.raises(TypeError, match="dtype"):
        onelayer.forward(x.astype(str), y, W, b1, U, b2)
    X = np.ones((2, 4))
    with pytest.raises(TypeError, match="labels has dtype float64"):
        onelayer.forward_batch(X, np.array([0.0, 1.0]), W, b1, U, b2)
    with pytest.raises(ValueError, match=r"X has shape \(2, 3\); expected shape \(\*, 4\)"):
        onelayer.forward_batch(X[:, :3], np.array([0, 1]), W, b1, U, b2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        onelayer.forward_batch(X, np.array([0, 2]), W, b1, U, b2)


def test_train_records_divergence_instead_of_raising():
    X_train, X_test, y_train, y_test = onelayer.load_digits_split(seed=0)
    huge = {k: v * 1e306 for k, v in onelayer.init_params(64, 8, 10, seed=0).items()}
    calls = []
    history = onelayer.train(X_train, X_test, y_train, y_test, params=huge, epochs=5,
                             progress=lambda epoch, h: calls.append(epoch))
    assert history["diverged"] is True
    assert history["epoch"] == [1] and calls == [1]
    assert not np.isfinite(history["loss"][-1])


def test_forward_does_not_need_the_softmax_exercise(monkeypatch):
    """yhat comes from log_softmax; functional.softmax (an exercise) is never called."""
    import nnlab.functional

    x, y, W, b1, U, b2 = column_problem(4, 3, 5, seed=3)
    expected = nnlab.functional.softmax(U @ np.maximum(W @ x + b1, 0) + b2, axis=0)

    def withheld(*args, **kwargs):
        raise NotImplementedError("withheld")
    monkeypatch.setattr(nnlab.functional, "softmax", withheld)
    _, cache = onelayer.forward(x, y, W, b1, U, b2)
    np.testing.assert_allclose(cache["yhat"], expected, rtol=1e-14, atol=0)
    assert cache["yhat"].sum() == pytest.approx(1.0, abs=1e-15)
    X = np.vstack([x.T, -x.T])
    _, batch_cache = onelayer.forward_batch(X, np.array([0, 4]), W, b1, U, b2)
    np.testing.assert_allclose(batch_cache["Yhat"][0], expected.ravel(), rtol=1e-14, atol=0)


def test_train_uses_the_backward_it_is_given(monkeypatch):
    data = onelayer.load_digits_split(seed=0)
    reference = onelayer.backward_batch
    calls = []

    def mine(cache):
        calls.append(len(cache["X"]))
        return reference(cache)

    default = onelayer.train(*data, hidden=8, epochs=2, batch_size=100, seed=1)
    # with the module's own backward withheld, a backward passed in still trains
    def withheld(cache):
        raise NotImplementedError("withheld")
    monkeypatch.setattr(onelayer, "backward_batch", withheld)
    with pytest.raises(NotImplementedError):
        onelayer.train(*data, hidden=8, epochs=1, seed=1)
    history = onelayer.train(*data, hidden=8, epochs=2, batch_size=100, seed=1, backward_batch=mine)
    n_batches = -(-len(data[0]) // 100)
    assert calls == ([100] * (n_batches - 1) + [len(data[0]) - 100 * (n_batches - 1)]) * 2
    assert history["loss"] == default["loss"]
    for key in ("W", "b1", "U", "b2"):
        np.testing.assert_array_equal(history["params"][key], default["params"][key])

    # a zero gradient leaves the parameters where they started
    start = onelayer.init_params(64, 8, 10, seed=1)
    frozen = onelayer.train(*data, hidden=8, epochs=1, seed=1, params=start,
                            backward_batch=lambda c: {k: np.zeros_like(c[k]) for k in ("W", "b1", "U", "b2")})
    for key in start:
        np.testing.assert_array_equal(frozen["params"][key], start[key])


def test_train_names_a_wrongly_shaped_gradient():
    data = onelayer.load_digits_split(seed=0)

    def flat_b2(cache):
        grads = dict(onelayer.backward_batch(cache))
        grads["b2"] = grads["b2"].ravel()
        return grads
    with pytest.raises(ValueError, match=r"b2 with shape \(10,\); expected \(10, 1\)"):
        onelayer.train(*data, hidden=8, epochs=1, backward_batch=flat_b2)
    with pytest.raises(ValueError, match="dict with the key 'W'"):
        onelayer.train(*data, hidden=8, epochs=1, backward_batch=lambda c: {"U": 0})
    with pytest.raises(TypeError, match="backward_batch must be a function"):
        onelayer.train(*data, hidden=8, epochs=1, backward_batch="mine")
