"""The chain rule as a product of Jacobians (lesson 01).

The composition from the notes, with a scalar input x and y = f(x):

    f: R -> R^2,     f(x) = [x**2, sin(x)]
    g: R^2 -> R^2,   g(y) = [y1 * y2, y1 + exp(y2)]

    dg/dx = dg/df @ df/dx        (2, 1) = (2, 2) @ (2, 1)

All Jacobians are in numerator layout: rows index outputs, columns index inputs.
Vectors are returned as flat (2,) arrays, as a function R -> R^2 naturally gives.
"""

from __future__ import annotations

import numpy as np

__all__ = ["f", "g", "df_dx", "dg_df", "dg_dx", "compose"]


def _scalar(x) -> float:
    """x as a Python float; accepts a number or any single-element array."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x has dtype {arr.dtype}; expected a real number")
    if arr.size != 1:
        raise ValueError(f"x has shape {arr.shape}; expected a scalar (f maps R -> R^2)")
    value = float(arr.reshape(()))
    if not np.isfinite(value):
        raise ValueError(f"x must be finite; got {value}")
    return value


def _pair(y) -> np.ndarray:
    """y as a float (2,) array; accepts (2,), (2, 1) or (1, 2)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"y has dtype {arr.dtype}; expected real numbers")
    if arr.size != 2 or arr.ndim > 2:
        raise ValueError(f"y has shape {arr.shape}; expected a vector of size 2, (2,)")
    arr = arr.astype(np.float64).reshape(2)
    if not np.isfinite(arr).all():
        raise ValueError("y contains nan or inf; expected finite numbers")
    return arr


def f(x) -> np.ndarray:
    """f(x) = [x**2, sin(x)].  x: scalar -> (2,) array."""
    x = _scalar(x)
    return np.array([x**2, np.sin(x)])


def g(y) -> np.ndarray:
    """g(y) = [y1 * y2, y1 + exp(y2)].  y: (2,) -> (2,) array."""
    y1, y2 = _pair(y)
    return np.array([y1 * y2, y1 + np.exp(y2)])


def compose(x) -> np.ndarray:
    """g(f(x)) = [x**2 sin(x), x**2 + exp(sin(x))].  x: scalar -> (2,) array."""
    return g(f(x))


def df_dx(x) -> np.ndarray:
    """Jacobian of f at x, numerator layout: (2, 1) = [[2x], [cos x]]."""
    x = _scalar(x)
    return np.array([[2.0 * x], [np.cos(x)]])


def dg_df(y) -> np.ndarray:
    """Jacobian of g at y, numerator layout (2, 2).

    Row i is the gradient of g_i:  [[dg1/dy1, dg1/dy2],    [[y2, y1        ],
                                    [dg2/dy1, dg2/dy2]]  =  [1,  exp(y2)   ]]
    """
    y1, y2 = _pair(y)
    return np.array([[y2, y1], [1.0, np.exp(y2)]])


def dg_dx(x) -> np.ndarray:
    """Chain rule: dg/dx = dg/df(f(x)) @ df/dx(x), a (2, 2) @ (2, 1) = (2, 1) Jacobian."""
    return dg_df(f(x)) @ df_dx(x)
