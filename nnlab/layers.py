"""Layers as forward/backward function pairs (CS231n style), batch form (lesson 06).

Every layer is two plain functions:

    out, cache = layer_forward(x, ...)      x: (N, D), one example per ROW
    dx, ...    = layer_backward(dout, cache)  dout = dL/dout shaped like out

and each returned gradient is shaped like the array it belongs to (dw like w, ...).
With these pieces, `mlp_loss` builds a small multi-layer perceptron

    affine -> [batchnorm] -> relu -> [dropout] -> ... -> affine -> softmax loss

and `compare_regularization` trains it on the digits with neither, batch norm, dropout
or both, so the lesson can plot the four learning curves side by side.
"""

from __future__ import annotations

import numpy as np

from ._blas import one_blas_thread
from .functional import _float_array, softmax_cross_entropy_batch

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "dropout_forward",
    "dropout_backward",
    "softmax_loss",
    "init_mlp",
    "mlp_loss",
    "mlp_predict",
    "train_mlp",
    "compare_regularization",
]



def _same_shape(dout, shape: tuple, what: str) -> np.ndarray:
    dout = _float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout has shape {dout.shape}; expected {shape}, the shape of {what}")
    return dout


# ---------------------------------------------------------------- affine

def affine_forward(x, w, b):
    """Fully connected layer, batch form: out = x @ w + b.

    x : (N, D) — or (N, d1, ..., dk), flattened to (N, D) with D = d1 * ... * dk.
    w : (D, M);  b : (M,).
    Returns (out (N, M), cache = (x, w, b)).
    """
    x = _float_array(x, "x")
    w = _float_array(w, "w")
    b = _float_array(b, "b")
    if x.ndim < 2:
        raise ValueError(f"x has shape {x.shape}; expected batch form (N, D)")
    x2 = x.reshape(x.shape[0], -1)
    if w.ndim != 2 or w.shape[0] != x2.shape[1]:
        raise ValueError(f"w has shape {w.shape}; expected ({x2.shape[1]}, M) to match "
                         f"x of shape {x.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b has shape {b.shape}; expected ({w.shape[1]},) to match "
                         f"w of shape {w.shape}")
    return x2 @ w + b, (x, w, b)


def affine_backward(dout, cache):
    """Backward of affine_forward, batch form.

    dout : (N, M);  cache : (x, w, b) from affine_forward.
    Returns (dx shaped like x, dw (D, M) = x.T @ dout, db (M,) = dout summed over rows).
    The sum over rows is the sum over examples: b is added to every row.
    """
    x, w, b = cache
    n = x.shape[0]
    dout = _same_shape(dout, (n, w.shape[1]), "out")
    x2 = x.reshape(n, -1)
    return (dout @ w.T).reshape(x.shape), x2.T @ dout, dout.sum(axis=0)


# ---------------------------------------------------------------- relu

def relu_forward(x):
    """ReLU, any shape (batch form (N, D) here): out = max(x, 0).  Returns (out, cache = x)."""
    x = _float_array(x, "x")
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    """Backward of relu_forward: dx = dout where x > 0, else 0.  dout shaped like x."""
    x = cache
    dout = _same_shape(dout, x.shape, "x")
    return dout * (x > 0)


# ---------------------------------------------------------------- batch norm

def batchnorm_forward(x, gamma, beta, eps: float = 1e-5, train: bool = True,
                      running: dict | None = None, momentum: float = 0.9):
    """Batch normalisation, batch form: standardise each feature (column), then scale and shift.

    x : (N, D);  gamma, beta : (D,) learned scale and shift.
    train=True : use this batch's mean and variance (per column, over the N rows)
        mu = mean(x, 0), var = var(x, 0), std = sqrt(var + eps), x_hat = (x - mu) / std,
        and, if `running` is a dict, update its running averages in place:
        running["mean"] = momentum * running["mean"] + (1 - momentum) * mu (same for "var");
        missing entries start at mean 0, var 1.
    train=False : use running["mean"] and running["var"] instead (required).
    out = gamma * x_hat + beta, (N, D).

    Returns (out, cache); cache is a dict with keys x_hat (N, D), gamma (D,),
    std (D,) = sqrt(var + eps) of the statistics used, and train (bool).
    """
    x = _float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x has shape {x.shape}; expected batch form (N, D)")
    d = x.shape[1]
    gamma = _float_array(gamma, "gamma")
    beta = _float_array(beta, "beta")
    for name, arr in (("gamma", gamma), ("beta", beta)):
        if arr.shape != (d,):
            raise ValueError(f"{name} has shape {arr.shape}; expected ({d},) to match "
                             f"x of shape {x.shape}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1]; got {momentum}")
    if train:
        if x.shape[0] < 2:
            raise ValueError("batch norm in training mode needs at least 2 rows to "
                             f"estimate a variance; x has shape {x.shape}")
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        if running is not None:
            running["mean"] = momentum * running.get("mean", np.zeros(d)) + (1 - momentum) * mu
            running["var"] = momentum * running.get("var", np.ones(d)) + (1 - momentum) * var
    else:
        if running is None or "mean" not in running or "var" not in running:
            raise ValueError("evaluation mode (train=False) needs running={'mean': ..., "
                             "'var': ...} collected during training")
        mu, var = np.asarray(running["mean"]), np.asarray(running["var"])
        if mu.shape != (d,) or var.shape != (d,):
            raise ValueError(f"running mean/var have shapes {mu.shape}/{var.shape}; "
                             f"expected ({d},) to match x of shape {x.shape}")
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    cache = {"x_hat": x_hat, "gamma": gamma, "std": std, "train": bool(train)}
    return gamma * x_hat + beta, cache


def batchnorm_backward(dout, cache):
    """Backward of batchnorm_forward, batch form.

    dout : (N, D);  cache : the dict from batchnorm_forward.
    Returns (dx (N, D), dgamma (D,), dbeta (D,)).

    In training mode mu and std depend on every row of x, which gives the compact form
        dx = (dx_hat - mean(dx_hat, 0) - x_hat * mean(dx_hat * x_hat, 0)) / std,
    with dx_hat = dout * gamma.  In evaluation mode the statistics are constants and
    dx = dx_hat / std.
    """
    x_hat, gamma, std = cache["x_hat"], cache["gamma"], cache["std"]
    dout = _same_shape(dout, x_hat.shape, "out")
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    if not cache.get("train", True):
        return dx_hat / std, dgamma, dbeta
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * np.mean(dx_hat * x_hat, axis=0)) / std
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- dropout

def dropout_forward(x, p: float, seed=None, train: bool = True):
    """Inverted dropout, any shape (batch form (N, D) here).

    p : probability of DROPPING a unit, 0 <= p < 1.
    seed : int (reproducible), numpy Generator (draws from it), or None (fresh randomness).
    train=True : out = x * mask, where mask is 0 with probability p and 1 / (1 - p)
        otherwise; the scaling keeps E[out] = x, so nothing changes at test time.
    train=False : out = x (the identity) and mask is None.

    Returns (out, cache); cache is a dict with keys mask (shaped like x, already scaled
    by 1 / (1 - p); None in evaluation mode), p and train.
    """
    x = _float_array(x, "x")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p is the drop probability and must lie in [0, 1); got {p}")
    if not train:
        return x.copy(), {"mask": None, "p": p, "train": False}
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mask = (rng.random(x.shape) >= p) / (1.0 - p)
    return x * mask, {"mask": mask, "p": p, "train": True}


def dropout_backward(dout, cache):
    """Backward of dropout_forward: dx = dout * mask in training, dout in evaluation.

    dout : shaped like the x given to dropout_forward;  returns dx of that shape.
    """
    if not cache["train"]:
        return _float_array(dout, "dout").copy()
    mask = cache["mask"]
    return _same_shape(dout, mask.shape, "x") * mask


# ---------------------------------------------------------------- loss

def softmax_loss(logits, labels):
    """Mean softmax cross-entropy, batch form.

    logits : (N, C);  labels : (N,) integers in [0, C).
    Returns (loss float, dlogits (N, C) = (softmax(logits) - onehot(labels)) / N).
    """
    return softmax_cross_entropy_batch(logits, labels)


# ---------------------------------------------------------------- a small MLP

def init_mlp(dims, batchnorm: bool = False, seed: int = 0) -> dict:
    """Parameters of an MLP with layer sizes dims = (D, H1, ..., Hk, C), batch form.

    Returns a dict with, for layer i = 1..k+1: "W{i}" (dims[i-1], dims[i]) with He scaling
    std sqrt(2 / fan_in) and "b{i}" (dims[i],) zeros; with batchnorm, each hidden layer
    i = 1..k also gets "gamma{i}" ones and "beta{i}" zeros, (dims[i],).
    """
    dims = [int(d) for d in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must be at least (D, C) with positive sizes; got {dims}")
    rng = np.random.default_rng(seed)
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = rng.standard_normal((dims[i - 1], dims[i])) * np.sqrt(2.0 / dims[i - 1])
        params[f"b{i}"] = np.zeros(dims[i])
        if batchnorm and i < len(dims) - 1:
            params[f"gamma{i}"] = np.ones(dims[i])
            params[f"beta{i}"] = np.zeros(dims[i])
    return params


def _n_layers(params: dict) -> int:
    return sum(1 for k in params if k.startswith("W"))


def _backward_passes(dropout_backward, batchnorm_backward):
    """The layer backward passes to use: those given, else nnlab's own (looked up per call)."""
    own = globals()
    return (own["dropout_backward"] if dropout_backward is None else dropout_backward,
            own["batchnorm_backward"] if batchnorm_backward is None else batchnorm_backward)


def mlp_loss(params: dict, X, labels=None, *, dropout: float = 0.0, train: bool = True,
             running: dict | None = None, rng=None, dropout_backward=None,
             batchnorm_backward=None):
    """Forward (and backward) pass of the MLP built by init_mlp, batch form.

    Each hidden layer is affine -> [batchnorm] -> relu -> [dropout]; the last is affine.
    Batch norm is used exactly when params holds "gamma1".

    X : (N, D);  labels : (N,) ints, or None to get the class scores only.
    dropout : drop probability p for every hidden layer (0 = no dropout).
    train : training mode (batch statistics, dropout on) or evaluation mode
        (running statistics, dropout off).
    running : dict of per-layer batch-norm running statistics {i: {"mean", "var"}},
        updated in place in training mode; required in evaluation mode with batch norm.
    rng : numpy Generator (or seed) for the dropout masks.
    dropout_backward, batchnorm_backward : the backward passes of those two layers, with
        the contracts of nnlab.layers.dropout_backward and nnlab.layers.batchnorm_backward
        (the defaults); lesson 06 passes the ones written in the notebook.

    Returns logits (N, C) if labels is None, else (loss, grads) with grads shaped like
    params (same keys).
    """
    L = _n_layers(params)
    use_bn = "gamma1" in params
    dropout_backward, batchnorm_backward = _backward_passes(dropout_backward, batchnorm_backward)
    if running is None:
        running = {}
    if use_bn and not train and any(i not in running for i in range(1, L)):
        raise ValueError("evaluation mode with batch norm needs the running statistics "
                         "collected in training (the `running` dict)")
    if dropout and train and not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    out = X
    caches = []
    for i in range(1, L):
        out, c_aff = affine_forward(out, params[f"W{i}"], params[f"b{i}"])
        c_bn = c_drop = None
        if use_bn:
            out, c_bn = batchnorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"],
                                          train=train, running=running.setdefault(i, {}))
        out, c_relu = relu_forward(out)
        if dropout:
            out, c_drop = dropout_forward(out, dropout, seed=rng, train=train)
        caches.append((c_aff, c_bn, c_relu, c_drop))
    logits, c_last = affine_forward(out, params[f"W{L}"], params[f"b{L}"])
    if labels is None:
        return logits

    loss, dout = softmax_loss(logits, labels)
    grads = {}
    dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, c_last)
    for i in range(L - 1, 0, -1):  # walk the hidden layers in reverse
        c_aff, c_bn, c_relu, c_drop = caches[i - 1]
        if c_drop is not None:
            dout = dropout_backward(dout, c_drop)
        dout = relu_backward(dout, c_relu)
        if c_bn is not None:
            dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dout, c_bn)
        dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, c_aff)
    return loss, grads


def mlp_predict(params: dict, X, running: dict | None = None) -> np.ndarray:
    """Predicted labels (N,) for X (N, D) in evaluation mode (running batch-norm stats)."""
    return np.argmax(mlp_loss(params, X, train=False, running=running), axis=1)


def train_mlp(X_train, X_test, y_train, y_test, *, hidden=(64, 64), batchnorm: bool = False,
              dropout: float = 0.0, lr: float = 0.1, epochs: int = 15, batch_size: int = 32,
              seed: int = 0, progress=None, dropout_backward=None,
              batchnorm_backward=None) -> dict:
    """Minibatch SGD for the MLP, batch form.  Seeded: same arguments, same numbers.

    X_train (N, D), X_test (M, D), y_train (N,), y_test (M,) in the order
    nnlab.onelayer.load_digits_split returns them.
    hidden : sizes of the hidden layers.  batchnorm : add batch norm before each ReLU.
    dropout : drop probability after each ReLU (0 = off).  lr, epochs, batch_size : SGD.
    seed : seeds the initial weights, the shuffling and the dropout masks.  The masks come
        from a generator of their own, so the minibatches depend only on the seed: every
        variant (with or without batch norm or dropout) starts from the same weights and
        sees the same batches in the same order (with batch norm, a last batch of a
        single row is skipped).
    progress : optional callable progress(epoch, history) after each epoch.
    dropout_backward, batchnorm_backward : passed to mlp_loss (default: nnlab's own).

    Returns history: {"epoch", "loss" (mean training minibatch loss per epoch),
    "train_acc", "test_acc" (evaluation-mode accuracy after each epoch),
    "params", "running" (batch-norm running statistics)}.
    """
    X_train = _float_array(X_train, "X_train")
    X_test = _float_array(X_test, "X_test")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if y_train.shape != (len(X_train),) or y_test.shape != (len(X_test),):
        raise ValueError(f"labels must match the rows of X: y_train {y_train.shape} for "
                         f"X_train {X_train.shape}, y_test {y_test.shape} for X_test "
                         f"{X_test.shape} (order: X_train, X_test, y_train, y_test)")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    params = init_mlp((X_train.shape[1], *hidden, n_classes), batchnorm=batchnorm, seed=seed)
    shuffle_rng = np.random.default_rng(seed)
    # an independent stream for the masks: drawing them must not move the shuffling
    mask_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    backward = dict(zip(("dropout_backward", "batchnorm_backward"),
                        _backward_passes(dropout_backward, batchnorm_backward)))
    running: dict = {}
    history = {"epoch": [], "loss": [], "train_acc": [], "test_acc": [],
               "params": params, "running": running}
    n = len(X_train)
    with one_blas_thread():
        for epoch in range(1, epochs + 1):
            order = shuffle_rng.permutation(n)
            losses = []
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                if batchnorm and len(rows) < 2:  # a 1-row batch has no variance
                    continue
                loss, grads = mlp_loss(params, X_train[rows], y_train[rows],
                                       dropout=dropout, train=True, running=running,
                                       rng=mask_rng, **backward)
                for key, grad in grads.items():
                    grad = np.asarray(grad)
                    if grad.shape != params[key].shape:
                        raise ValueError(f"the gradient of {key} has shape {grad.shape}; "
                                         f"expected {params[key].shape}, the shape of {key}")
                    params[key] -= lr * grad
                losses.append(loss)
            history["epoch"].append(epoch)
            history["loss"].append(float(np.mean(losses)))
            for split, X, y in (("train_acc", X_train, y_train), ("test_acc", X_test, y_test)):
                history[split].append(float(np.mean(mlp_predict(params, X, running) == y)))
            if progress is not None:
                progress(epoch, history)
    return history



VARIANTS = {
    "none": {"batchnorm": False, "dropout": 0.0},
    "batchnorm": {"batchnorm": True, "dropout": 0.0},
    "dropout": {"batchnorm": False, "dropout": 0.5},
    "both": {"batchnorm": True, "dropout": 0.5},
}


def compare_regularization(data=None, *, variants=("none", "batchnorm", "dropout", "both"),
                           hidden=(64, 64), dropout: float = 0.5, lr: float = 0.1,
                           epochs: int = 15, batch_size: int = 32, seed: int = 0,
                           progress=None, dropout_backward=None,
                           batchnorm_backward=None) -> dict:
    """Train the same MLP with neither, batch norm, dropout, or both; digits by default.

    data : (X_train, X_test, y_train, y_test); None loads nnlab.onelayer.load_digits_split(seed).
    variants : any of "none", "batchnorm", "dropout", "both".
    dropout : the drop probability used by the "dropout" and "both" variants.
    hidden, lr, epochs, batch_size, seed : passed to train_mlp (same seed for every
        variant, so they start from the same weights and see the same batches; the
        dropout masks come from a separate generator).
    progress : optional callable progress(variant, epoch, history).
    dropout_backward, batchnorm_backward : passed to train_mlp (default: nnlab's own).

    Returns {variant: history} with the histories of train_mlp.
    """
    if data is None:
        from .onelayer import load_digits_split
        data = load_digits_split(seed)
    results = {}
    for name in variants:
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r}; choose from {sorted(VARIANTS)}")
        options = dict(VARIANTS[name])
        if options["dropout"]:
            options["dropout"] = dropout
        callback = None if progress is None else (lambda e, h, name=name: progress(name, e, h))
        results[name] = train_mlp(*data, hidden=hidden, lr=lr, epochs=epochs,
                                  batch_size=batch_size, seed=seed, progress=callback,
                                  dropout_backward=dropout_backward,
                                  batchnorm_backward=batchnorm_backward, **options)
    return results
