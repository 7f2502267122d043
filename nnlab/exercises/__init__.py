"""The instructor's catalogue of graded exercises: one module per lesson.

Each ``lessonNN`` module holds that lesson's exercises: how to draw their inputs, where the
reference answer lives, and the known mistakes the checks recognise.  This package is the
answer key.  It is part of the full package that instructors and self-learners install, and
it is left out of the student edition of the course (see :mod:`nnlab.grading.edition`), as
are the reference functions it points to; the student's checks then use the visible cases
shipped with that edition.

``EXERCISES`` maps each exercise id to its :class:`Exercise`.
"""

from functools import lru_cache

from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06
from ._catalogue import Exercise, Ref, Variant
from ._catalogue import build_cases as _build_cases
from ._catalogue import wrong_variant as _wrong_variant

__all__ = ["EXERCISES", "Exercise", "Variant", "build_cases", "wrong_variant",
           "withheld_references", "reference_code"]

LESSONS = (lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06)

EXERCISES: dict = {ex.id: ex for lesson in LESSONS for ex in lesson.EXERCISES}


def lookup(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown exercise id {exercise_id!r}; "
                         f"known ids: {', '.join(EXERCISES)}") from None


def build_cases(exercise_id: str, seed: int = 0, cases: int = 5):
    """The :class:`nnlab.feedback.Cases` of check_exercise(exercise_id, ..., seed, cases)."""
    return _build_cases(lookup(exercise_id), int(seed), int(cases))


def wrong_variant(exercise_id: str, variant_name: str, correct=None):
    """A student-style function (a class for "softplus") that makes one known mistake.

    check_exercise(exercise_id, wrong_variant(exercise_id, name)) fails with a message that
    names ``name``.  ``correct``: a right answer to start from (default: the reference).
    Used to build synthetic wrong submissions.
    """
    return _wrong_variant(lookup(exercise_id), variant_name, correct)


def withheld_references() -> dict:
    """{"nnlab.module": [function names]}: the reference answers kept out of the student edition."""
    found: dict = {}
    for ex in EXERCISES.values():
        if isinstance(ex.load_reference, Ref):
            names = found.setdefault(f"nnlab.{ex.load_reference.module}", [])
            if ex.load_reference.name not in names:
                names.append(ex.load_reference.name)
    return found


@lru_cache(maxsize=1)
def reference_code() -> dict:
    """{code object: "nnlab.module.name"} of every withheld reference (to notice calls)."""
    import importlib

    codes = {}
    for module, names in withheld_references().items():
        mod = importlib.import_module(module)
        for name in names:
            code = getattr(getattr(mod, name), "__code__", None)
            if code is not None:
                codes[code] = f"{module}.{name}"
    return codes
