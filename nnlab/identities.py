"""The seven linear-algebra identities for backpropagation, as reference functions.

Conventions (the notes'): x is a column vector (m, 1) when it multiplies from the right
(z = W x) and a row vector (1, n) when it multiplies from the left (z = x W).

- A Jacobian dz/dx is in numerator layout: rows index the outputs z_i, columns the
  inputs x_j, so (dz/dx)[i, j] = dz_i/dx_j and its shape is (z.size, x.size).
- The upstream gradient delta = dJ/dz of a scalar loss J is a ROW (1, z.size): it is the
  1 x n Jacobian of J with respect to z.
- A gradient with respect to a matrix, dJ/dW, is shaped like W (so W -= lr * dJ/dW works).

    (1) z = W x            dz/dx = W           (n, m)
    (2) z = x W            dz/dx = W.T         (m, n)
    (3) z = x              dz/dx = I           (n, n)
    (4) z = f(x) elementwise  dz/dx = diag(f'(x))  (n, n)
    (5) z = W x            dJ/dW = delta.T @ x.T   (n, m)   outer product delta_i x_j
    (6) z = x W            dJ/dW = x.T @ delta     (n, m)
    (7) yhat = softmax(theta), J = CE(y, yhat)   dJ/dtheta = (yhat - y).T   (1, C)
"""

from __future__ import annotations

import numpy as np

from .functional import log_softmax

__all__ = [
    "dz_dx_Wx",
    "dz_dx_xW",
    "dz_dx_identity",
    "dz_dx_elementwise",
    "dJ_dW_Wx",
    "dJ_dW_xW",
    "dJ_dtheta",
]


def _matrix(value, name: str, rows=None, cols=None, what: str = "") -> np.ndarray:
    """value as a finite float64 2-D array, optionally with a required number of rows/cols."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected an array of real numbers")
    arr = arr.astype(np.float64, copy=False)
    expect = f"({'*' if rows is None else rows}, {'*' if cols is None else cols})"
    if (arr.ndim != 2 or (rows is not None and arr.shape[0] != rows)
            or (cols is not None and arr.shape[1] != cols)):
        raise ValueError(f"{name} has shape {arr.shape}; expected {what or expect}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains nan or inf; expected finite numbers")
    return arr


def dz_dx_Wx(W, x) -> np.ndarray:
    """(1) Matrix times column vector, with respect to the vector.

    z = W x with W (n, m) and x a column (m, 1), so z is (n, 1).
    Since z_i = sum_k W_ik x_k, dz_i/dx_j = W_ij: the Jacobian (numerator layout) is W,
    shape (n, m).  x is only used to check shapes: the Jacobian of a linear map is constant.
    """
    W = _matrix(W, "W")
    n, m = W.shape
    _matrix(x, "x", m, 1, f"a column ({m}, 1) to match W of shape {W.shape}")
    return W.copy()


def dz_dx_xW(W, x) -> np.ndarray:
    """(2) Row vector times matrix, with respect to the vector.

    z = x W with x a row (1, n) and W (n, m), so z is a row (1, m).
    z_i = sum_k x_k W_ki, so dz_i/dx_j = W_ji: the Jacobian (numerator layout, rows index
    z) is W.T, shape (m, n).
    """
    W = _matrix(W, "W")
    n, m = W.shape
    _matrix(x, "x", 1, n, f"a row (1, {n}) to match W of shape {W.shape}")
    return W.T.copy()


def dz_dx_identity(x) -> np.ndarray:
    """(3) A vector with respect to itself.

    z = x with x a column (n, 1).  dz_i/dx_j = 1 if i == j else 0, so the Jacobian is the
    identity I, shape (n, n); in the chain rule it simply disappears.
    """
    x = _matrix(x, "x", cols=1, what="a column (n, 1)")
    return np.eye(x.shape[0])


def dz_dx_elementwise(f_prime, x) -> np.ndarray:
    """(4) An elementwise function applied to a vector.

    z = f(x) with x a column (n, 1) and z_i = f(x_i).  dz_i/dx_j = f'(x_i) if i == j else 0,
    so the Jacobian is diag(f'(x)), shape (n, n).  In the chain rule, multiplying by this
    diagonal matrix is the same as an elementwise product with f'(x).

    f_prime : the elementwise derivative, e.g. nnlab.functional.relu_grad; called on x
        (n, 1) it must return n values.
    """
    x = _matrix(x, "x", cols=1, what="a column (n, 1)")
    fp = np.asarray(f_prime(x), dtype=np.float64)
    if fp.size != x.shape[0]:
        raise ValueError(f"f_prime(x) has shape {fp.shape}; expected {x.shape} "
                         f"(one derivative per entry of x)")
    return np.diag(fp.reshape(-1))


def dJ_dW_Wx(delta, x) -> np.ndarray:
    """(5) Matrix times column vector, gradient with respect to the matrix.

    z = W x with W (n, m), x a column (m, 1); delta = dJ/dz is a row (1, n).
    dJ/dW_ij = delta_i x_j, so dJ/dW (shaped like W, (n, m)) is the outer product
    delta.T @ x.T  = (n, 1) @ (1, m).
    """
    delta = _matrix(delta, "delta", rows=1, what="a row (1, n): dJ/dz for z = W x")
    x = _matrix(x, "x", cols=1, what="a column (m, 1)")
    return delta.T @ x.T


def dJ_dW_xW(delta, x) -> np.ndarray:
    """(6) Row vector times matrix, gradient with respect to the matrix.

    z = x W with x a row (1, n), W (n, m); delta = dJ/dz is a row (1, m).
    dJ/dW_ij = x_i delta_j, so dJ/dW (shaped like W, (n, m)) is x.T @ delta
    = (n, 1) @ (1, m).
    """
    delta = _matrix(delta, "delta", rows=1, what="a row (1, m): dJ/dz for z = x W")
    x = _matrix(x, "x", rows=1, what="a row (1, n)")
    return x.T @ delta


def dJ_dtheta(theta, y) -> np.ndarray:
    """(7) Cross-entropy of a softmax, with respect to the logits.

    yhat = softmax(theta), J = CE(y, yhat) = -sum_i y_i log(yhat_i), column form:
    theta (C, 1) logits and y (C, 1) one-hot (any probability column works, since the
    identity only needs sum(y) = 1).
    Returns dJ/dtheta = (yhat - y).T, a row (1, C) in numerator layout (the notes' delta1).
    """
    theta = _matrix(theta, "theta", cols=1, what="a column (C, 1)")
    y = _matrix(y, "y", theta.shape[0], 1,
                f"a column {theta.shape} to match theta of shape {theta.shape}")
    if np.any(y < 0) or abs(y.sum() - 1.0) > 1e-8:
        raise ValueError("y must be one-hot (or a probability column summing to 1); "
                         f"its entries sum to {y.sum():g}")
    # exp(log_softmax) is the stable softmax; it keeps this module independent of the
    # softmax exercise's reference.
    return (np.exp(log_softmax(theta, axis=0)) - y).T
