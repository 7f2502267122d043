"""Lesson 06 layers: every backward against central differences (batch form)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnlab import layers as L
from nnlab.gradcheck import eval_numerical_gradient_array, numerical_gradient, rel_error

from numeric import TOL, assert_matches_numeric

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)



@FAST
@given(N=dims, D=dims, M=dims, seed=seeds)
def test_affine_backward(N, D, M, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    out, cache = L.affine_forward(x, w, b)
    assert np.allclose(out, x @ w + b)
    dx, dw, db = L.affine_backward(dout, cache)
    assert_matches_numeric(dx, eval_numerical_gradient_array(lambda v: L.affine_forward(v, w, b)[0], x, dout), "dx")
    assert_matches_numeric(dw, eval_numerical_gradient_array(lambda v: L.affine_forward(x, v, b)[0], w, dout), "dw")
    assert_matches_numeric(db, eval_numerical_gradient_array(lambda v: L.affine_forward(x, w, v)[0], b, dout), "db")


def test_affine_flattens_extra_dimensions():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 5)), rng.standard_normal(5)
    out, cache = L.affine_forward(x, w, b)
    dout = rng.standard_normal((2, 5))
    dx, dw, db = L.affine_backward(dout, cache)
    assert out.shape == (2, 5) and dx.shape == x.shape
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: L.affine_forward(v, w, b)[0], x, dout)) < TOL


@FAST
@given(N=dims, D=dims, seed=seeds)
def test_relu_backward_away_from_the_kink(N, D, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(N, D)) * rng.uniform(0.1, 2.0, size=(N, D))
    dout = rng.standard_normal((N, D))
    out, cache = L.relu_forward(x)
    assert np.array_equal(out, np.maximum(x, 0))
    dx = L.relu_backward(dout, cache)
    assert_matches_numeric(dx, eval_numerical_gradient_array(lambda v: L.relu_forward(v)[0], x, dout), "dx")


@FAST
@given(N=st.integers(3, 6), D=dims, seed=seeds)
def test_batchnorm_backward_training_mode(N, D, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)) * rng.uniform(0.5, 3, D) + rng.uniform(-2, 2, D)
    # a column whose rows nearly coincide has std ~ 0; x_hat then bends so sharply that
    # central differences with h = 1e-5 lose their accuracy (not a bug in the backward)
    assume(x.std(axis=0).min() > 0.2)
    gamma, beta = rng.uniform(0.5, 2, D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    out, cache = L.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)

    def bn(x_=x, g_=gamma, b_=beta):
        return L.batchnorm_forward(x_, g_, b_)[0]

    assert_matches_numeric(dx, eval_numerical_gradient_array(lambda v: bn(x_=v), x, dout), "dx")
    assert_matches_numeric(dgamma, eval_numerical_gradient_array(lambda v: bn(g_=v), gamma, dout), "dgamma")
    assert_matches_numeric(dbeta, eval_numerical_gradient_array(lambda v: bn(b_=v), beta, dout), "dbeta")


@FAST
@given(N=dims, D=dims, seed=seeds)
def test_batchnorm_backward_evaluation_mode(N, D, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((N, D)), rng.standard_normal((N, D))
    gamma, beta = rng.uniform(0.5, 2, D), rng.standard_normal(D)
    running = {"mean": rng.standard_normal(D), "var": rng.uniform(0.5, 2, D)}
    out, cache = L.batchnorm_forward(x, gamma, beta, train=False, running=running)
    assert np.allclose(out, gamma * (x - running["mean"]) / np.sqrt(running["var"] + 1e-5) + beta)
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
    f = lambda v: L.batchnorm_forward(v, gamma, beta, train=False, running=running)[0]  # noqa: E731
    assert_matches_numeric(dx, eval_numerical_gradient_array(f, x, dout), "dx")


def test_batchnorm_statistics_and_running_averages():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]
    out, cache = L.batchnorm_forward(x, np.ones(3), np.zeros(3))
    assert {"x_hat", "gamma", "std"} <= set(cache)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12) and np.allclose(out.std(axis=0), 1, atol=1e-3)
    assert np.allclose(cache["std"], np.sqrt(x.var(axis=0) + 1e-5))
    running = {}
    L.batchnorm_forward(x, np.ones(3), np.zeros(3), running=running, momentum=0.9)
    assert np.allclose(running["mean"], 0.1 * x.mean(axis=0))
    assert np.allclose(running["var"], 0.9 + 0.1 * x.var(axis=0))
    for _ in range(200):
        L.batchnorm_forward(x, np.ones(3), np.zeros(3), running=running)
    assert np.allclose(running["mean"], x.mean(axis=0)) and np.allclose(running["var"], x.var(axis=0))
    out_eval, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), train=False, running=running)
    assert np.allclose(out_eval, out, atol=1e-6)


@FAST
@given(N=dims, D=dims, p=st.sampled_from([0.0, 0.25, 0.5, 0.8]), seed=seeds)
def test_dropout_backward(N, D, p, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((N, D)), rng.standard_normal((N, D))
    out, cache = L.dropout_forward(x, p, seed=seed)
    assert set(np.unique(cache["mask"])) <= {0.0, 1.0 / (1.0 - p)}
    assert np.allclose(out, x * cache["mask"])
    dx = L.dropout_backward(dout, cache)
    numeric = eval_numerical_gradient_array(lambda v: L.dropout_forward(v, p, seed=seed)[0], x, dout)
    assert_matches_numeric(dx, numeric, "dx")


def test_dropout_is_seeded_inverted_and_off_in_evaluation():
    x = np.ones((500, 40))
    out1, c1 = L.dropout_forward(x, 0.3, seed=7)
    out2, _ = L.dropout_forward(x, 0.3, seed=7)
    assert np.array_equal(out1, out2)
    assert abs((c1["mask"] == 0).mean() - 0.3) < 0.01
    assert abs(out1.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    out_eval, c_eval = L.dropout_forward(x, 0.3, train=False)
    assert np.array_equal(out_eval, x) and c_eval["mask"] is None and c_eval["train"] is False
    assert np.array_equal(L.dropout_backward(x * 2, c_eval), x * 2)


@FAST
@given(N=dims, C=st.integers(2, 5), seed=seeds)
def test_softmax_loss(N, C, seed):
    rng = np.random.default_rng(seed)
    logits, labels = rng.uniform(-2, 2, (N, C)), rng.integers(0, C, N)
    loss, dlogits = L.softmax_loss(logits, labels)
    assert_matches_numeric(dlogits, numerical_gradient(lambda v: L.softmax_loss(v, labels)[0], logits), "dlogits")


def _well_conditioned(params, X, dropout, rng):
    """True if every ReLU input is >= 1e-3 from the kink and every batch-norm column has
    std > 0.2, so central differences are accurate everywhere in the MLP."""
    out, smallest = X, np.inf
    n_layers = sum(k.startswith("W") for k in params)
    for i in range(1, n_layers):
        out, _ = L.affine_forward(out, params[f"W{i}"], params[f"b{i}"])
        if f"gamma{i}" in params:
            if out.std(axis=0).min() <= 0.2:
                return False
            out, _ = L.batchnorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"])
        smallest = min(smallest, np.abs(out).min())
        out, _ = L.relu_forward(out)
        if dropout:
            out, _ = L.dropout_forward(out, dropout, seed=rng)
    return smallest > 1e-3


@FAST
@given(N=st.integers(3, 6), batchnorm=st.booleans(), dropout=st.sampled_from([0.0, 0.3]),
       seed=seeds)
def test_mlp_loss_every_gradient(N, batchnorm, dropout, seed):
    rng = np.random.default_rng(seed)
    X, labels = rng.standard_normal((N, 4)), rng.integers(0, 3, N)
    params = L.init_mlp((4, 5, 4, 3), batchnorm=batchnorm, seed=seed % 1000)
    for key in params:  # move gamma/beta/biases off their initial 1/0
        params[key] = params[key] + 0.3 * rng.standard_normal(params[key].shape)
    # same integer seed -> the same dropout masks in every call
    mask_seed = int(rng.integers(1 << 30))
    assume(_well_conditioned(params, X, dropout, np.random.default_rng(mask_seed)))
    loss, grads = L.mlp_loss(params, X, labels, dropout=dropout, rng=mask_seed)
    assert set(grads) == set(params)
    for key in params:
        def J_of(value, key=key):
            return L.mlp_loss(dict(params, **{key: value}), X, labels, dropout=dropout, rng=mask_seed)[0]
        assert_matches_numeric(grads[key], numerical_gradient(J_of, params[key]), key)


def test_compare_regularization_is_seeded_and_learns():
    from nnlab.onelayer import load_digits_split

    data = load_digits_split(seed=0)
    seen = []
    results = L.compare_regularization(data, hidden=(32,), epochs=3, seed=0,
                                       progress=lambda name, epoch, h: seen.append((name, epoch)))
    assert list(results) == ["none", "batchnorm", "dropout", "both"]
    assert seen[:3] == [("none", 1), ("none", 2), ("none", 3)] and len(seen) == 12
    for name, history in results.items():
        assert len(history["loss"]) == len(history["test_acc"]) == 3
        assert history["test_acc"][-1] > 0.7, name
    assert "mean" in results["batchnorm"]["running"][1]
    again = L.train_mlp(*data, hidden=(32,), epochs=3, seed=0, batchnorm=True, dropout=0.5)
    assert again["loss"] == results["both"]["loss"]


def test_bad_input():
    with pytest.raises(ValueError, match=r"w has shape \(4, 2\); expected \(3, M\).*\(5, 3\)"):
        L.affine_forward(np.ones((5, 3)), np.ones((4, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"b has shape \(3,\); expected \(2,\)"):
        L.affine_forward(np.ones((5, 3)), np.ones((3, 2)), np.ones(3))
    _, cache = L.affine_forward(np.ones((5, 3)), np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 5\); expected \(5, 2\)"):
        L.affine_backward(np.ones((2, 5)), cache)
    with pytest.raises(ValueError, match="nan or inf"):
        L.relu_forward(np.array([[np.nan]]))
    with pytest.raises(TypeError, match="dtype"):
        L.relu_forward(np.array([["x"]]))
    with pytest.raises(ValueError, match=r"gamma has shape \(2,\); expected \(3,\)"):
        L.batchnorm_forward(np.ones((4, 3)), np.ones(2), np.zeros(3))
    with pytest.raises(ValueError, match="running"):
        L.batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), train=False)
    with pytest.raises(ValueError, match="drop probability"):
        L.dropout_forward(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="unknown variant"):
        L.compare_regularization((None,) * 4, variants=("weight decay",))


def _record_batches(monkeypatch):
    """Wrap mlp_loss so every training call records (first weights seen, the batch's rows)."""
    seen = []
    inner = L.mlp_loss

    def recording(params, X, labels=None, **kwargs):
        if labels is not None:
            seen.append((params["W1"].copy() if not seen else None, X.copy(), labels.copy()))
        return inner(params, X, labels, **kwargs)
    monkeypatch.setattr(L, "mlp_loss", recording)
    return seen


def test_every_variant_starts_alike_and_sees_the_same_batches(monkeypatch):
    from nnlab.onelayer import load_digits_split

    data = load_digits_split(seed=0)
    batches = {}
    for name, options in L.VARIANTS.items():
        seen = _record_batches(monkeypatch)
        L.train_mlp(*data, hidden=(16,), epochs=2, batch_size=50, seed=3, **options)
        batches[name] = seen
        monkeypatch.undo()
    plain = batches["none"]
    assert len(plain) == 2 * -(-len(data[0]) // 50)
    for name in ("batchnorm", "dropout", "both"):
        np.testing.assert_array_equal(batches[name][0][0], plain[0][0])  # the same first weights
        assert len(batches[name]) == len(plain), name
        for (_, X, y), (_, X_plain, y_plain) in zip(batches[name], plain):
            np.testing.assert_array_equal(X, X_plain)
            np.testing.assert_array_equal(y, y_plain)
    # and another seed gives other batches (the check above can fail)
    seen = _record_batches(monkeypatch)
    L.train_mlp(*data, hidden=(16,), epochs=1, batch_size=50, seed=4)
    assert not np.array_equal(seen[0][2], plain[0][2])


def test_dropout_masks_are_seeded_and_differ_between_seeds():
    from nnlab.onelayer import load_digits_split

    data = load_digits_split(seed=0)
    a = L.train_mlp(*data, hidden=(16,), epochs=2, seed=2, dropout=0.5)
    b = L.train_mlp(*data, hidden=(16,), epochs=2, seed=2, dropout=0.5)
    c = L.train_mlp(*data, hidden=(16,), epochs=2, seed=2, dropout=0.3)
    assert a["loss"] == b["loss"] and a["loss"] != c["loss"]


def test_training_uses_the_backward_passes_it_is_given(monkeypatch):
    from nnlab.onelayer import load_digits_split

    data = load_digits_split(seed=0)
    default = L.train_mlp(*data, hidden=(16, 16), epochs=2, seed=0, batchnorm=True, dropout=0.5)
    own_dropout, own_batchnorm = L.dropout_backward, L.batchnorm_backward
    calls = {"dropout": 0, "batchnorm": 0}

    def my_dropout_backward(dout, cache):
        calls["dropout"] += 1
        return own_dropout(dout, cache)

    def my_batchnorm_backward(dout, cache):
        calls["batchnorm"] += 1
        return own_batchnorm(dout, cache)

    def withheld(*args):
        raise NotImplementedError("withheld")
    monkeypatch.setattr(L, "dropout_backward", withheld)
    monkeypatch.setattr(L, "batchnorm_backward", withheld)
    with pytest.raises(NotImplementedError):
        L.train_mlp(*data, hidden=(16,), epochs=1, dropout=0.5)
    mine = L.train_mlp(*data, hidden=(16, 16), epochs=2, seed=0, batchnorm=True, dropout=0.5,
                       dropout_backward=my_dropout_backward,
                       batchnorm_backward=my_batchnorm_backward)
    steps = 2 * -(-len(data[0]) // 32)
    assert calls == {"dropout": 2 * steps, "batchnorm": 2 * steps}  # two hidden layers
    assert mine["loss"] == default["loss"] and mine["test_acc"] == default["test_acc"]

    results = L.compare_regularization(data, variants=("both",), hidden=(16,), epochs=1,
                                       dropout_backward=my_dropout_backward,
                                       batchnorm_backward=my_batchnorm_backward)
    assert len(results["both"]["loss"]) == 1


def test_training_names_a_wrongly_shaped_gradient():
    from nnlab.onelayer import load_digits_split

    def row_dgamma(dout, cache):
        dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
        return dx, dgamma[None, :], dbeta
    with pytest.raises(ValueError, match=r"gradient of gamma1 has shape \(1, 16\); expected \(16,\)"):
        L.train_mlp(*load_digits_split(seed=0), hidden=(16,), epochs=1, batchnorm=True,
                    batchnorm_backward=row_dgamma)
