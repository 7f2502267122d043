"""Exercise checks that name the mistake.

A lesson's test cell calls

    from nnlab.feedback import check_exercise
    check_exercise("identity5", dJ_dW_Wx)

which runs the student's function and the reference on ``cases`` random inputs (a seeded
numpy Generator, small random non-square shapes, values away from ReLU kinks) and compares
them in float64.  On success it prints one line.  On failure it raises AssertionError with
a short message in the lesson's words:

- the exercise is not implemented yet, the function returned None, or it raised;
- a shape error names both shapes in the lesson's notation
  ("your dJ/dW has shape (3, 4); W has shape (n, m) = (4, 3)");
- a known mistake is named when the answer equals a known-wrong variant of the reference on
  every case (transposed, negated, scaled by N or 1/N, ReLU mask missing, bias missing,
  summed over the wrong axis, outer product reversed, softmax without the max-shift, ...);
- nan/inf values get their own message;
- otherwise: the max relative error, where it occurs, and the two values there.

Messages explain the mistake in words; they never show the reference code.

Conventions follow the lessons: column form (x: (Dx, 1)) for the notes' network and the
identities, batch form (X: (N, Dx)) for ``onelayer_batch`` and the layers of lesson 06;
Jacobians in numerator layout (rows index outputs); dJ/dW shaped like W.

``EXERCISES`` maps each exercise id to an ``Exercise`` (title, reference, make_inputs,
variants); ``wrong_variant(exercise_id, name)`` returns a student-style function (or class)
that commits one named mistake, for tests of the grading pipeline.

Nothing here writes to stderr: numpy warnings raised while checking (overflow in a
student's exp, say) are silenced, because nbgrader scores any stderr output as a failure.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["check_exercise", "wrong_variant", "EXERCISES", "Exercise", "Variant", "Output"]

#: Largest relative error accepted: the exercises have exact formulas, so only roundoff remains.
TOL = 1e-6


# --------------------------------------------------------------------------------------
# Registry types
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """One checked quantity of an exercise's answer.

    key   : its key in the answer dict (``Exercise.unpack`` turns any answer into a dict)
    label : how messages call it, in the lesson's notation ("dJ/dW")
    shape_hint : the sentence naming its correct shape; ``{shape}`` is filled in
    scalar : a single number (shapes (), (1,), (1, 1) all accepted)
    """

    key: str
    label: str
    shape_hint: str = "expected shape {shape}"
    scalar: bool = False


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


def _call(obj, inputs):
    return obj(*inputs)


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to make inputs, run an answer, and judge it.

    make_inputs(rng, case) -> tuple of arguments for the student's function (case is the
    case index: some exercises make every other case an edge case, e.g. logits of +-1e4).
    unpack(answer) -> {output key: value}; raises _Feedback on a malformed answer.
    run(obj, inputs) -> the answer of a student object (default: obj(*inputs)).
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
    run: Callable[[Any, tuple], Any] = _call
    expected: Callable[[tuple], dict] | None = None
    nonfinite_hint: str = ""
    kind: str = "function"

    @property
    def reference(self):
        """The reference solution, in the student's form (imported on first use)."""
        return self.load_reference()


class _Feedback(Exception):
    """A message for the student; check_exercise turns it into an AssertionError."""


class _StudentRaised(Exception):
    """The student's code raised ``error`` while doing ``where``."""

    def __init__(self, where: str, error: BaseException):
        super().__init__(where)
        self.where, self.error = where, error


@contextlib.contextmanager
def _quiet():
    """Silence numpy floating-point warnings (stderr would fail the nbgrader cell)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------

def check_exercise(exercise_id: str, student_obj, seed: int = 0, cases: int = 5) -> None:
    """Check a student's answer to ``exercise_id`` on ``cases`` random inputs.

    student_obj : the student's function (or, for "softplus", class), same signature as the
        reference; see ``EXERCISES[exercise_id].signature``.
    seed : seeds the numpy Generator that makes the inputs.
    Prints one line when every case matches (relative error < 1e-6 in float64); otherwise
    raises AssertionError with a message that says what is wrong.
    """
    __tracebackhide__ = True  # pytest leaves this frame out of tracebacks
    ex = _lookup(exercise_id)
    if int(cases) < 1:
        raise ValueError(f"cases must be at least 1; got {cases}")
    cases = int(cases)
    try:
        with _quiet():
            _check(ex, student_obj, seed, cases)
    except _Feedback as feedback:
        raise AssertionError(f"✗ {ex.id}: {feedback}") from None
    print(f"✓ {ex.id}: matches the reference on {cases} random case{'s' * (cases != 1)}.")


def wrong_variant(exercise_id: str, variant_name: str):
    """A student-style function (a class for "softplus") that makes one known mistake.

    check_exercise(exercise_id, wrong_variant(exercise_id, name)) fails with a message that
    names ``name``.  Used to build synthetic wrong submissions.
    """
    ex = _lookup(exercise_id)
    try:
        variant = ex.variants[variant_name]
    except KeyError:
        raise ValueError(f"{exercise_id} has no variant {variant_name!r}; "
                         f"known: {sorted(ex.variants)}") from None
    if variant.student is not None:
        return variant.student()

    def wrong(*args):
        with _quiet():
            return variant.answer(args, ex.run(ex.reference, copy.deepcopy(args)))

    wrong.__name__ = wrong.__qualname__ = ex.signature.split("(")[0]
    wrong.__doc__ = f"{ex.title}, with a known mistake: {variant.name}."
    return wrong


def _lookup(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown exercise id {exercise_id!r}; "
                         f"known ids: {', '.join(EXERCISES)}") from None


# --------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------

def _check(ex: Exercise, student_obj, seed: int, cases: int) -> None:
    # All inputs come first, in case order, from one Generator: nothing else draws from it,
    # so anyone can replay the cases with make_inputs(default_rng(seed), k).
    rng = np.random.default_rng(seed)
    inputs = [ex.make_inputs(rng, k) for k in range(cases)]
    if ex.expected is not None:
        ref_answers = None
        expected = [_floats(ex, ex.expected(copy.deepcopy(inp))) for inp in inputs]
    else:
        reference = ex.reference
        ref_answers = [ex.run(reference, copy.deepcopy(inp)) for inp in inputs]
        expected = [_floats(ex, ex.unpack(ans)) for ans in ref_answers]

    _check_student_object(ex, student_obj)
    got = []
    for k, inp in enumerate(inputs):
        answer = _run_student(ex, student_obj, inp, k)
        got.append(_floats(ex, ex.unpack(answer), student=True))

    for out in ex.outputs:
        exp_k = [e[out.key] for e in expected]
        got_k = [g[out.key] for g in got]
        if not all(_close(g, e) for g, e in zip(got_k, exp_k)):
            _diagnose(ex, out, inputs, ref_answers, exp_k, got_k)


def _check_student_object(ex: Exercise, obj) -> None:
    if obj is None:
        raise _Feedback(f"you passed None; pass your {ex.kind} itself, "
                        f"e.g. check_exercise({ex.id!r}, {ex.signature.split('(')[0]}).")
    if ex.kind == "class":
        from nnlab.minitorch.autograd import Function

        if not (isinstance(obj, type) and issubclass(obj, Function)):
            raise _Feedback(f"pass your class {ex.signature} itself (not .apply, not an "
                            f"instance); it must subclass torch.autograd.Function. "
                            f"You passed {_type_name(obj)}.")
    elif not callable(obj):
        raise _Feedback(f"pass your function itself, e.g. check_exercise({ex.id!r}, "
                        f"{ex.signature.split('(')[0]}); you passed {_type_name(obj)}.")


def _run_student(ex: Exercise, obj, inp: tuple, k: int):
    try:
        return ex.run(obj, copy.deepcopy(inp))
    except _StudentRaised as raised:
        where, error = raised.where, raised.error
    except _Feedback:
        raise
    except Exception as exc:  # the student's own code raised
        where, error = ex.signature, exc
    if isinstance(error, NotImplementedError):
        raise _Feedback(f"not implemented yet: replace `raise NotImplementedError` in "
                        f"{where} with your code.")
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise _Feedback(f"your {where} raised {type(error).__name__}"
                    f"{': ' + message if message else ''}\n"
                    f"  on case {k + 1}: {ex.describe(inp)}.")


def _floats(ex: Exercise, answer: dict, student: bool = False) -> dict:
    """Each output of an unpacked answer as a float64 array (scalars as shape ())."""
    result = {}
    for out in ex.outputs:
        value = answer[out.key]
        who = f"your {out.label}" if student else f"the reference {out.label}"
        if value is None:
            raise _Feedback(f"{who} is None; did you forget `return`?")
        array = _numpy(value)
        if array.dtype.kind not in "biuf":
            raise _Feedback(f"{who} is {_type_name(value)}; expected an array of real numbers.")
        value = array.astype(np.float64)
        if out.scalar and value.size == 1:
            value = value.reshape(())
        result[out.key] = value
    return result


def _numpy(value) -> np.ndarray:
    """value as a numpy array; tensors (with .detach()/.numpy()) are unwrapped."""
    if hasattr(value, "detach") and callable(value.detach):
        value = value.detach()
    if hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        return np.asarray(value)
    except Exception:  # ragged lists and the like
        return np.asarray(None)


def _type_name(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------------------
# Comparing and explaining
# --------------------------------------------------------------------------------------

def _rel_errors(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Elementwise |a-b| / (|a|+|b|), the CS231n relative error.

    The denominator is floored at 1e-8 times the scale of the reference array: entries that
    are zero up to cancellation (roundoff ~1e-16 of the scale) must not look 100% wrong.
    """
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    floor = max(1e-8, 1e-8 * scale) if np.isfinite(scale) else 1e-8
    return np.abs(got - expected) / np.maximum(np.abs(got) + np.abs(expected), floor)


def _close(got: np.ndarray, expected: np.ndarray) -> bool:
    """Same shape, all finite, relative error below TOL."""
    return (got.shape == expected.shape and bool(np.all(np.isfinite(got)))
            and bool(np.all(np.isfinite(expected)))
            and (got.size == 0 or float(np.max(_rel_errors(got, expected))) < TOL))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to roundoff, with nan matching nan and inf matching inf of the same sign."""
    if a.shape != b.shape:
        return False
    fin_a, fin_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fin_a, fin_b):
        return False
    if not np.array_equal(a[~fin_a], b[~fin_b], equal_nan=True):
        return False
    return not fin_a.any() or float(np.max(_rel_errors(a[fin_a], b[fin_b]))) < TOL


def _fmt_shape(shape: tuple) -> str:
    return str(tuple(int(s) for s in shape))


def _fmt_index(index: tuple) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ("," if len(index) == 1 else "") + ")"


def _diagnose(ex, out, inputs, ref_answers, expected, got):
    """Raise _Feedback explaining why `got` differs from `expected` for one output."""
    # 1. A known mistake, matched on every case (first exactly, then ignoring size-1 axes,
    #    so a (N,) answer matches a (N, 1) variant).
    candidates = [(variant, _variant_values(ex, variant, out, inputs, ref_answers))
                  for variant in ex.variants.values()]
    for squeeze in (False, True):
        fit = np.squeeze if squeeze else np.asarray
        for variant, values in candidates:
            if values is None:
                continue
            if (all(_same(fit(g), fit(v)) for g, v in zip(got, values))
                    and not all(_same(fit(v), fit(e)) for v, e in zip(values, expected))):
                raise _Feedback(f"your {out.label} matches a known mistake: {variant.name}.\n"
                                f"  {variant.hint.format(label=out.label)}")

    # 2. Shapes.
    for k, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape:
            if out.scalar:
                raise _Feedback(f"your {out.label} has shape {_fmt_shape(g.shape)}; "
                                f"it should be a single number.")
            hint = out.shape_hint.format(shape=_fmt_shape(e.shape))
            extra = ""
            if g.shape == e.shape[::-1]:
                extra = "\n  Yours is the transpose: check which index runs over rows."
            elif g.size == e.size:
                extra = "\n  Same number of entries, different arrangement: check your reshape."
            raise _Feedback(f"your {out.label} has shape {_fmt_shape(g.shape)}; {hint}.{extra}\n"
                            f"  (case {k + 1}: {ex.describe(inputs[k])})")

    # 3. nan / inf.
    for k, g in enumerate(got):
        bad = ~np.isfinite(g)
        if bad.any():
            index = np.argwhere(bad)[0] if g.ndim else ()
            value = g[tuple(index)]
            where = f" at index {_fmt_index(index)}" if g.ndim else ""
            hint = ex.nonfinite_hint or "Look for a division by zero or an exp of a large number."
            raise _Feedback(f"your {out.label} contains {value}{where} on case {k + 1} "
                            f"({ex.describe(inputs[k])}).\n  {hint}")

    # 4. Plain numbers: where is it worst?
    worst_k, worst_err = 0, -1.0
    for k, (g, e) in enumerate(zip(got, expected)):
        err = float(np.max(_rel_errors(g, e))) if g.size else 0.0
        if err > worst_err:
            worst_k, worst_err = k, err
    g, e = got[worst_k], expected[worst_k]
    errs = _rel_errors(g, e)
    index = np.unravel_index(int(np.argmax(errs)), g.shape) if g.ndim else ()
    where = f" at index {_fmt_index(index)}" if g.ndim else ""
    raise _Feedback(
        f"your {out.label} does not match the reference: max relative error {worst_err:.3g}"
        f"{where} on case {worst_k + 1} ({ex.describe(inputs[worst_k])}).\n"
        f"  There the reference has {e[index]:.6g} and yours has {g[index]:.6g}."
        + ("\n  An error this small is usually precision: compute in float64, not float32."
           if worst_err < 1e-3 else ""))


def _variant_values(ex, variant, out, inputs, ref_answers):
    """The variant's value of one output on every case, or None if it does not apply."""
    values = []
    for k, inp in enumerate(inputs):
        try:
            if variant.answer is not None:
                ref = copy.deepcopy(ref_answers[k]) if ref_answers is not None else None
                answer = variant.answer(copy.deepcopy(inp), ref)
            else:
                answer = ex.run(variant.student(), copy.deepcopy(inp))
            values.append(_floats(ex, ex.unpack(answer))[out.key])
        except Exception:  # a variant that cannot be formed for these inputs is no match
            return None
    return values


# --------------------------------------------------------------------------------------
# Building blocks for the registry
# --------------------------------------------------------------------------------------

def _ref(module: str, name: str) -> Callable[[], Any]:
    """Lazy loader: nnlab.<module>.<name>, imported when first needed."""
    def load():
        return getattr(importlib.import_module(f"nnlab.{module}"), name)
    return load


def _describe(*names: str) -> Callable[[tuple], str]:
    """A describer listing each argument with its shape (arrays) or value (numbers)."""
    def describe(inputs: tuple) -> str:
        parts = []
        for name, value in zip(names, inputs):
            if isinstance(value, np.ndarray):
                text = f"{name} {_fmt_shape(value.shape)}"
                big = float(np.max(np.abs(value))) if value.size else 0.0
                if big >= 1e3:
                    text += f" with entries up to ±{big:.0e}"
            elif callable(value):
                text = f"{name} = {getattr(value, '__name__', 'a function')}"
            else:
                text = f"{name} = {value:.4g}"
            parts.append(text)
        return ", ".join(parts)
    return describe


def _keyed(keys: tuple, what: str) -> Callable[[Any], dict]:
    """unpack for an answer that is a dict of gradients (the network's backward)."""
    def unpack(answer):
        if answer is None:
            raise _Feedback(f"your {what} returned None; did you forget `return`?")
        if not isinstance(answer, dict):
            raise _Feedback(f"your {what} should return a dict of gradients "
                            f"(keys {', '.join(repr(k) for k in keys)}); "
                            f"it returned {_type_name(answer)}.")
        missing = [k for k in keys if k not in answer]
        if missing:
            have = ", ".join(repr(k) for k in answer) or "none"
            raise _Feedback(f"the dict from your {what} has no key "
                            f"{', '.join(repr(k) for k in missing)} (its keys: {have}).")
        return {k: answer[k] for k in keys}
    return unpack


def _tuple(keys: tuple, what: str) -> Callable[[Any], dict]:
    """unpack for an answer that is a tuple, e.g. (dx, dgamma, dbeta)."""
    def unpack(answer):
        if answer is None:
            raise _Feedback(f"your {what} returned None; did you forget `return`?")
        sized = hasattr(answer, "__len__") and not isinstance(answer, (dict, str))
        if not sized or len(answer) != len(keys):
            length = f" of length {len(answer)}" if sized else ""
            raise _Feedback(f"your {what} should return {len(keys)} values "
                            f"({', '.join(keys)}); it returned {_type_name(answer)}{length}.")
        return dict(zip(keys, answer))
    return unpack


def _array_check(key: str) -> Callable[[Any], dict]:
    """unpack for a single array answer, with the None message."""
    def unpack(answer):
        if answer is None:
            raise _Feedback("your function returned None; did you forget `return`?")
        return {key: answer}
    return unpack


def _sizes(rng: np.random.Generator, count: int, low: int = 2, high: int = 7) -> list:
    """`count` distinct sizes in [low, high]: distinct so a transpose never fits by accident."""
    return [int(s) for s in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def _away_from_zero(rng: np.random.Generator, shape, low=0.3, high=2.0) -> np.ndarray:
    """Random values with |v| in [low, high] and random signs."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _one_hot(rng: np.random.Generator, classes: int) -> np.ndarray:
    y = np.zeros((classes, 1))
    y[rng.integers(classes), 0] = 1.0
    return y


def _naive_softmax(theta: np.ndarray, axis: int = 0) -> np.ndarray:
    """exp(theta) / sum(exp(theta)) without the max-shift: overflows for large logits."""
    e = np.exp(theta)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax(theta: np.ndarray, axis: int = 0) -> np.ndarray:
    """The stable softmax of nnlab.functional (imported when a variant needs it)."""
    from nnlab.functional import softmax

    return softmax(theta, axis=axis)


def _logits(rng: np.random.Generator, classes: int, case: int) -> np.ndarray:
    """Logits (C, 1): ordinary on even cases, of size +-1e4 on odd cases (the overflow test)."""
    if case % 2:
        return _away_from_zero(rng, (classes, 1), 0.5, 1.0) * 1e4
    return rng.normal(0.0, 1.5, size=(classes, 1))


def _negated(hint: str = "Every entry has the wrong sign.") -> Variant:
    return Variant("negated", hint, answer=lambda inp, ref: _map(ref, np.negative))


def _map(answer, fn):
    """Apply fn to every array of an answer (an array, a tuple or a dict)."""
    if isinstance(answer, dict):
        return {k: fn(np.asarray(v)) for k, v in answer.items()}
    if isinstance(answer, tuple):
        return tuple(fn(np.asarray(v)) for v in answer)
    return fn(np.asarray(answer))


_MAX_SHIFT_HINT = ("exp(1e4) is inf in float64: subtract max(theta) from theta first "
                   "(softmax does not change).")
_OVERFLOW_HINT = ("softmax without the max-shift overflows: subtract max(theta) first "
                  "(exp(1e4) is inf in float64).")


# --------------------------------------------------------------------------------------
# Lesson 01: the chain rule
# --------------------------------------------------------------------------------------

def _chain_inputs(rng, case):
    return (float(_away_from_zero(rng, (), 0.3, 2.0)),)


def _chain_one_path(inp, ref):
    from nnlab.chainrule import df_dx, dg_df, f

    (x,) = inp
    return dg_df(f(x))[:, :1] * df_dx(x)[0, 0]


def _chain_dgdf_transposed(inp, ref):
    from nnlab.chainrule import df_dx, dg_df, f

    (x,) = inp
    return dg_df(f(x)).T @ df_dx(x)


_CHAIN = Exercise(
    id="chain_rule.dg_dx",
    title="Lesson 01: dg/dx of g(f(x)) by the chain rule",
    signature="dg_dx(x)",
    load_reference=_ref("chainrule", "dg_dx"),
    make_inputs=_chain_inputs,
    describe=_describe("x"),
    outputs=(Output("dg/dx", "dg/dx",
                    "dg/dx has one row per output g_i and one column for x: (2, 1) = {shape}"),),
    unpack=_array_check("dg/dx"),
    variants={v.name: v for v in (
        Variant("transposed", "Rows of a Jacobian index the outputs g_1, g_2; "
                "its one column is for x.", answer=lambda inp, ref: np.asarray(ref).T),
        _negated(),
        Variant("a path of the chain rule is missing",
                "x reaches each g_i through both f_1 and f_2: add the two products, "
                "one per path.", answer=_chain_one_path),
        Variant("dg/df transposed", "In dg/df, row i holds the derivatives of g_i "
                "with respect to f_1, f_2 (numerator layout).", answer=_chain_dgdf_transposed),
    )},
)


# --------------------------------------------------------------------------------------
# Lesson 02: the seven identities
# --------------------------------------------------------------------------------------

def _id1_inputs(rng, case):
    n, m = _sizes(rng, 2)
    return rng.standard_normal((n, m)), rng.standard_normal((m, 1))


def _id2_inputs(rng, case):
    n, m = _sizes(rng, 2)
    return rng.standard_normal((n, m)), rng.standard_normal((1, n))


def _id3_inputs(rng, case):
    return (rng.standard_normal((_sizes(rng, 1, 2, 6)[0], 1)),)


def _named(name: str, fn: Callable) -> Callable:
    fn.__name__ = name
    return fn


# (f_prime, its name in messages): derivatives the student's function receives
_F_PRIMES = (
    _named("cos (f = sin)", lambda x: np.cos(x)),
    _named("1 - tanh(x)**2 (f = tanh)", lambda x: 1.0 - np.tanh(x) ** 2),
    _named("exp (f = exp)", lambda x: np.exp(x)),
    _named("2 x (f = x**2)", lambda x: 2.0 * x),
)


def _id4_inputs(rng, case):
    n = _sizes(rng, 1, 2, 6)[0]
    f_prime = _F_PRIMES[int(rng.integers(len(_F_PRIMES)))]
    return f_prime, _away_from_zero(rng, (n, 1), 0.2, 2.0)


def _id5_inputs(rng, case):
    n, m = _sizes(rng, 2)
    return rng.standard_normal((1, n)), rng.standard_normal((m, 1))


def _id6_inputs(rng, case):
    n, m = _sizes(rng, 2)
    return rng.standard_normal((1, m)), rng.standard_normal((1, n))


def _id7_inputs(rng, case):
    classes = _sizes(rng, 1, 3, 7)[0]
    return _logits(rng, classes, case), _one_hot(rng, classes)


_JACOBIAN_LAYOUT = ("In numerator layout row i holds the derivatives of z_i and column j "
                    "those with respect to x_j.")


def _identity(number, signature, title, make_inputs, names, output, variants, **extra):
    name = signature.split("(")[0]
    return Exercise(
        id=f"identity{number}",
        title=f"Lesson 02, identity ({number}): {title}",
        signature=signature,
        load_reference=_ref("identities", name),
        make_inputs=make_inputs,
        describe=_describe(*names),
        outputs=(output,),
        unpack=_array_check(output.key),
        variants={v.name: v for v in variants},
        **extra,
    )


_IDENTITIES = (
    _identity(1, "dz_dx_Wx(W, x)", "z = W x, dz/dx", _id1_inputs, ("W", "x"),
              Output("dz/dx", "dz/dx", "dz/dx has one row per z_i and one column per x_j: "
                     "(n, m) = {shape}"),
              (Variant("transposed", _JACOBIAN_LAYOUT,
                       answer=lambda inp, ref: np.asarray(ref).T),
               _negated("z = W x has no minus sign: neither has dz/dx."))),
    _identity(2, "dz_dx_xW(W, x)", "z = x W, dz/dx", _id2_inputs, ("W", "x"),
              Output("dz/dx", "dz/dx", "dz/dx has one row per z_i and one column per x_j: "
                     "(m, n) = {shape}"),
              (Variant("transposed", "z_i = sum_k x_k W_ki: write out dz_i/dx_j and see "
                       "which entry of W it is (rows of dz/dx index z).",
                       answer=lambda inp, ref: np.asarray(ref).T),
               _negated("z = x W has no minus sign: neither has dz/dx."))),
    _identity(3, "dz_dx_identity(x)", "z = x, dz/dx", _id3_inputs, ("x",),
              Output("dz/dx", "dz/dx", "dz/dx of z = x is (n, n) = {shape}"),
              (Variant("ones everywhere, not the identity",
                       "dz_i/dx_j is 1 only when i == j; off the diagonal it is 0.",
                       answer=lambda inp, ref: np.ones_like(ref)),
               Variant("returned x, not a Jacobian",
                       "dz/dx is an (n, n) matrix of derivatives dz_i/dx_j, not the vector x.",
                       answer=lambda inp, ref: np.array(inp[0])),
               _negated())),
    _identity(4, "dz_dx_elementwise(f_prime, x)", "z = f(x) elementwise, dz/dx",
              _id4_inputs, ("f_prime", "x"),
              Output("dz/dx", "dz/dx", "dz/dx is (n, n) = {shape}, one row per z_i"),
              (Variant("a vector, not a diagonal matrix",
                       "z_i depends only on x_i, so dz/dx is an (n, n) matrix with f'(x_i) "
                       "at (i, i) and zeros elsewhere.",
                       answer=lambda inp, ref: np.asarray(inp[0](inp[1]), dtype=float)),
               Variant("f'(x) broadcast, not on the diagonal",
                       "dz_i/dx_j is 0 when i != j: z_i does not depend on the other x_j.",
                       answer=lambda inp, ref: np.tile(np.asarray(inp[0](inp[1])).reshape(-1, 1),
                                                       (1, np.size(inp[1])))),
               Variant("f' not applied",
                       "The diagonal holds the derivatives f'(x_i), not x_i: call f_prime.",
                       answer=lambda inp, ref: np.diag(np.ravel(inp[1]))),
               _negated())),
    _identity(5, "dJ_dW_Wx(delta, x)", "z = W x, dJ/dW", _id5_inputs, ("delta", "x"),
              Output("dJ/dW", "dJ/dW", "W has shape (n, m) = {shape}"),
              (Variant("outer product reversed",
                       "Entry (i, j) of dJ/dW is delta_i x_j (i runs over z, j over x), so "
                       "dJ/dW is shaped like W; yours is its transpose.",
                       answer=lambda inp, ref: np.asarray(ref).T),
               _negated())),
    _identity(6, "dJ_dW_xW(delta, x)", "z = x W, dJ/dW", _id6_inputs, ("delta", "x"),
              Output("dJ/dW", "dJ/dW", "W has shape (n, m) = {shape}"),
              (Variant("outer product reversed",
                       "Entry (i, j) of dJ/dW is x_i delta_j (i runs over x, j over z), so "
                       "dJ/dW is shaped like W; yours is its transpose.",
                       answer=lambda inp, ref: np.asarray(ref).T),
               _negated())),
    _identity(7, "dJ_dtheta(theta, y)", "softmax + cross-entropy, dJ/dtheta", _id7_inputs,
              ("theta", "y"),
              Output("dJ/dtheta", "dJ/dtheta",
                     "in numerator layout dJ/dtheta is a row (1, C) = {shape}"),
              (Variant("transposed", "dJ/dtheta is the Jacobian of the scalar J: one row, "
                       "one column per logit.", answer=lambda inp, ref: np.asarray(ref).T),
               _negated("The gradient is yhat minus y, not y minus yhat."),
               Variant("softmax missing", "yhat is softmax(theta), not theta itself.",
                       answer=lambda inp, ref: (inp[0] - inp[1]).T),
               Variant("softmax without the max-shift overflows", _MAX_SHIFT_HINT,
                       answer=lambda inp, ref: (_naive_softmax(inp[0]) - inp[1]).T)),
              nonfinite_hint=_OVERFLOW_HINT),
)


# --------------------------------------------------------------------------------------
# Lesson 03: the one-layer network, column form
# --------------------------------------------------------------------------------------

_ONELAYER_KEYS = ("delta1", "delta2", "U", "b2", "W", "b1", "x")


def _onelayer_inputs(rng, case):
    """A cache from nnlab.onelayer.forward with random Dx, Dh, Nc (distinct, Dh >= 3).

    b1 is chosen so that every z_i is at least 0.2 away from the ReLU kink, some z_i are
    negative (the mask matters) and at least one z_i has the opposite sign of (W x)_i (the
    bias matters).
    """
    from nnlab.onelayer import forward

    Dh, Dx, Nc = _sizes(rng, 3, 3, 7)
    x = rng.standard_normal((Dx, 1))
    W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
    Wx = W @ x
    z = _away_from_zero(rng, (Dh, 1), 0.2, 1.5)
    z[0, 0] = -np.sign(Wx[0, 0]) * abs(z[0, 0])  # the bias flips this unit
    z[1, 0], z[2, 0] = abs(z[1, 0]), -abs(z[2, 0])  # both signs occur
    z = z[rng.permutation(Dh)]
    b1 = z - Wx
    U = rng.standard_normal((Nc, Dh)) / np.sqrt(Dh)
    b2 = rng.standard_normal((Nc, 1)) * 0.5
    y = _one_hot(rng, Nc)
    _, cache = forward(x, y, W, b1, U, b2)
    return (cache,)


def _describe_cache(inputs: tuple) -> str:
    cache = inputs[0]
    Dh, Dx = np.shape(cache["W"])
    return f"a cache with Dx={Dx}, Dh={Dh}, Nc={np.shape(cache['U'])[0]}"


def _grads_from_delta2(cache, delta2) -> dict:
    """dJ/dW, dJ/db1, dJ/dx that a given delta2 (1, Dh) leads to."""
    x, W = np.asarray(cache["x"]), np.asarray(cache["W"])
    return {"delta2": delta2, "W": delta2.T @ x.T, "b1": delta2.T, "x": (delta2 @ W).T}


def _ol_no_mask(cache, ref):
    return _grads_from_delta2(cache, np.asarray(ref["delta1"]) @ np.asarray(cache["U"]))


def _ol_no_bias(cache, ref):
    W, x = np.asarray(cache["W"]), np.asarray(cache["x"])
    mask = ((W @ x) > 0).T
    return _grads_from_delta2(cache, (np.asarray(ref["delta1"]) @ np.asarray(cache["U"])) * mask)


def _ol_variant(key: str, name: str, hint: str, wrong: Callable) -> Variant:
    """A variant of backward(cache) that is wrong in `key` only: wrong(cache, ref) -> value."""
    def answer(inp, ref):
        return {**ref, key: wrong(inp[0], ref)}
    return Variant(name, hint, answer=answer)


def _ol_common(key: str) -> list:
    return [
        _ol_variant(key, "transposed", "A gradient dJ/dP is shaped like P; delta1 and delta2 "
                    "are rows (Jacobians of the scalar J).", lambda c, r: np.asarray(r[key]).T),
        _ol_variant(key, "negated", "Every entry has the wrong sign: delta1 is yhat - y, "
                    "not y - yhat.", lambda c, r: -np.asarray(r[key])),
    ]


_MASK_HINT = ("The gradient flows back through h = ReLU(z) only where z > 0: multiply "
              "elementwise by ReLU'(z).")
_BIAS_HINT = "ReLU'(z) uses z = W x + b1: b1 decides which units are active."


def _onelayer_variants(key: str) -> list:
    variants = _ol_common(key)
    if key == "delta1":
        variants += [
            _ol_variant(key, "softmax missing", "yhat is softmax(theta), not theta itself.",
                        lambda c, r: (np.asarray(c["theta"]) - np.asarray(c["y"])).T),
            _ol_variant(key, "bias missing", "theta = U h + b2: b2 is part of the logits.",
                        lambda c, r: (_softmax(np.asarray(c["U"]) @ np.asarray(c["h"]))
                                      - np.asarray(c["y"])).T),
        ]
    if key == "U":
        variants[0] = _ol_variant(key, "outer product reversed",
                                  "Entry (i, j) of dJ/dU is delta1_i h_j: it is shaped like U, "
                                  "yours is its transpose.",
                                  lambda c, r: np.asarray(r[key]).T)
        variants += [
            _ol_variant(key, "z used instead of h", "theta = U h + b2 uses the activations "
                        "h = ReLU(z), not z.",
                        lambda c, r: np.asarray(r["delta1"]).T @ np.asarray(c["z"]).T),
            _ol_variant(key, "bias missing", "h = ReLU(W x + b1): include b1 when you "
                        "compute h (or use h from the cache).",
                        lambda c, r: np.asarray(r["delta1"]).T
                        @ np.maximum(np.asarray(c["W"]) @ np.asarray(c["x"]), 0).T),
        ]
    if key == "W":
        variants[0] = _ol_variant(key, "outer product reversed",
                                  "Entry (i, j) of dJ/dW is delta2_i x_j: it is shaped like W, "
                                  "yours is its transpose.",
                                  lambda c, r: np.asarray(r[key]).T)
    if key == "delta2":
        variants.append(_ol_variant(key, "multiplied by h, not by ReLU'(z)",
                                    "The derivative of ReLU is 1 where z > 0 and 0 elsewhere, "
                                    "not h itself.",
                                    lambda c, r: (np.asarray(r["delta1"]) @ np.asarray(c["U"]))
                                    * np.asarray(c["h"]).T))
    if key in ("delta2", "W", "b1", "x"):
        variants += [
            _ol_variant(key, "ReLU mask missing", _MASK_HINT,
                        lambda c, r: _ol_no_mask(c, r)[key]),
            _ol_variant(key, "bias missing", _BIAS_HINT, lambda c, r: _ol_no_bias(c, r)[key]),
        ]
    return variants


_ONELAYER_OUTPUTS = {
    "delta1": Output("delta1", "delta1 = dJ/dtheta", "delta1 is a row (1, Nc) = {shape}"),
    "delta2": Output("delta2", "delta2 = dJ/dz", "delta2 is a row (1, Dh) = {shape}"),
    "U": Output("U", "dJ/dU", "U has shape (Nc, Dh) = {shape}"),
    "b2": Output("b2", "dJ/db2", "b2 has shape (Nc, 1) = {shape}"),
    "W": Output("W", "dJ/dW", "W has shape (Dh, Dx) = {shape}"),
    "b1": Output("b1", "dJ/db1", "b1 has shape (Dh, 1) = {shape}"),
    "x": Output("x", "dJ/dx", "x has shape (Dx, 1) = {shape}"),
}

_ONELAYER = tuple(
    Exercise(
        id=f"onelayer.{key}",
        title=f"Lesson 03: the one-layer network, {_ONELAYER_OUTPUTS[key].label}",
        signature="backward(cache)",
        load_reference=_ref("onelayer", "backward"),
        make_inputs=_onelayer_inputs,
        describe=_describe_cache,
        outputs=(_ONELAYER_OUTPUTS[key],),
        unpack=_keyed((key,), "backward(cache)"),
        variants={v.name: v for v in _onelayer_variants(key)},
    )
    for key in _ONELAYER_KEYS
)


# --------------------------------------------------------------------------------------
# Lesson 03: the one-layer network, batch form
# --------------------------------------------------------------------------------------

_BATCH_KEYS = ("U", "b2", "W", "b1", "X")


def _batch_inputs(rng, case):
    """A cache from nnlab.onelayer.forward_batch; N, Dx, Dh, Nc distinct, no Z near 0,
    some Z < 0, and some unit whose sign the bias flips."""
    from nnlab.onelayer import forward_batch

    N, Dx, Dh, Nc = _sizes(rng, 4, 2, 8)
    labels = rng.integers(0, Nc, size=N)
    U = rng.standard_normal((Nc, Dh)) / np.sqrt(Dh)
    b2 = rng.standard_normal((Nc, 1)) * 0.5
    for _ in range(1000):
        X = rng.standard_normal((N, Dx))
        W = rng.standard_normal((Dh, Dx)) / np.sqrt(Dx)
        b1 = rng.standard_normal((Dh, 1))
        XW = X @ W.T
        Z = XW + b1.T
        if (np.min(np.abs(Z)) > 0.05 and (Z < 0).any() and (Z > 0).any()
                and ((XW > 0) != (Z > 0)).any()):
            break
    _, cache = forward_batch(X, labels, W, b1, U, b2)
    return (cache,)


def _describe_batch(inputs: tuple) -> str:
    cache = inputs[0]
    N, Dx = np.shape(cache["X"])
    return (f"a cache with N={N}, Dx={Dx}, Dh={np.shape(cache['W'])[0]}, "
            f"Nc={np.shape(cache['U'])[0]}")


def _batch_dtheta(cache) -> np.ndarray:
    """dJ/dTheta (N, Nc) of the mean cross-entropy, from nnlab.functional."""
    from nnlab.functional import softmax_cross_entropy_batch

    return softmax_cross_entropy_batch(cache["Theta"], cache["labels"])[1]


def _batch_from_dZ(cache, ref, dZ) -> dict:
    """The answer dict (U and b2 as in ref) that a given dJ/dZ (N, Dh) leads to."""
    X, W = np.asarray(cache["X"]), np.asarray(cache["W"])
    return {**ref, "W": dZ.T @ X, "b1": dZ.sum(axis=0).reshape(np.shape(ref["b1"])),
            "X": dZ @ W}


def _batch_wrong_axis(inp, ref):
    (cache,) = inp
    dtheta = _batch_dtheta(cache)
    dZ = (dtheta @ np.asarray(cache["U"])) * (np.asarray(cache["Z"]) > 0)
    return {**ref, "b2": dtheta.sum(axis=1, keepdims=True), "b1": dZ.sum(axis=1, keepdims=True)}


def _batch_no_mask(inp, ref):
    (cache,) = inp
    return _batch_from_dZ(cache, ref, _batch_dtheta(cache) @ np.asarray(cache["U"]))


def _batch_no_bias(inp, ref):
    (cache,) = inp
    mask = (np.asarray(cache["X"]) @ np.asarray(cache["W"]).T) > 0
    return _batch_from_dZ(cache, ref, (_batch_dtheta(cache) @ np.asarray(cache["U"])) * mask)


def _batch_scaled(factor: Callable[[int], float]):
    def answer(inp, ref):
        n = np.shape(inp[0]["X"])[0]
        return {k: np.asarray(v) * factor(n) for k, v in ref.items()}
    return answer


_BATCH = Exercise(
    id="onelayer_batch",
    title="Lesson 03: the one-layer network on a batch, all gradients",
    signature="backward_batch(cache)",
    load_reference=_ref("onelayer", "backward_batch"),
    make_inputs=_batch_inputs,
    describe=_describe_batch,
    outputs=(
        Output("U", "dJ/dU", "U has shape (Nc, Dh) = {shape}"),
        Output("b2", "dJ/db2", "b2 has shape (Nc, 1) = {shape}"),
        Output("W", "dJ/dW", "W has shape (Dh, Dx) = {shape}"),
        Output("b1", "dJ/db1", "b1 has shape (Dh, 1) = {shape}"),
        Output("X", "dJ/dX", "X has shape (N, Dx) = {shape}"),
    ),
    unpack=_keyed(_BATCH_KEYS, "backward_batch(cache)"),
    variants={v.name: v for v in (
        Variant("transposed", "A gradient is shaped like its parameter: {label} has the "
                "shape of the matrix it differentiates.",
                answer=lambda inp, ref: _map(ref, np.transpose)),
        _negated("Every entry has the wrong sign: dJ/dTheta is (Yhat - Y) / N."),
        Variant("scaled by N", "J is the MEAN loss over the batch, not the sum: "
                "each example's gradient carries a factor 1/N.",
                answer=_batch_scaled(lambda n: n)),
        Variant("scaled by 1/N", "You divided by N twice: dJ/dTheta already has the 1/N "
                "of the mean, the later gradients inherit it.",
                answer=_batch_scaled(lambda n: 1.0 / n)),
        Variant("summed over the wrong axis", "A bias is shared by all N examples: sum its "
                "gradient over the batch axis, one entry per unit.", answer=_batch_wrong_axis),
        Variant("ReLU mask missing", _MASK_HINT.replace("z > 0", "Z > 0").replace("(z)", "(Z)"),
                answer=_batch_no_mask),
        Variant("bias missing", "ReLU'(Z) uses Z = X W^T + b1^T: b1 decides which units are "
                "active (or use Z from the cache).", answer=_batch_no_bias),
    )},
)


# --------------------------------------------------------------------------------------
# Lesson 04: gradient of the mean squared error
# --------------------------------------------------------------------------------------

def _mse_inputs(rng, case):
    N = int(rng.integers(5, 31))
    x = rng.normal(0.0, 2.0, size=N)
    y = rng.uniform(-1.5, 1.5) * x + rng.uniform(-3, 3) + rng.normal(0.0, 0.5, size=N)
    return float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2)), np.column_stack([x, y])


def _mse_scaled(factor: Callable[[int], float]):
    def answer(inp, ref):
        n = len(inp[2])
        return tuple(float(v) * factor(n) for v in ref)
    return answer


def _mse_no_intercept(inp, ref):
    """The gradient with the residual y - m x: b left out of the prediction."""
    _, m, points = inp
    x, y = points[:, 0], points[:, 1]
    r = y - m * x
    return float(-2.0 * r.mean()), float(-2.0 * (x * r).mean())


_MSE = Exercise(
    id="mse_gradient",
    title="Lesson 04: gradient of the mean squared error of a line",
    signature="mse_gradient(b, m, points)",
    load_reference=_ref("regression", "mse_gradient"),
    make_inputs=_mse_inputs,
    describe=_describe("b", "m", "points"),
    outputs=(Output("dJ/db", "dJ/db", scalar=True), Output("dJ/dm", "dJ/dm", scalar=True)),
    unpack=_tuple(("dJ/db", "dJ/dm"), "mse_gradient(b, m, points)"),
    variants={v.name: v for v in (
        _negated("The error is y - (m x + b): its derivative in b and m carries a minus sign."),
        Variant("scaled by N", "J is the MEAN squared error, not the sum: divide "
                "the sum over the points by N.", answer=_mse_scaled(lambda n: n)),
        Variant("scaled by 1/N", "You divided by N twice: a mean already includes it.",
                answer=_mse_scaled(lambda n: 1.0 / n)),
        Variant("factor 2 missing", "The derivative of r**2 is 2 r.",
                answer=_mse_scaled(lambda n: 0.5)),
        Variant("gradient of the half sum of squares",
                "That is the loop's gradient from the notes (no 2, no 1/N); J here is the "
                "mean of the squared errors.", answer=_mse_scaled(lambda n: n / 2.0)),
        Variant("dJ/db and dJ/dm swapped", "Return them in the order (dJ_db, dJ_dm).",
                answer=lambda inp, ref: (ref[1], ref[0])),
        Variant("bias missing", "The line's prediction is m x + b: the residual "
                "y - (m x + b) includes the intercept b.", answer=_mse_no_intercept),
    )},
)


# --------------------------------------------------------------------------------------
# Lesson 05: a custom autograd Function, softplus
# --------------------------------------------------------------------------------------

_SOFTPLUS_EDGES = np.array([-1000.0, -100.0, 100.0, 1000.0])


def _softplus_inputs(rng, case):
    """x (n,) with ordinary values and the edges +-100, +-1000; upstream gradient w (n,)."""
    x = np.concatenate([rng.uniform(-6.0, 6.0, size=int(rng.integers(3, 7))), _SOFTPLUS_EDGES])
    x = x[rng.permutation(x.size)]
    return x, rng.uniform(0.5, 2.0, size=x.size) * rng.choice([-1.0, 1.0], size=x.size)


def _softplus_np(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _softplus_expected(inp) -> dict:
    """Forward values, and w * d softplus/dx by central differences in float64 (h = 1e-5)."""
    x, w = inp
    h = 1e-5
    slope = (_softplus_np(x + h) - _softplus_np(x - h)) / (2 * h)
    return {"forward": _softplus_np(x), "backward": w * slope}


def _tensor_values(t) -> np.ndarray:
    return np.array(_numpy(t), dtype=np.float64) if t is not None else None


def _run_softplus(cls, inp) -> dict:
    """Apply cls to x (float64, requires_grad), backpropagate sum(w * y), return both."""
    import nnlab.minitorch as torch

    x_np, w_np = inp
    x = torch.tensor(x_np, dtype=torch.float64, requires_grad=True)
    try:
        y = cls.apply(x)
    except Exception as exc:
        raise _StudentRaised(f"{cls.__name__}.forward", exc) from None
    if y is None:
        raise _Feedback("your forward returned None; did you forget `return`?")
    forward = _tensor_values(y)
    try:
        (y * torch.tensor(w_np, dtype=torch.float64)).sum().backward()
    except Exception as exc:
        raise _StudentRaised(f"{cls.__name__}.backward", exc) from None
    if x.grad is None:
        raise _Feedback("x.grad is still None after .backward(): does your backward return "
                        "the gradient with respect to its input?")
    return {"forward": forward, "backward": _tensor_values(x.grad)}


def _softplus_classes() -> dict:
    """Reference and known-wrong Softplus Functions (built on first use, then cached)."""
    if _SOFTPLUS_CACHE:
        return _SOFTPLUS_CACHE
    import nnlab.minitorch as torch

    def values(t):
        return np.asarray(_numpy(t), dtype=np.float64)

    def make(name, forward, local_grad, use_grad_output=True):
        def fwd(ctx, input):
            ctx.save_for_backward(input)
            return torch.tensor(forward(values(input)), dtype=torch.float64)

        def bwd(ctx, grad_output):
            (input,) = ctx.saved_tensors
            local = torch.tensor(local_grad(values(input)), dtype=torch.float64)
            return grad_output * local if use_grad_output else local

        return type("Softplus", (torch.autograd.Function,), {
            "forward": staticmethod(fwd), "backward": staticmethod(bwd),
            "__doc__": f"softplus(x) = log(1 + exp(x)){name}"})

    def sigmoid(x):
        return np.exp(-np.logaddexp(0.0, -x))

    _SOFTPLUS_CACHE.update({
        "reference": make("", _softplus_np, sigmoid),
        "unstable forward": make(", overflowing", lambda x: np.log(1 + np.exp(x)), sigmoid),
        "unstable backward": make(", overflowing in backward", _softplus_np,
                                  lambda x: np.exp(x) / (1 + np.exp(x))),
        "grad_output ignored": make(", ignoring grad_output", _softplus_np, sigmoid,
                                    use_grad_output=False),
        "negated backward": make(", negated backward", _softplus_np, lambda x: -sigmoid(x)),
        "softplus in backward": make(", softplus in backward", _softplus_np, _softplus_np),
    })
    return _SOFTPLUS_CACHE


_SOFTPLUS_CACHE: dict = {}


def _softplus_variant(name: str, hint: str) -> Variant:
    return Variant(name, hint, student=lambda: _softplus_classes()[name])


_SOFTPLUS = Exercise(
    id="softplus",
    title="Lesson 05: softplus as a custom autograd Function",
    signature="Softplus",
    load_reference=lambda: _softplus_classes()["reference"],
    make_inputs=_softplus_inputs,
    describe=_describe("x", "upstream gradient"),
    outputs=(
        Output("forward", "Softplus.apply(x)", "it has the shape of x, {shape}"),
        Output("backward", "x.grad (from your backward)", "x.grad has the shape of x, {shape}"),
    ),
    unpack=lambda answer: answer,
    variants={v.name: v for v in (
        _softplus_variant("unstable forward", "exp(1000) is inf in float64. For large x, "
                          "softplus(x) is x plus a tiny correction: rewrite it so exp only "
                          "sees numbers <= 0."),
        _softplus_variant("unstable backward", "exp(x) / (1 + exp(x)) is inf / inf = nan at "
                          "x = 1000: rewrite the fraction so exp only sees numbers <= 0."),
        _softplus_variant("grad_output ignored", "The chain rule: backward returns grad_output "
                          "times the local derivative d softplus/dx."),
        _softplus_variant("negated backward", "softplus is increasing, so its derivative "
                          "is positive."),
        _softplus_variant("softplus in backward", "backward needs the derivative "
                          "d softplus/dx, not softplus(x) itself."),
    )},
    run=_run_softplus,
    expected=_softplus_expected,
    nonfinite_hint=("exp overflows for large inputs (x = 1000 is among the test values): "
                    "write the formula so exp only sees numbers <= 0."),
    kind="class",
)


# --------------------------------------------------------------------------------------
# Lesson 06: dropout and batch normalization backward
# --------------------------------------------------------------------------------------

def _dropout_inputs(rng, case):
    """dout (N, D) and the cache of nnlab.layers.dropout_forward, 0.2 <= p <= 0.4.

    Every fourth case (case 3, 7, ...) is in evaluation mode (train=False, mask None),
    where backward passes dout through unchanged.
    """
    from nnlab.layers import dropout_forward

    N, D = _sizes(rng, 2, 3, 8)
    x = rng.standard_normal((N, D))
    p = float(rng.uniform(0.2, 0.4))
    _, cache = dropout_forward(x, p, seed=int(rng.integers(2**31)), train=case % 4 != 3)
    return rng.standard_normal((N, D)), cache


def _describe_dropout(inputs) -> str:
    dout, cache = inputs
    mode = "training" if cache["train"] else "evaluation (train=False, mask None)"
    return f"dout {_fmt_shape(np.shape(dout))}, p = {cache['p']:.3g}, {mode}"


def _dropout_variant(name: str, hint: str, wrong: Callable) -> Variant:
    """A dropout_backward wrong in training mode only: wrong(dout, kept, p) -> dx, where
    kept is 1 for the units the forward pass kept and 0 for dropped ones."""
    def answer(inp, ref):
        dout, cache = inp
        if not cache["train"]:
            return ref
        return wrong(np.asarray(dout), (np.asarray(cache["mask"]) != 0) * 1.0, cache["p"])
    return Variant(name, hint, answer=answer)


_DROPOUT = Exercise(
    id="dropout_backward",
    title="Lesson 06: inverted dropout, backward",
    signature="dropout_backward(dout, cache)",
    load_reference=_ref("layers", "dropout_backward"),
    make_inputs=_dropout_inputs,
    describe=_describe_dropout,
    outputs=(Output("dx", "dx", "x has shape (N, D) = {shape}"),),
    unpack=_array_check("dx"),
    variants={v.name: v for v in (
        _dropout_variant("mask missing", "Units dropped in the forward pass had no effect on "
                         "the output, so they get zero gradient.",
                         lambda dout, kept, p: dout),
        _dropout_variant("1/(1-p) scale missing", "Inverted dropout scales the kept units by "
                         "1/(1-p) in forward; backward scales their gradient the same way.",
                         lambda dout, kept, p: dout * kept),
        _dropout_variant("scaled by 1/(1-p) twice", "The mask in the cache already includes "
                         "the 1/(1-p) scale.", lambda dout, kept, p: dout * kept / (1 - p) ** 2),
        _dropout_variant("scaled by 1/p instead of 1/(1-p)", "p is the probability of "
                         "DROPPING a unit; kept units are scaled by 1 over the keep "
                         "probability.", lambda dout, kept, p: dout * kept / p),
        _negated(),
    )},
)


def _batchnorm_inputs(rng, case):
    """dout (N, D) and the cache of nnlab.layers.batchnorm_forward (train mode), N != D."""
    from nnlab.layers import batchnorm_forward

    N = _sizes(rng, 1, 5, 9)[0]
    D = _sizes(rng, 1, 2, 4)[0]
    x = rng.normal(rng.uniform(-2, 2, size=D), rng.uniform(0.5, 3, size=D), size=(N, D))
    gamma = _away_from_zero(rng, (D,), 0.5, 2.0)
    beta = rng.standard_normal(D)
    _, cache = batchnorm_forward(x, gamma, beta)
    return rng.standard_normal((N, D)), cache


def _describe_batchnorm(inputs) -> str:
    dout, _ = inputs
    N, D = np.shape(dout)
    return f"dout (N, D) = {_fmt_shape((N, D))}"


def _bn_parts(inp):
    dout, cache = inp
    return (np.asarray(dout), np.asarray(cache["x_hat"]), np.asarray(cache["gamma"]),
            np.asarray(cache["std"]))


def _bn_constant_stats(inp, ref):
    dout, x_hat, gamma, std = _bn_parts(inp)
    return dout * gamma / std, ref[1], ref[2]


def _bn_wrong_axis(inp, ref):
    dout, x_hat, _, _ = _bn_parts(inp)
    return ref[0], (dout * x_hat).sum(axis=1), dout.sum(axis=1)


def _bn_mean(inp, ref):
    n = np.shape(inp[0])[0]
    return ref[0], np.asarray(ref[1]) / n, np.asarray(ref[2]) / n


_BATCHNORM = Exercise(
    id="batchnorm_backward",
    title="Lesson 06: batch normalization, backward",
    signature="batchnorm_backward(dout, cache)",
    load_reference=_ref("layers", "batchnorm_backward"),
    make_inputs=_batchnorm_inputs,
    describe=_describe_batchnorm,
    outputs=(
        Output("dx", "dx", "x has shape (N, D) = {shape}"),
        Output("dgamma", "dgamma", "gamma has shape (D,) = {shape}"),
        Output("dbeta", "dbeta", "beta has shape (D,) = {shape}"),
    ),
    unpack=_tuple(("dx", "dgamma", "dbeta"), "batchnorm_backward(dout, cache)"),
    variants={v.name: v for v in (
        Variant("summed over the wrong axis", "gamma and beta have one entry per feature: sum "
                "over the batch axis (the N rows).", answer=_bn_wrong_axis),
        Variant("scaled by 1/N", "gamma and beta are used by all N rows: "
                "add up their gradients, don't average them.", answer=_bn_mean),
        Variant("mean and variance treated as constants", "The batch mean and variance depend "
                "on every x_i too: dx needs the paths through them.",
                answer=_bn_constant_stats),
        Variant("gamma missing", "out = gamma * x_hat + beta: on its way from out to x_hat "
                "the gradient passes through gamma.", answer=lambda inp, ref: (
                    np.asarray(ref[0]) / _bn_parts(inp)[2], ref[1], ref[2])),
        Variant("x_hat missing", "out = gamma * x_hat + beta: the derivative of out with "
                "respect to gamma is x_hat, not 1.",
                answer=lambda inp, ref: (ref[0], np.asarray(inp[0]).sum(axis=0), ref[2])),
        _negated(),
    )},
)


# --------------------------------------------------------------------------------------
# Lesson 02 / 03: a stable softmax
# --------------------------------------------------------------------------------------

def _softmax_inputs(rng, case):
    return (_logits(rng, _sizes(rng, 1, 3, 7)[0], case),)


_SOFTMAX = Exercise(
    id="softmax",
    title="A numerically stable softmax of a column of logits",
    signature="softmax(theta)",
    load_reference=_ref("functional", "softmax"),
    make_inputs=_softmax_inputs,
    describe=_describe("theta"),
    outputs=(Output("softmax", "softmax(theta)", "it has the shape of theta, (C, 1) = {shape}"),),
    unpack=_array_check("softmax"),
    variants={v.name: v for v in (
        Variant("softmax without the max-shift overflows", _MAX_SHIFT_HINT,
                answer=lambda inp, ref: _naive_softmax(inp[0])),
        Variant("normalized over the wrong axis", "theta is a column (C, 1): the C "
                "probabilities down the column sum to 1.",
                answer=lambda inp, ref: _softmax(inp[0], axis=1)),
        Variant("not normalized", "Divide by the sum of the exponentials, so the "
                "probabilities sum to 1.",
                answer=lambda inp, ref: np.exp(inp[0] - np.max(inp[0]))),
    )},
    nonfinite_hint=_OVERFLOW_HINT,
)


EXERCISES: dict = {ex.id: ex for ex in (
    _CHAIN, *_IDENTITIES, *_ONELAYER, _BATCH, _MSE, _SOFTPLUS, _DROPOUT, _BATCHNORM, _SOFTMAX,
)}
