"""The notes' one-hidden-layer network, forward and backward by hand.

Column form (the notes' notation, one example x at a time):

    z     = W x + b1          W (Dh, Dx), x (Dx, 1), b1 (Dh, 1)  ->  z (Dh, 1)
    h     = ReLU(z)                                              ->  h (Dh, 1)
    theta = U h + b2          U (Nc, Dh), b2 (Nc, 1)             ->  theta (Nc, 1)
    yhat  = softmax(theta)                                       ->  yhat (Nc, 1)
    J     = CE(y, yhat)       y one-hot (Nc, 1)                  ->  scalar

Backward, with the error signals as ROWS (numerator layout, as in the notes):

    delta1 = dJ/dtheta = (yhat - y).T                  (1, Nc)   identity (7)
    delta2 = dJ/dz     = (delta1 @ U) * ReLU'(z).T     (1, Dh)   identities (1), (4)
    dJ/dU  = delta1.T @ h.T    (Nc, Dh)      dJ/db2 = delta1.T   (Nc, 1)    identity (5)
    dJ/dW  = delta2.T @ x.T    (Dh, Dx)      dJ/db1 = delta2.T   (Dh, 1)
    dJ/dx  = (delta2 @ W).T    (Dx, 1)

Every gradient is shaped like its parameter.

Batch form (one example per ROW, as CS231n and PyTorch do): X (N, Dx), integer labels
(N,), the same parameters, and J the MEAN cross-entropy over the batch.  The rows of the
batch are the transposed columns:  Z = X W.T + b1.T,  Theta = H U.T + b2.T.
"""

from __future__ import annotations

import numpy as np

from ._blas import one_blas_thread
from .functional import log_softmax, relu, relu_grad, softmax_cross_entropy

__all__ = [
    "init_params",
    "forward",
    "backward",
    "forward_batch",
    "backward_batch",
    "predict",
    "load_digits_split",
    "train",
]


# ---------------------------------------------------------------- input checking

def _array(value, name: str, shape: tuple) -> np.ndarray:
    """value as finite float64 with the given shape (None = any size on that axis)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected an array of real numbers")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != len(shape) or any(s is not None and a != s
                                     for a, s in zip(arr.shape, shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} has shape {arr.shape}; expected shape {want}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains nan or inf; expected finite numbers")
    return arr


def _params(W, b1, U, b2):
    """Validate the parameter shapes against each other; return float64 arrays."""
    W = _array(W, "W", (None, None))
    Dh, Dx = W.shape
    b1 = _array(b1, "b1", (Dh, 1))
    U = _array(U, "U", (None, Dh))
    b2 = _array(b2, "b2", (U.shape[0], 1))
    return W, b1, U, b2


def _int_labels(labels, n: int, nc: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels has dtype {labels.dtype}; expected integer class indices")
    if labels.shape != (n,):
        raise ValueError(f"labels has shape {labels.shape}; expected ({n},) to match X")
    if n and (labels.min() < 0 or labels.max() >= nc):
        raise ValueError(f"labels must lie in [0, {nc}); got values from "
                         f"{labels.min()} to {labels.max()}")
    return labels


# ---------------------------------------------------------------- parameters

def init_params(Dx: int, Dh: int, Nc: int, seed: int = 0) -> dict:
    """Random starting parameters for the network, column-form shapes, float64.

    Returns {"W": (Dh, Dx), "b1": (Dh, 1), "U": (Nc, Dh), "b2": (Nc, 1)}.
    W uses He scaling, std sqrt(2 / Dx), so ReLU units start with a sensible spread;
    U uses std sqrt(1 / Dh); biases start at 0.  Same seed -> same numbers.
    """
    rng = np.random.default_rng(seed)
    return {
        "W": rng.standard_normal((Dh, Dx)) * np.sqrt(2.0 / Dx),
        "b1": np.zeros((Dh, 1)),
        "U": rng.standard_normal((Nc, Dh)) * np.sqrt(1.0 / Dh),
        "b2": np.zeros((Nc, 1)),
    }


# ---------------------------------------------------------------- column form

def forward(x, y, W, b1, U, b2):
    """Forward pass for ONE example, column form.

    x : (Dx, 1) input column;  y : (Nc, 1) one-hot label column.
    W : (Dh, Dx), b1 : (Dh, 1), U : (Nc, Dh), b2 : (Nc, 1).
    Returns (J, cache): J is the float cross-entropy; cache is a dict holding
    x, y, W, b1, U, b2 and z (Dh, 1), h (Dh, 1), theta (Nc, 1), yhat (Nc, 1).
    """
    W, b1, U, b2 = _params(W, b1, U, b2)
    x = _array(x, "x", (W.shape[1], 1))
    y = _array(y, "y", (U.shape[0], 1))
    z = W @ x + b1
    h = relu(z)
    theta = U @ h + b2
    yhat = np.exp(log_softmax(theta, axis=0))  # softmax(theta), from its stable log
    J = softmax_cross_entropy(theta, y)  # via log_softmax: finite even if yhat underflows
    cache = {"x": x, "y": y, "W": W, "b1": b1, "U": U, "b2": b2,
             "z": z, "h": h, "theta": theta, "yhat": yhat}
    return J, cache


def backward(cache: dict) -> dict:
    """Backward pass for ONE example, column form (the notes' derivation).

    cache : the dict returned by forward.
    Returns a dict of gradients of J:
      delta1 (1, Nc) = dJ/dtheta, a row;   delta2 (1, Dh) = dJ/dz, a row;
      U (Nc, Dh), b2 (Nc, 1), W (Dh, Dx), b1 (Dh, 1), x (Dx, 1), each shaped like the
      array it is the gradient of.
    """
    x, y, W, U = cache["x"], cache["y"], cache["W"], cache["U"]
    z, h, yhat = cache["z"], cache["h"], cache["yhat"]
    delta1 = (yhat - y).T                      # (1, Nc) identity (7)
    delta2 = (delta1 @ U) * relu_grad(z).T     # (1, Dh) = delta1 dtheta/dh dh/dz
    return {
        "delta1": delta1,
        "delta2": delta2,
        "U": delta1.T @ h.T,                   # (Nc, Dh) identity (5)
        "b2": delta1.T,                        # (Nc, 1)  dtheta/db2 = I
        "W": delta2.T @ x.T,                   # (Dh, Dx) identity (5)
        "b1": delta2.T,                        # (Dh, 1)  dz/db1 = I
        "x": (delta2 @ W).T,                   # (Dx, 1)  identity (1), transposed to x's shape
    }


# ---------------------------------------------------------------- batch form

def forward_batch(X, labels, W, b1, U, b2):
    """Forward pass for a batch, batch form (one example per row).

    X : (N, Dx);  labels : (N,) integers in [0, Nc).
    W : (Dh, Dx), b1 : (Dh, 1), U : (Nc, Dh), b2 : (Nc, 1)  (the column-form parameters).
    Returns (J, cache): J is the float MEAN cross-entropy over the N rows; cache holds
    X, labels, W, b1, U, b2 and Z (N, Dh), H (N, Dh), Theta (N, Nc), Yhat (N, Nc).
    Row n of Z is z.T for the column x = X[n].T, hence Z = X @ W.T + b1.T.
    """
    W, b1, U, b2 = _params(W, b1, U, b2)
    X = _array(X, "X", (None, W.shape[1]))
    labels = _int_labels(labels, X.shape[0], U.shape[0])
    if X.shape[0] == 0:
        raise ValueError("X is empty (N = 0)")
    return _forward_batch(X, labels, W, b1, U, b2)


def _forward_batch(X, labels, W, b1, U, b2):
    """forward_batch without the input checks (the arithmetic only)."""
    Z = X @ W.T                                 # (N, Dh)
    Z += b1.T                                   # in place: no second (N, Dh) array
    H = relu(Z)
    Theta = H @ U.T                             # (N, Nc)
    Theta += b2.T
    # log-softmax by log-sum-exp: stable, and Yhat and J both come from it
    shifted = Theta - Theta.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Yhat = np.exp(log_probs)
    J = float(-np.mean(log_probs[np.arange(X.shape[0]), labels]))
    cache = {"X": X, "labels": labels, "W": W, "b1": b1, "U": U, "b2": b2,
             "Z": Z, "H": H, "Theta": Theta, "Yhat": Yhat}
    return J, cache


def backward_batch(cache: dict) -> dict:
    """Backward pass for a batch, batch form; gradients of the MEAN loss J.

    cache : the dict returned by forward_batch.
    Returns {"U": (Nc, Dh), "b2": (Nc, 1), "W": (Dh, Dx), "b1": (Dh, 1), "X": (N, Dx)},
    each shaped like its array.  Row n of dTheta = dJ/dTheta is delta1 of example n
    divided by N (the mean), and the per-example outer products of the column form add
    up to matrix products:  sum_n delta1_n.T h_n.T = dTheta.T @ H.
    """
    X, labels, W, U = cache["X"], cache["labels"], cache["W"], cache["U"]
    H, Yhat = cache["H"], cache["Yhat"]
    n = X.shape[0]
    dTheta = Yhat.copy()                        # (N, Nc): (yhat - y) per row, / N
    dTheta[np.arange(n), labels] -= 1.0
    dTheta /= n
    dU = dTheta.T @ H                           # (Nc, Dh)
    db2 = dTheta.sum(axis=0)[:, None]           # (Nc, 1)
    dZ = dTheta @ U                             # (N, Dh): dJ/dH, masked in place below
    dZ *= H > 0                                 # ReLU'(Z): H > 0 exactly where Z > 0
    dW = dZ.T @ X                               # (Dh, Dx)
    db1 = dZ.sum(axis=0)[:, None]               # (Dh, 1)
    dX = dZ @ W                                 # (N, Dx)
    return {"U": dU, "b2": db2, "W": dW, "b1": db1, "X": dX}


def predict(X, W, b1, U, b2) -> np.ndarray:
    """Predicted class per row, batch form: X (N, Dx) -> int labels (N,) = argmax Theta."""
    W, b1, U, b2 = _params(W, b1, U, b2)
    X = _array(X, "X", (None, W.shape[1]))
    return _predict(X, W, b1, U, b2)


def _predict(X, W, b1, U, b2) -> np.ndarray:
    Theta = relu(X @ W.T + b1.T) @ U.T + b2.T
    return np.argmax(Theta, axis=1)


# ---------------------------------------------------------------- data and training

def load_digits_split(seed: int = 0, test_size: float = 0.25):
    """scikit-learn's bundled 8x8 digits (1797 images, no download), split and scaled.

    Returns (X_train, X_test, y_train, y_test): X_* float64 (N, 64) in [0, 1] (pixels
    are 0..16, divided by 16), y_* int64 (N,) in 0..9.  The split is stratified and
    seeded: the same seed gives the same split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def _gradient(grads, key: str, shape: tuple) -> np.ndarray:
    """grads[key] from a backward_batch result, checked to have the shape of its parameter."""
    if not isinstance(grads, dict) or key not in grads:
        have = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise ValueError(f"backward_batch must return a dict with the key {key!r}; got {have}")
    grad = np.asarray(grads[key])
    if grad.shape != shape:
        raise ValueError(f"backward_batch returned {key} with shape {grad.shape}; expected "
                         f"{shape}, the shape of {key}")
    return grad


def _reference_backward_batch():
    """nnlab's own backward_batch, looked up when training starts (not when defined)."""
    return backward_batch


def train(X_train=None, X_test=None, y_train=None, y_test=None, *, hidden: int = 64,
          lr: float = 0.5, epochs: int = 20, batch_size: int = 32, seed: int = 0,
          params: dict | None = None, progress=None, backward_batch=None) -> dict:
    """Minibatch SGD on the one-layer network, batch form.  Seeded and deterministic.

    X_train, X_test, y_train, y_test : the order load_digits_split returns, so
        ``train(*load_digits_split(seed))`` works.  X_train (N, Dx) float, y_train (N,)
        int labels; X_test (M, Dx), y_test (M,) are optional held-out data evaluated
        after every epoch.  If X_train is None the digits split load_digits_split(seed)
        is used.
    hidden : Dh, the hidden width.  lr : step size on the mean loss.
    epochs : passes over the data.  batch_size : rows per SGD step.
    seed : seeds the initial parameters and the shuffling.
    params : optional starting dict {"W", "b1", "U", "b2"} (copied, not modified).
    progress : optional callable progress(epoch, history) run after each epoch, e.g.
        ``bar = tqdm(total=epochs); train(..., progress=lambda e, h: bar.update())``.
    backward_batch : the batched backward pass to train with, a callable
        cache -> {"U", "b2", "W", "b1", ...} with the contract of
        nnlab.onelayer.backward_batch (the default); lesson 03 passes its own.

    Returns history, a dict:
      "epoch": [1, 2, ...], "loss": mean training loss of each epoch's minibatches,
      "train_acc": training accuracy after each epoch, "test_acc": test accuracy after
      each epoch (empty if no test data), "params": the final parameters,
      "diverged": True if the loss stopped being a finite number (too large a learning
      rate); training then stops after recording that epoch, whose loss is nan or inf.
    """
    if X_train is None:
        X_train, X_test, y_train, y_test = load_digits_split(seed)
    if y_train is None:
        raise ValueError("y_train is missing: call train(X_train, X_test, y_train, y_test)")
    X_train = _array(X_train, "X_train", (None, None))
    n, dx = X_train.shape
    y_train = np.asarray(y_train)
    if y_train.dtype.kind not in "iu" or y_train.shape != (n,):
        raise ValueError(f"y_train must be integer labels of shape ({n},); got "
                         f"dtype {y_train.dtype}, shape {y_train.shape}")
    if X_test is not None:
        X_test = _array(X_test, "X_test", (None, dx))
        y_test = _int_labels(y_test, X_test.shape[0], int(np.max(y_test, initial=0)) + 1)
    if epochs < 0 or batch_size < 1 or hidden < 1 or not lr > 0:
        raise ValueError("need epochs >= 0, batch_size >= 1, hidden >= 1 and lr > 0")
    nc = int(max(y_train.max(), -1 if y_test is None else y_test.max())) + 1
    if backward_batch is None:
        backward_batch = _reference_backward_batch()
    elif not callable(backward_batch):
        raise TypeError(f"backward_batch must be a function cache -> dict of gradients; "
                        f"got {type(backward_batch).__name__}")
    rng = np.random.default_rng(seed)
    if params is None:
        params = init_params(dx, hidden, nc, seed=seed)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    _params(**params)  # a clear error now rather than a cryptic one mid-training
    keys = ("W", "b1", "U", "b2")

    history = {"epoch": [], "loss": [], "train_acc": [], "test_acc": [], "params": params,
               "diverged": False}
    # inputs are checked once above; the loop runs the unchecked arithmetic, and a
    # diverging run (overflow -> inf -> nan) is recorded instead of raising
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)  # a fresh shuffle each epoch
            losses = []
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                J, cache = _forward_batch(X_train[rows], y_train[rows],
                                          *(params[k] for k in keys))
                losses.append(J)
                if not np.isfinite(J):
                    history["diverged"] = True
                    break
                grads = backward_batch(cache)
                for key in keys:
                    params[key] -= lr * _gradient(grads, key, params[key].shape)
            history["epoch"].append(epoch)
            history["loss"].append(float(np.mean(losses)))
            weights = [params[k] for k in keys]
            history["train_acc"].append(float(np.mean(_predict(X_train, *weights) == y_train)))
            if X_test is not None:
                history["test_acc"].append(float(np.mean(_predict(X_test, *weights) == y_test)))
            if progress is not None:
                progress(epoch, history)
            if history["diverged"]:
                break
    return history
