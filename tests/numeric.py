"""Shared assertion of the gradient tests: an analytic gradient against central differences."""
import numpy as np

from nnlab.gradcheck import rel_error

TOL = 1e-7


def assert_matches_numeric(got, numeric, name):
    """Relative error < 1e-7 against central differences, entry by entry.

    Central differences in float64 carry ~1e-11 of absolute rounding error, so an entry
    below 1e-3 cannot be resolved to 1e-7 relative (a true 1e-12 may even come out as
    exactly 0); those few entries are held to an absolute 1e-9 instead, every other entry
    to the relative bound.
    """
    numeric = np.asarray(numeric)
    assert got.shape == numeric.shape, f"{name}: shape {got.shape} vs {numeric.shape}"
    resolvable = np.abs(numeric) >= 1e-3
    if resolvable.any():
        err = rel_error(got[resolvable], numeric[resolvable])
        assert err < TOL, f"{name}: relative error {err:.2e}"
    tiny_err = np.max(np.abs(got - numeric)[~resolvable], initial=0.0)
    assert tiny_err < 1e-9, f"{name}: absolute error {tiny_err:.2e} on entries below 1e-3"
