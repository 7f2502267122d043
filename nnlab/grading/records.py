"""The grader's records: one verdict per graded cell and grading run, kept for the class report.

``<course>/.grading/verdicts.jsonl`` holds one JSON object a line. Two kinds:

- a **verdict** (no ``kind``, or ``"kind": "verdict"``), one per graded test cell::

    {"time": 1764600000.0, "run": "a1b2", "student": "ada", "assignment": "02_identities",
     "notebook": "02_identities", "grade_id": "test_identity5", "exercise": "identity5",
     "points": 0.0, "max_points": 2.0, "passed": false, "mistake": "outer product reversed",
     "reason": "your dJ/dW matches a known mistake: outer product reversed.",
     "flags": ["late"], "seconds": 0.41}

  ``mistake`` is the name of the known mistake the check recognised (``None`` when the cell
  passed or the mistake was not one the catalogue knows); ``flags`` may hold ``reference``
  (called or copied the course's reference), ``copied`` (solution code matches the reference,
  flagged for review), ``too slow``, ``limits`` (a resource limit was hit) and ``late``;
- a **notebook timing** (``"kind": "notebook"``)::

    {"kind": "notebook", "time": ..., "run": "a1b2", "student": "ada",
     "assignment": "02_identities", "notebook": "02_identities", "seconds": 12.5}

Every ``nnlab grade`` run appends; nothing is rewritten. When reading, only the latest grading
of each (student, assignment, grade_id) counts, so a regrade replaces what it regraded and
leaves the rest. A line that is not valid JSON or lacks a required field is skipped: the
file is written by grading processes that may be killed mid-line.
"""

import json
import math
import os

from .events import STATE_DIR

VERDICTS_FILE = "verdicts.jsonl"

#: The flags a verdict may carry, in the words the report uses.
FLAGS = {
    "reference": "called or copied the course's reference",
    "copied": "solution code matches the reference (for review)",
    "too slow": "too slow",
    "limits": "a resource limit was hit",
    "late": "late",
}

_VERDICT_TEXT = ("run", "student", "assignment", "notebook", "grade_id", "exercise")
_NOTEBOOK_TEXT = ("run", "student", "assignment", "notebook")
_REQUIRED = {
    "verdict": ("time", "student", "assignment", "grade_id", "points", "max_points", "passed"),
    "notebook": ("time", "student", "assignment", "notebook", "seconds"),
}


def verdicts_path(root):
    """``<course>/.grading/verdicts.jsonl``."""
    return os.path.join(root, STATE_DIR, VERDICTS_FILE)


def _number(value, field):
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value!r}")
    return number


def _text(value, field):
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    return value


def normalize(record):
    """A record in its stored form (plain JSON types), or ValueError naming the bad field."""
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a dict, got {type(record).__name__}")
    kind = record.get("kind") or "verdict"
    if kind not in _REQUIRED:
        raise ValueError(f"unknown record kind {kind!r}; known: verdict, notebook")
    missing = [f for f in _REQUIRED[kind] if record.get(f) is None]
    if missing:
        raise ValueError(f"{kind} record lacks {', '.join(missing)}")
    out = {}
    if kind == "notebook":
        out["kind"] = "notebook"
        for field in _NOTEBOOK_TEXT:
            out[field] = _text(record.get(field, ""), field)
        out["time"] = _number(record["time"], "time")
        out["seconds"] = _number(record["seconds"], "seconds")
        return out
    for field in _VERDICT_TEXT:
        out[field] = _text(record.get(field, ""), field)
    out["notebook"] = out["notebook"] or out["assignment"]
    for field in ("time", "points", "max_points"):
        out[field] = _number(record[field], field)
    passed = record["passed"]
    if not isinstance(passed, bool):
        # numpy.bool_ and 0/1 are fine; strings are not.
        if isinstance(passed, str) or not hasattr(passed, "__bool__"):
            raise ValueError(f"passed must be a bool, got {passed!r}")
        passed = bool(passed)
    out["passed"] = passed
    mistake = record.get("mistake")
    out["mistake"] = _text(mistake, "mistake") if mistake else None
    reason = record.get("reason") or ""
    out["reason"] = _text(reason, "reason").splitlines()[0] if reason.strip() else ""
    flags = record.get("flags") or []
    if isinstance(flags, str) or not isinstance(flags, (list, tuple)):
        raise ValueError(f"flags must be a list of strings, got {flags!r}")
    out["flags"] = [_text(f, "flags") for f in flags]
    seconds = record.get("seconds")
    out["seconds"] = None if seconds is None else _number(seconds, "seconds")
    return out


def append_verdicts(root, records):
    """Append records (verdicts and notebook timings) to ``<course>/.grading/verdicts.jsonl``.

    All lines go out in one ``write`` on a file opened for appending, so records of one call
    are never interleaved with another process's. A record with a missing or mistyped field
    raises ValueError naming it, and nothing is written.
    """
    lines = "".join(json.dumps(normalize(r), sort_keys=True) + "\n" for r in records)
    if not lines:
        return
    path = verdicts_path(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = lines.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def read_records(root):
    """Every well-formed record in file order (both kinds), each normalized; bad lines skipped."""
    path = verdicts_path(root)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            out.append(normalize(json.loads(line)))
        except (ValueError, TypeError, OverflowError, RecursionError):
            continue
    return out


def _latest(records, key):
    # Latest time wins; on equal times, the line written later.
    best = {}
    for order, record in enumerate(records):
        k = key(record)
        rank = (record["time"], order)
        if k not in best or rank >= best[k][0]:
            best[k] = (rank, record)
    return [record for _, record in sorted(best.values(), key=lambda item: item[0])]


def read_verdicts(root):
    """The verdicts that count: for each (student, assignment, grade_id), its latest grading."""
    verdicts = [r for r in read_records(root) if r.get("kind") is None]
    return _latest(verdicts, lambda r: (r["student"], r["assignment"], r["grade_id"]))


def read_notebook_times(root):
    """Notebook timings that count: for each (student, assignment, notebook), the latest."""
    timings = [r for r in read_records(root) if r.get("kind") == "notebook"]
    return _latest(timings, lambda r: (r["student"], r["assignment"], r["notebook"]))
