"""Numerical differentiation and readable gradient checks.

Central differences approximate every derivative in this course, so a hand-derived
gradient can always be compared with an independent number:

    df/dx_j  ~=  (f(x + h e_j) - f(x - h e_j)) / (2 h)          (error O(h^2))

Conventions
-----------
- A Jacobian is in **numerator layout**: rows index the outputs of f, columns index the
  inputs.  Arrays of any shape are flattened in C order, so for f: (2, 3) -> (4,) the
  Jacobian has shape (4, 6) and entry [i, j] is d f.ravel()[i] / d x.ravel()[j].
- A gradient of a scalar J with respect to an array is shaped like that array
  (dJ/dW has the shape of W).
- All arithmetic happens on a float64 copy of x; the caller's array is never modified.
  f receives the perturbed copy, so write f as a function of its argument
  (``lambda W: loss(W, x)``), not as a closure over the array you pass in.

Rule of thumb (CS231n): a relative error below 1e-7 means the gradient is right; above
1e-2 it is wrong; in between, look for a kink (ReLU at 0) near the point you checked.
The rule holds only where the check means something:

- Within h of a kink it means nothing.  A central difference whose two points straddle
  the kink averages the slopes on both sides, so a correct gradient can score a relative
  error of order 1.  `near_kink` says which ReLU inputs are that close; move the point.
- Where the exact value is about 0 a relative error means nothing either: central
  differences leave ~1e-10 of absolute error, which is a large fraction of a tiny value.
  `rel_abs_error` compares such entries by their absolute error instead.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "numerical_jacobian",
    "numerical_gradient",
    "eval_numerical_gradient_array",
    "rel_error",
    "rel_abs_error",
    "near_kink",
    "check",
]

# dtype kinds we can safely turn into float64: bool, signed int, unsigned int, float
_NUMERIC_KINDS = "biuf"


def _to_numpy(value):
    """Return a numpy view of value; tensors with .detach()/.numpy() are unwrapped."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def _float64_copy(x, name: str) -> np.ndarray:
    """A finite float64 copy of x, or a ValueError/TypeError that names the problem."""
    try:
        arr = _to_numpy(x)
    except Exception as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} could not be turned into a numpy array: {exc}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name} has dtype {arr.dtype}; expected real numbers (a float array). "
            f"Convert it with np.asarray({name}, dtype=float) if it holds numbers."
        )
    arr = np.array(arr, dtype=np.float64, copy=True)
    if not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (nan or inf); "
                         "derivatives are only defined at finite points")
    return arr


def _eval(f, x: np.ndarray, what: str) -> np.ndarray:
    """f(x) as a float64 array, with a clear error if it is not numeric or not finite."""
    out = _to_numpy(f(x))
    if out.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"f returned dtype {out.dtype} {what}; expected real numbers")
    out = out.astype(np.float64, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"f returned a non-finite value (nan or inf) {what}; "
                         "pick a point where f is finite or a smaller h")
    return out


def numerical_jacobian(f, x, h: float = 1e-5) -> np.ndarray:
    """Central-difference Jacobian of f at x, in numerator layout.

    Parameters
    ----------
    f : callable taking an array shaped like x and returning an array of any fixed shape.
    x : array of any shape (column vector (n, 1), row (1, n), matrix, scalar ...).
    h : step size; 1e-5 balances truncation and rounding error in float64.

    Returns
    -------
    jac : float64 array of shape (f(x).size, x.size).  jac[i, j] = d f_i / d x_j, where
        i and j index f(x) and x flattened in C order.  For z = W x with W (n, m) and
        x (m, 1) this is exactly W (n, m).
    """
    x = _float64_copy(x, "x")
    _check_step(h)
    f0 = _eval(f, x.copy(), "at x")
    jac = np.empty((f0.size, x.size))
    flat = x.reshape(-1)  # a view: writing flat[j] perturbs x
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + h
        f_plus = _eval(f, x.copy(), f"at x + h (input index {_index(x.shape, j)})")
        flat[j] = old - h
        f_minus = _eval(f, x.copy(), f"at x - h (input index {_index(x.shape, j)})")
        flat[j] = old
        if f_plus.shape != f0.shape or f_minus.shape != f0.shape:
            raise ValueError(f"f changed its output shape from {f0.shape} to "
                             f"{f_plus.shape} when x moved; f must have a fixed output shape")
        jac[:, j] = (f_plus - f_minus).reshape(-1) / (2 * h)
    return jac


def numerical_gradient(f, x, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function f at x, shaped like x.

    Parameters
    ----------
    f : callable taking an array shaped like x and returning a scalar (a float, a 0-d
        array or any array with a single element, e.g. a (1, 1) loss).
    x : array of any shape, e.g. a weight matrix W (Dh, Dx) or a column b1 (Dh, 1).

    Returns
    -------
    grad : float64 array shaped like x; grad[idx] = dJ / dx[idx]  ("dJ/dW shaped like W").
    """
    x = _float64_copy(x, "x")
    _check_step(h)
    first = _eval(f, x.copy(), "at x")
    if first.size != 1:
        raise ValueError(f"f must return a scalar for a gradient; it returned shape "
                         f"{first.shape}. Use numerical_jacobian for vector outputs")
    grad = np.empty_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for j in range(x.size):
        old = flat_x[j]
        flat_x[j] = old + h
        f_plus = _eval(f, x.copy(), "at x + h").item()
        flat_x[j] = old - h
        f_minus = _eval(f, x.copy(), "at x - h").item()
        flat_x[j] = old
        flat_g[j] = (f_plus - f_minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f, x, df, h: float = 1e-5) -> np.ndarray:
    """Vector-Jacobian product by central differences (CS231n's check for backward passes).

    For out = f(x) and an upstream gradient df = dL/dout (shaped like out), returns
    dL/dx = sum_i df_i * d out_i / d x, shaped like x, without building the Jacobian.
    This is what a layer's ``backward(dout, cache)`` should return for its input.

    Parameters
    ----------
    f : callable, array shaped like x -> array `out` of fixed shape (e.g. batch form
        (N, M) for an affine layer).
    x : array of any shape, e.g. batch form (N, D).
    df : array shaped like f(x).

    Returns
    -------
    dx : float64 array shaped like x.
    """
    x = _float64_copy(x, "x")
    df = _float64_copy(df, "df")
    _check_step(h)
    out = _eval(f, x.copy(), "at x")
    if out.shape != df.shape:
        raise ValueError(f"df has shape {df.shape}; expected the shape of f(x), {out.shape}")
    grad = np.empty_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for j in range(x.size):
        old = flat_x[j]
        flat_x[j] = old + h
        pos = _eval(f, x.copy(), "at x + h")
        flat_x[j] = old - h
        neg = _eval(f, x.copy(), "at x - h")
        flat_x[j] = old
        flat_g[j] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def rel_error(a, b) -> float:
    """Largest elementwise relative error, max(|a - b| / max(1e-8, |a| + |b|)).

    a and b must have the same shape (any shape; a scalar is shape ()).  The 1e-8 floor
    keeps entries where both are ~0 from dividing by zero.  Returns 0.0 for empty arrays.
    """
    a = _float64_copy(a, "a")
    b = _float64_copy(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of different shapes: a has shape "
                         f"{a.shape}, b has shape {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(_rel_errors(a, b)))


def rel_abs_error(exact, approx, zero: float = 1e-3) -> tuple[float, float]:
    """Relative error where it means something, absolute error where the value is about 0.

    Parameters
    ----------
    exact, approx : arrays of the same shape (any shape), e.g. a hand-derived Jacobian and
        numerical_jacobian's at the same point.
    zero : entries where both |exact| and |approx| are below `zero` count as "about 0".
        Central differences with h = 1e-5 leave ~1e-10 of absolute error (an h**2 term
        and rounding), so an entry smaller than ~1e-3 cannot be resolved to a relative
        1e-7, right or not.

    Returns
    -------
    (rel, abs) : floats.  rel is the largest relative error (as in `rel_error`) over the
        entries that are not about 0; abs is the largest |exact - approx| over the entries
        that are.  Each is 0.0 when it has no entries.  A right gradient gives rel < 1e-7
        and abs < 1e-9 (for values of order 1).
    """
    exact = _float64_copy(exact, "exact")
    approx = _float64_copy(approx, "approx")
    if exact.shape != approx.shape:
        raise ValueError(f"cannot compare arrays of different shapes: exact has shape "
                         f"{exact.shape}, approx has shape {approx.shape}")
    if not (np.isfinite(zero) and zero >= 0):
        raise ValueError(f"zero must be a non-negative finite number; got {zero!r}")
    tiny = np.maximum(np.abs(exact), np.abs(approx)) < zero
    rel = np.max(_rel_errors(exact, approx)[~tiny], initial=0.0)
    absolute = np.max(np.abs(exact - approx)[tiny], initial=0.0)
    return float(rel), float(absolute)


def near_kink(z, h: float = 1e-5, reach: float = 1.0) -> np.ndarray:
    """Which ReLU inputs a central-difference step can carry across the kink at 0.

    Parameters
    ----------
    z : the input of a ReLU, any shape; e.g. z = W x + b1, a column (Dh, 1) in column
        form or Z (N, Dh) in batch form.
    h : the step of the check (1e-5 in this course).
    reach : how far one step of 1 in a checked input can move an entry of z, i.e. a
        bound on |dz_i / d input|.  For z = W x + b1: 1 for b1, max |x| for W,
        max |W| for x; max(1, max|x|, max|W|) covers all three.

    Returns
    -------
    mask : bool array shaped like z, True where |z| <= reach * h.  If any entry is True,
        a gradient check at this point means nothing: the central difference averages the
        slopes on the two sides of the kink, and a correct gradient can show a relative
        error of order 1.  Move the point (another input, another bias) until no entry is
        True.  (Exactly at z = 0 ReLU has no derivative at all.)
    """
    z = _float64_copy(z, "z")
    _check_step(h)
    if not (np.isfinite(reach) and reach > 0):
        raise ValueError(f"reach must be a positive finite number; got {reach!r}")
    return np.abs(z) <= reach * h


def check(got, expected, name: str = "gradient", tol: float = 1e-7) -> float:
    """Compare a computed gradient with a reference and explain any difference.

    Parameters
    ----------
    got : your array (any shape; e.g. dJ/dW shaped like W, or a Jacobian in numerator
        layout).
    expected : the reference array, same shape as `got` (e.g. from numerical_gradient).
    name : what `got` is, used in messages ("dJ/dW", "delta1", ...).
    tol : largest relative error accepted; 1e-7 suits float64 central differences.

    Returns
    -------
    The max relative error (float) when it is at most `tol`.

    Raises
    ------
    AssertionError with a plain-language message when `got` has the wrong shape, is not
    numeric, holds nan/inf, or differs from `expected` by more than `tol`.  The message
    says where the largest error is and the expected and got values there.
    """
    expected = _float64_copy(expected, "expected")
    if got is None:
        raise AssertionError(f"your {name} is None; did you forget to return it?")
    try:
        got_arr = _to_numpy(got)
    except Exception:
        raise AssertionError(f"your {name} is a {type(got).__name__}, which is not an "
                             "array of numbers") from None
    if got_arr.dtype.kind not in _NUMERIC_KINDS:
        raise AssertionError(f"your {name} has dtype {got_arr.dtype} (type "
                             f"{type(got).__name__}); expected an array of real numbers")
    got_arr = got_arr.astype(np.float64)
    if got_arr.shape != expected.shape:
        hint = ""
        if got_arr.ndim == 2 and got_arr.shape == expected.shape[::-1]:
            hint = " (it looks transposed)"
        elif got_arr.size == expected.size:
            hint = " (same number of entries: check the reshape/orientation)"
        raise AssertionError(f"your {name} has shape {got_arr.shape}; expected shape "
                             f"{expected.shape}{hint}")
    finite = np.isfinite(got_arr)
    if not np.all(finite):
        bad = np.argwhere(~finite)
        where = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"your {name} contains {len(bad)} non-finite value(s) (nan or inf); the first "
            f"is {got_arr[where]} at index {where}. Look for an overflow (exp of a large "
            "number) or a division by zero")
    if got_arr.size == 0:
        return 0.0
    errors = _rel_errors(got_arr, expected)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape)
    max_err = float(errors[worst])
    if max_err > tol:
        where = f"at index {tuple(int(i) for i in worst)}" if worst else "(it is a scalar)"
        if max(abs(expected[worst]), abs(got_arr[worst])) < 1e-3:
            verdict = (f"both values are about 0, where a relative error means little: "
                       f"their absolute difference is {abs(expected[worst] - got_arr[worst]):.3g} "
                       "(compare it with rel_abs_error)")
        elif max_err > 1e-2:
            verdict = ("this is wrong, unless a ReLU input lies within h of its kink, where "
                       "central differences mean nothing (see near_kink)")
        else:
            verdict = ("close but not right; a ReLU input near its kink or a small missing "
                       "term can do this")
        raise AssertionError(
            f"{name} does not match: the largest relative error is {max_err:.3g} {where}, "
            f"above the tolerance {tol:g}. There, expected {expected[worst]:.10g} but got "
            f"{got_arr[worst]:.10g}; {verdict}.")
    return max_err


def _rel_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise |a - b| / max(1e-8, |a| + |b|) (same shapes)."""
    return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


def _check_step(h: float) -> None:
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"step h must be a positive finite number; got {h!r}")


def _index(shape: tuple, flat_j: int):
    """The multi-index of flat position flat_j, for messages."""
    return tuple(int(i) for i in np.unravel_index(flat_j, shape)) if shape else ()
