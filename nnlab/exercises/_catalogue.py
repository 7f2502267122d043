"""What every lesson's exercise module is built from: the Exercise record, known mistakes,
the cases of a check, and small helpers for making inputs.

An :class:`Exercise` is the student's harness (:class:`nnlab.feedback.Spec`: how to run and
read an answer) plus the instructor's half: how to draw inputs, where the reference answer
lives, and the known-wrong answers (:class:`Variant`).
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from nnlab.feedback import Cases, Spec, _floats, _quiet, call


@dataclass(frozen=True)
class Variant:
    """A known-wrong answer.

    name   : what the mistake is called in messages ("transposed", "ReLU mask missing")
    hint   : one sentence explaining the fix in words; ``{label}`` is the output's label
    answer : (inputs, reference_answer) -> the wrong answer, in the student's return form
    student: for class exercises, () -> a student-style class that makes the mistake
    """

    name: str
    hint: str
    answer: Callable | None = None
    student: Callable | None = None


@dataclass(frozen=True)
class Ref:
    """The reference answer nnlab.<module>.<name>, imported when first needed."""

    module: str
    name: str

    @property
    def path(self) -> str:
        return f"nnlab.{self.module}.{self.name}"

    def __call__(self):
        return getattr(importlib.import_module(f"nnlab.{self.module}"), self.name)


@dataclass(frozen=True)
class Exercise:
    """One exercise: its harness (see :class:`nnlab.feedback.Spec`) and its answers.

    load_reference() -> the reference solution, in the student's form.
    make_inputs(rng, case) -> tuple of arguments for the student's function (case is the
        case index: some exercises make every other case an edge case, e.g. logits of +-1e4).
    expected(inputs) -> answer dict computed independently (default: unpack(run(reference))).
    """

    id: str
    title: str
    signature: str
    load_reference: Callable[[], Any]
    make_inputs: Callable[[np.random.Generator, int], tuple]
    describe: Callable[[tuple], str]
    outputs: tuple
    unpack: Callable[[Any], dict]
    variants: dict = field(default_factory=dict)
    run: Callable[[Any, tuple], Any] = call
    expected: Callable[[tuple], dict] | None = None
    nonfinite_hint: str = ""
    kind: str = "function"

    @property
    def reference(self):
        """The reference solution, in the student's form (imported on first use)."""
        return self.load_reference()

    @property
    def spec(self) -> Spec:
        return Spec(self.id, self.title, self.signature, self.describe, self.outputs,
                    self.unpack, self.run, self.nonfinite_hint, self.kind)


def build_cases(ex: Exercise, seed: int, count: int) -> Cases:
    """Inputs, reference answers and known-wrong answers of check_exercise(ex.id, ..., seed, count).

    All inputs come first, in case order, from one Generator: nothing else draws from it, so
    anyone can replay the cases with make_inputs(default_rng(seed), k).
    """
    spec = ex.spec
    rng = np.random.default_rng(seed)
    inputs = [ex.make_inputs(rng, k) for k in range(count)]
    with _quiet():
        if ex.expected is not None:
            ref_answers = None
            expected = [_floats(spec, ex.expected(copy.deepcopy(inp))) for inp in inputs]
        else:
            reference = ex.reference
            ref_answers = [ex.run(reference, copy.deepcopy(inp)) for inp in inputs]
            expected = [_floats(spec, spec.unpack(ans)) for ans in ref_answers]
        mistakes = [(v.name, v.hint, _variant_values(ex, v, inputs, ref_answers))
                    for v in ex.variants.values()]
    return Cases(spec, seed, inputs, expected, mistakes)


def _variant_values(ex: Exercise, variant: Variant, inputs, ref_answers) -> dict:
    """{output key: the variant's value on every case}, empty if it cannot be formed here."""
    spec = ex.spec
    answers = []
    for k, inp in enumerate(inputs):
        try:
            if variant.answer is not None:
                ref = copy.deepcopy(ref_answers[k]) if ref_answers is not None else None
                answer = variant.answer(copy.deepcopy(inp), ref)
            else:
                answer = ex.run(variant.student(), copy.deepcopy(inp))
            answers.append(_floats(spec, spec.unpack(answer)))
        except Exception:  # a variant that cannot be formed for these inputs is no match
            return {}
    return {out.key: [a[out.key] for a in answers] for out in spec.outputs}


def wrong_variant(ex: Exercise, variant_name: str, correct=None):
    """A student-style function (a class for class exercises) that makes one known mistake.

    correct : a right answer to start from (default: the reference).
    """
    try:
        variant = ex.variants[variant_name]
    except KeyError:
        raise ValueError(f"{ex.id} has no variant {variant_name!r}; "
                         f"known: {sorted(ex.variants)}") from None
    if variant.student is not None:
        return variant.student()

    def wrong(*args):
        with _quiet():
            return variant.answer(args, ex.run(correct or ex.reference, copy.deepcopy(args)))

    wrong.__name__ = wrong.__qualname__ = ex.signature.split("(")[0]
    wrong.__doc__ = f"{ex.title}, with a known mistake: {variant.name}."
    return wrong


# --------------------------------------------------------------------------------------
# Helpers for making inputs and wrong answers
# --------------------------------------------------------------------------------------

def sizes(rng: np.random.Generator, count: int, low: int = 2, high: int = 7) -> list:
    """`count` distinct sizes in [low, high]: distinct so a transpose never fits by accident."""
    return [int(s) for s in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def away_from_zero(rng: np.random.Generator, shape, low=0.3, high=2.0) -> np.ndarray:
    """Random values with |v| in [low, high] and random signs."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def one_hot(rng: np.random.Generator, classes: int) -> np.ndarray:
    y = np.zeros((classes, 1))
    y[rng.integers(classes), 0] = 1.0
    return y


def naive_softmax(theta: np.ndarray, axis: int = 0) -> np.ndarray:
    """exp(theta) / sum(exp(theta)) without the max-shift: overflows for large logits."""
    e = np.exp(theta)
    return e / np.sum(e, axis=axis, keepdims=True)


def stable_softmax(theta: np.ndarray, axis: int = 0) -> np.ndarray:
    """exp(theta - max) / sum(exp(theta - max)), for the known-wrong answers that need one."""
    e = np.exp(theta - np.max(theta, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logits(rng: np.random.Generator, classes: int, case: int) -> np.ndarray:
    """Logits (C, 1): ordinary on even cases, of size +-1e4 on odd cases (the overflow test)."""
    if case % 2:
        return away_from_zero(rng, (classes, 1), 0.5, 1.0) * 1e4
    return rng.normal(0.0, 1.5, size=(classes, 1))


def map_answer(answer, fn):
    """Apply fn to every array of an answer (an array, a tuple or a dict)."""
    if isinstance(answer, dict):
        return {k: fn(np.asarray(v)) for k, v in answer.items()}
    if isinstance(answer, tuple):
        return tuple(fn(np.asarray(v)) for v in answer)
    return fn(np.asarray(answer))


def negated(hint: str = "Every entry has the wrong sign.") -> Variant:
    return Variant("negated", hint, answer=lambda inp, ref: map_answer(ref, np.negative))


def by_name(*variants: Variant) -> dict:
    return {v.name: v for v in variants}


MAX_SHIFT_HINT = ("exp(1e4) is inf in float64: subtract max(theta) from theta first "
                  "(softmax does not change).")
OVERFLOW_HINT = ("softmax without the max-shift overflows: subtract max(theta) first "
                 "(exp(1e4) is inf in float64).")
MASK_HINT = ("The gradient flows back through h = ReLU(z) only where z > 0: multiply "
             "elementwise by ReLU'(z).")
