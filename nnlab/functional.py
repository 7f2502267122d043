"""Activations and losses: ReLU, a numerically stable softmax and cross-entropy.

Two conventions appear in this course and every function says which one it uses:

- column form (the notes' notation): one example is a column, theta: (C, 1), y: (C, 1)
  one-hot; softmax works down axis 0.
- batch form (CS231n): one example per row, logits: (N, C), integer labels: (N,);
  softmax works along axis 1.

Why "stable": exp(1e4) overflows float64 (anything above ~709 does).  softmax is
unchanged by subtracting a constant from every logit, so we subtract the max first; then
the largest exponent is exp(0) = 1 and nothing overflows.  For the log we use
log-sum-exp:  log softmax(theta)_i = (theta_i - max) - log(sum_k exp(theta_k - max)),
which stays finite even where softmax itself underflows to 0.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "relu",
    "relu_grad",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_batch",
]


def _float_array(value, name: str) -> np.ndarray:
    """value as a float64 array (no copy if it already is one); clear errors otherwise."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected an array of real numbers")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains nan or inf; expected finite numbers")
    return arr


def _column(value, name: str) -> np.ndarray:
    arr = _float_array(value, name)
    if arr.ndim != 2 or arr.shape[1] != 1:
        raise ValueError(f"{name} has shape {arr.shape}; expected a column vector (C, 1)")
    return arr


def relu(x):
    """ReLU(x) = max(x, 0), elementwise.  x: any shape -> same shape (any convention)."""
    return np.maximum(x, 0.0)


def relu_grad(x):
    """ReLU'(x): 1.0 where x > 0, else 0.0 (we take 0 at the kink x = 0).

    x: any shape (e.g. z (Dh, 1) in column form or Z (N, Dh) in batch form) -> float64
    array of the same shape.  Because ReLU'(z) = 1 exactly where h = ReLU(z) > 0, the notes
    also write it as sgn(h).
    """
    return (np.asarray(x) > 0).astype(np.float64)


def softmax(theta, axis: int = 0) -> np.ndarray:
    """Numerically stable softmax along `axis`.

    theta : any shape.  Column form: theta (C, 1) with axis=0 (the default).
        Batch form: logits (N, C) with axis=1.
    Returns probabilities with the shape of theta; they sum to 1 along `axis`.
    Subtracting the max along `axis` first keeps exp from overflowing at logits like 1e4.
    """
    theta = _float_array(theta, "theta")
    shifted = theta - np.max(theta, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def log_softmax(theta, axis: int = 0) -> np.ndarray:
    """Numerically stable log(softmax(theta)) along `axis`, via log-sum-exp.

    theta : any shape; column form (C, 1) with axis=0, batch form (N, C) with axis=1.
    Returns an array shaped like theta.  Finite for finite input, even where softmax
    underflows to exactly 0 (e.g. theta = [1e4, -1e4] gives [0, -2e4]).
    """
    theta = _float_array(theta, "theta")
    shifted = theta - np.max(theta, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def cross_entropy(y, yhat) -> float:
    """CE(y, yhat) = -sum_i y_i log(yhat_i), column form.

    y : (C, 1) one-hot (or any probability column); yhat : (C, 1) probabilities.
    Returns a float.  Terms with y_i = 0 are skipped, so 0 * log(0) never makes nan.
    If yhat gives exactly 0 to a class with y_i > 0 the loss is +inf; from logits, use
    softmax_cross_entropy, which never forms log(0).
    """
    y = _column(y, "y")
    yhat = _column(yhat, "yhat")
    if y.shape != yhat.shape:
        raise ValueError(f"y has shape {y.shape} but yhat has shape {yhat.shape}; "
                         "they must match")
    if np.any(yhat < 0):
        raise ValueError("yhat has negative entries; expected probabilities")
    used = y != 0
    with np.errstate(divide="ignore"):  # log(0) -> -inf is the mathematically right loss
        return float(-np.sum(y[used] * np.log(yhat[used])))


def softmax_cross_entropy(theta, y) -> float:
    """J = CE(y, softmax(theta)) for one example, column form, computed with log_softmax.

    theta : (C, 1) logits; y : (C, 1) one-hot (or probability) column.
    Returns a float; finite and exact even for logits of +-1e4.
    """
    theta = _column(theta, "theta")
    y = _column(y, "y")
    if y.shape != theta.shape:
        raise ValueError(f"y has shape {y.shape} but theta has shape {theta.shape}; "
                         "they must match")
    return float(-np.sum(y * log_softmax(theta, axis=0)))


def softmax_cross_entropy_batch(logits, labels):
    """Mean softmax cross-entropy over a batch, and its gradient.  Batch form.

    logits : (N, C) float, one row per example.
    labels : (N,) integers in [0, C).
    Returns (loss, dlogits): loss is the float mean over the batch of
    -log softmax(logits[n])[labels[n]], and dlogits (N, C) = dloss/dlogits =
    (softmax(logits) - onehot(labels)) / N  (identity (7), one row per example, averaged).
    """
    logits = _float_array(logits, "logits")
    labels = _labels(labels, logits)
    n = logits.shape[0]
    log_probs = log_softmax(logits, axis=1)
    rows = np.arange(n)
    loss = float(-np.mean(log_probs[rows, labels]))
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1.0
    dlogits /= n
    return loss, dlogits


def _labels(labels, logits: np.ndarray) -> np.ndarray:
    """Validate integer class labels (N,) against logits (N, C)."""
    if logits.ndim != 2:
        raise ValueError(f"logits has shape {logits.shape}; expected batch form (N, C)")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels has dtype {labels.dtype}; expected integer class "
                        "indices (N,), e.g. y.astype(int)")
    n, c = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels has shape {labels.shape}; expected ({n},) to match "
                         f"logits of shape {logits.shape}")
    if n == 0:
        raise ValueError("the batch is empty (N = 0)")
    if labels.min() < 0 or labels.max() >= c:
        raise ValueError(f"labels must lie in [0, {c}); got values from {labels.min()} "
                         f"to {labels.max()}")
    return labels
