"""The table that ends lesson 05 (what minitorch shares with PyTorch, where it differs) is kept
true: every row is run on minitorch, and on PyTorch when it is installed, and each cell's claim
is checked. The cells say one of:

* a value in backticks: the result's repr ("…" stands for any text, such as an address), optionally
  followed by "with a `UserWarning`";
* raises `SomeError`: the program raises that exception (or a subclass, as PyTorch's errors are);
* runs: ...: the program runs; "the same value to float32 precision" and "the same shape and
  dtype, other numbers" are compared with PyTorch's result;
* same (minitorch column only): the same outcome as in the PyTorch column.
"""
import re
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

import nnlab.minitorch as mt

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "05_custom_autograd" / "05_custom_autograd.ipynb"
SETUP = "w = torch.ones(2, requires_grad=True)"


def table_rows():
    """[(program, PyTorch cell, minitorch cell)] from the last markdown table of the lesson."""
    nb = nbformat.read(LESSON, as_version=4)
    text = [c.source for c in nb.cells if c.cell_type == "markdown" and "| program | PyTorch | minitorch |" in c.source]
    assert len(text) == 1, "lesson 05 has one table of what is shared and what differs"
    assert nb.cells[-1].source == text[0], "the table ends the lesson"
    assert f"`{SETUP}`" in text[0], "the table states the set-up that every row runs after"
    rows = []
    for line in text[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


ROWS = table_rows()


def run_row(program, engine):
    """(result, exception, [warning categories]) of the row's program on the engine."""
    namespace = {"torch": engine}
    exec(SETUP, namespace)
    *statements, last = [s.strip() for s in program.split(";")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for statement in statements:
                exec(statement, namespace)
            try:
                result = eval(last, namespace)
            except SyntaxError:
                exec(last, namespace)
                result = None
        except Exception as exc:  # the claim to check may be the exception
            return None, exc, [w.category for w in caught]
    return result, None, [w.category for w in caught]


def check_claim(claim, outcome, reference=None):
    """Assert that outcome (of run_row) is what the table cell `claim` says."""
    result, exc, warned = outcome
    raised = re.fullmatch(r"raises `(\w+)`", claim)
    if raised:
        assert exc is not None, f"expected {raised.group(1)}, got {result!r}"
        assert any(c.__name__ == raised.group(1) for c in type(exc).__mro__), f"raised {exc!r}"
        return
    assert exc is None, f"raised {exc!r}"
    if claim.startswith("runs:"):
        if "the same value to float32 precision" in claim:
            np.testing.assert_allclose(np.asarray(result), np.asarray(reference[0]), rtol=2e-7)
            assert repr(result) != repr(reference[0]), "the row says the printed values differ in the last digits"
        if "the same shape and dtype, other numbers" in claim:
            assert tuple(result.shape) == tuple(reference[0].shape) and str(result.dtype) == str(reference[0].dtype)
            assert not np.allclose(np.asarray(result), np.asarray(reference[0]))
        return
    value = re.fullmatch(r"`([^`]*)`(, with a `(\w+)`)?", claim)
    assert value, f"cannot read the claim {claim!r}"
    shown = value.group(1)
    pattern = ".*".join(re.escape(part) for part in shown.split("…"))
    assert re.fullmatch(pattern, repr(result)), f"{result!r} vs {shown!r}"
    if value.group(3):
        assert any(c.__name__ == value.group(3) for c in warned), f"no {value.group(3)}: {warned}"


def test_the_table_has_both_kinds_of_rows():
    assert len(ROWS) >= 10
    assert sum(ours == "same" for _, _, ours in ROWS) >= 8
    assert sum(ours != "same" for _, _, ours in ROWS) >= 3


@pytest.mark.parametrize("program, theirs, ours", ROWS, ids=[row[0] for row in ROWS])
def test_minitorch_does_what_the_table_says(program, theirs, ours):
    claim = theirs if ours == "same" else ours
    reference = None
    if claim.startswith("runs:") and ("float32 precision" in claim or "shape and dtype" in claim):
        torch = pytest.importorskip("torch", reason="this row compares with PyTorch's result; PyTorch is not installed")
        reference = run_row(program, torch)
    check_claim(claim, run_row(program, mt), reference)


@pytest.mark.parametrize("program, theirs, ours", ROWS, ids=[row[0] for row in ROWS])
def test_pytorch_does_what_the_table_says(program, theirs, ours):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the PyTorch column is checked when it is")
    check_claim(theirs, run_row(program, torch))
