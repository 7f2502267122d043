"""The notes' linear regression: fit y = m x + b by gradient descent (lesson 04).

Data: `points` is an (N, 2) array, one point per row, column 0 = x, column 1 = y.

Two losses appear and it matters which one a step uses:

- the mean squared error   J(b, m) = (1/N) sum_i (y_i - (m x_i + b))**2   (what we report);
- the notes' step uses the gradient of HALF THE SUM of squared errors,
      E(b, m) = 1/2 sum_i r_i**2,  r_i = y_i - (m x_i + b):
      dE/db = -sum_i r_i,   dE/dm = -sum_i x_i r_i.
  Since E = (N/2) J, a step of lr on E equals a step of lr * N / 2 on J:
  the notes' lr = 1e-4 with N = 1000 points is an effective 0.05 on the mean.

With the notes' settings (lr 1e-4, 1000 iterations, start b = m = 0) both
gradient_descent_loop and gradient_descent end at
b = -3.2643663545390273, m = -1.3386872077957057, MSE = 0.11444715957515363.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "seed_points",
    "compute_error_for_line_given_points",
    "mse",
    "mse_gradient",
    "step_gradient",
    "gradient_descent_loop",
    "gradient_descent",
    "least_squares",
]

# the notes' 2x2 map that stretches the round blob into a slanted cloud
TRANSFORMATION = np.array([[0.60834549, -0.63667341], [-0.40887718, 0.85253229]])


def _points(points) -> np.ndarray:
    """points as a finite float64 (N, 2) array with N >= 1, or a clear error."""
    arr = np.asarray(points)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"points has dtype {arr.dtype}; expected an array of real numbers")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"points has shape {arr.shape}; expected (N, 2) with rows (x, y)")
    if not np.isfinite(arr).all():
        raise ValueError("points contains nan or inf; expected finite numbers")
    return arr


def _number(value, name: str) -> float:
    if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def seed_points() -> np.ndarray:
    """The notes' data, (1000, 2): one make_blobs cluster (random_state=170) times the
    notes' 2x2 transformation.  Column 0 is x, column 1 is y."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=1000, random_state=170, centers=1)
    return X @ TRANSFORMATION


def compute_error_for_line_given_points(b, m, points) -> float:
    """Mean squared error of the line y = m x + b on points (N, 2), the notes' loop."""
    totalError = 0
    for i in range(0, len(points)):
        x = points[i, 0]
        y = points[i, 1]
        totalError += (y - (m * x + b)) ** 2
    return float(totalError / float(len(points)))


def mse(b, m, points) -> float:
    """Mean squared error (1/N) sum_i (y_i - (m x_i + b))**2, vectorized.  points: (N, 2)."""
    points = _points(points)
    b, m = _number(b, "b"), _number(m, "m")
    residual = points[:, 1] - (m * points[:, 0] + b)
    return float(np.mean(residual**2))


def mse_gradient(b, m, points):
    """Gradient of the MEAN squared error J(b, m), vectorized.  points: (N, 2).

    With r = y - (m x + b):  dJ/db = -(2/N) sum r,  dJ/dm = -(2/N) sum x r.
    Returns (dJ_db, dJ_dm) as floats.
    """
    points = _points(points)
    b, m = _number(b, "b"), _number(m, "m")
    x, y = points[:, 0], points[:, 1]
    residual = y - (m * x + b)
    n = len(points)
    return float(-2.0 / n * residual.sum()), float(-2.0 / n * (x @ residual))


def step_gradient(b_current, m_current, points, learningRate):
    """One step of the notes' loop: gradient of HALF the SUM of squared errors."""
    b_gradient = 0
    m_gradient = 0
    N = float(len(points))  # the notes' code computes N but never divides by it (sum, not mean)
    for i in range(0, len(points)):
        x = points[i, 0]
        y = points[i, 1]

        # Calculate gradient with partial derivatives
        m_gradient += -x * (y - (m_current * x + b_current))
        b_gradient += -(y - (m_current * x + b_current))

    new_b = b_current - (learningRate * b_gradient)
    new_m = m_current - (learningRate * m_gradient)
    return [new_b, new_m]


def gradient_descent_loop(points, b, m, lr, iterations):
    """The notes' gradient_descent_runner: a Python loop over iterations and points.

    points (N, 2); b, m the starting intercept and slope; lr the step on the half-SSE
    gradient (see the module docstring); iterations the number of steps.
    Returns (b, m) as floats.  Kept as the baseline that gradient_descent is timed against.
    """
    points = _points(points)
    for i in range(iterations):
        b, m = step_gradient(b, m, np.array(points), lr)
    return float(b), float(m)


def gradient_descent(points, b, m, lr, iterations, return_path=False):
    """Vectorized gradient descent on the half sum of squared errors (the notes' step).

    points : (N, 2);  b, m : starting intercept and slope;  lr : step size on
    E = 1/2 sum r**2, i.e. lr * N / 2 on the mean squared error;  iterations : steps.
    Each step uses the whole-array gradient  dE/db = -sum r,  dE/dm = -x . r
    instead of a Python loop over points; the numbers match gradient_descent_loop.

    Returns (b, m), or (b, m, path) with return_path=True, where path is an
    (iterations + 1, 2) array of (b, m) rows, starting point first.
    """
    points = _points(points)
    b, m, lr = _number(b, "b"), _number(m, "m"), _number(lr, "lr")
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer; got {iterations!r}")
    iterations = int(iterations)
    x = np.ascontiguousarray(points[:, 0])
    y = np.ascontiguousarray(points[:, 1])
    path = np.empty((iterations + 1, 2)) if return_path else None
    if return_path:
        path[0] = b, m
    for i in range(iterations):
        residual = y - (m * x + b)          # (N,) all points at once
        dE_db = -residual.sum()
        dE_dm = -(x @ residual)
        b, m = b - lr * dE_db, m - lr * dE_dm
        if return_path:
            path[i + 1] = b, m
    if return_path:
        return float(b), float(m), path
    return float(b), float(m)


def least_squares(points):
    """The exact minimiser of the squared error, by linear algebra.  points: (N, 2).

    Solves min ||A [b, m] - y||^2 with A = [1, x] (N, 2).  Returns (b, m) as floats.
    """
    points = _points(points)
    A = np.column_stack([np.ones(len(points)), points[:, 0]])
    (b, m), *_ = np.linalg.lstsq(A, points[:, 1], rcond=None)
    return float(b), float(m)
