"""Exercise checks that name the mistake.

A lesson's test cell calls

    from nnlab.feedback import check_exercise
    check_exercise("identity5", dJ_dW_Wx)

which runs the student's function on ``cases`` inputs and compares its answers with the
reference answers in float64.  On success it prints one line.  On failure it raises
AssertionError with a short message in the lesson's words:

- the exercise is not implemented yet, the function returned None, or it raised;
- the function calls the course's own reference answer (which the student's copy of the
  course and the grader do not have);
- a shape error names both shapes in the lesson's notation
  ("your dJ/dW has shape (3, 4); W has shape (n, m) = (4, 3)");
- a known mistake is named when the answer equals a known-wrong answer on every case
  (transposed, negated, scaled by N or 1/N, ReLU mask missing, bias missing, summed over the
  wrong axis, outer product reversed, softmax without the max-shift, ...);
- nan/inf values get their own message;
- otherwise: the max relative error, where it occurs, and the two values there.

This module is the student's half of a check: how to run an answer and how to judge it.  The
cases themselves (inputs, reference answers and the known-wrong answers) come from the
instructor's per-lesson catalogue, :mod:`nnlab.exercises`, when it is installed; the student
edition of the course ships, instead, the cases of the visible checks as data.  Nothing here
computes a reference answer.

Conventions follow the lessons: column form (x: (Dx, 1)) for the notes' network and the
identities, batch form (X: (N, Dx)) for ``onelayer_batch`` and the layers of lesson 06;
Jacobians in numerator layout (rows index outputs); dJ/dW shaped like W.

Nothing here writes to stderr: numpy warnings raised while checking (overflow in a
student's exp, say) are silenced, because nbgrader scores any stderr output as a failure.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["check_exercise", "ReferenceWithheld", "Spec", "Output", "Cases", "judge"]

#: Largest relative error accepted: the exercises have exact formulas, so only roundoff remains.
TOL = 1e-6

#: The visible checks' cases, shipped with the student edition (absent from the full package).
VISIBLE_CASES_FILE = "_visible_cases.pkl"


# --------------------------------------------------------------------------------------
# What a check needs: the exercise's harness, and its cases
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """One checked quantity of an exercise's answer.

    key   : its key in the answer dict (``Spec.unpack`` turns any answer into a dict)
    label : how messages call it, in the lesson's notation ("dJ/dW")
    shape_hint : the sentence naming its correct shape; ``{shape}`` is filled in
    scalar : a single number (shapes (), (1,), (1, 1) all accepted)
    """

    key: str
    label: str
    shape_hint: str = "expected shape {shape}"
    scalar: bool = False


def call(obj, inputs):
    """Run a student's function on one case: obj(*inputs)."""
    return obj(*inputs)


@dataclass(frozen=True)
class Spec:
    """How to run and read an answer to one exercise (no answers in it).

    describe(inputs) -> words for one case ("W (4, 3), x (3, 1)").
    unpack(answer) -> {output key: value}; raises _Feedback on a malformed answer.
    run(obj, inputs) -> the answer of a student object (default: obj(*inputs)).
    """

    id: str
    title: str
    signature: str
    describe: Callable[[tuple], str]
    outputs: tuple
    unpack: Callable[[Any], dict]
    run: Callable[[Any, tuple], Any] = call
    nonfinite_hint: str = ""
    kind: str = "function"


@dataclass
class Cases:
    """The cases of one check: inputs, expected answers and the known-wrong answers.

    expected : one {output key: float64 array} per case
    mistakes : (name, hint, {output key: [value per case] or None}) per known mistake
    """

    spec: Spec
    seed: int
    inputs: list
    expected: list
    mistakes: list = field(default_factory=list)


class _Feedback(Exception):
    """A message for the student; check_exercise turns it into an AssertionError."""


class _StudentRaised(Exception):
    """The student's code raised ``error`` while doing ``where``."""

    def __init__(self, where: str, error: BaseException):
        super().__init__(where)
        self.where, self.error = where, error


class ReferenceWithheld(NotImplementedError):
    """Raised by the course's reference answers in the student edition of the course."""

    def __init__(self, name: str):
        super().__init__(f"{name} is the course's own answer to a graded exercise; it is not "
                         "part of the student copy of the course")
        self.name = name


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
    """Check a student's answer to ``exercise_id`` on ``cases`` seeded random inputs.

    student_obj : the student's function (or, for "softplus", class), same signature as the
        exercise's (its test cell shows the call).
    seed : seeds the numpy Generator that makes the inputs.
    Prints one line when every case matches (relative error < 1e-6 in float64); otherwise
    raises AssertionError with a message that says what is wrong.
    """
    __tracebackhide__ = True  # pytest leaves this frame out of tracebacks
    if int(cases) < 1:
        raise ValueError(f"cases must be at least 1; got {cases}")
    data = load_cases(exercise_id, int(seed), int(cases))
    spec = data.spec
    passed, message, _ = judge(data, _answers_of(data, student_obj))
    if not passed:
        raise AssertionError(f"✗ {spec.id}: {message}") from None
    calls = _reference_calls(data, student_obj)
    if calls:
        print(f"⚠ {spec.id}: your {spec.kind} calls {', '.join(calls)}, the course's own answer. "
              "The student copy of the course and the grader do not have it, so this exercise "
              "would score 0: write it yourself.")
    n = len(data.inputs)
    print(f"✓ {spec.id}: matches the reference on {n} random case{'s' * (n != 1)}.")


def load_cases(exercise_id: str, seed: int, cases: int) -> Cases:
    """The cases of check_exercise(exercise_id, ..., seed, cases).

    From the instructor's catalogue when it is installed, else from the visible checks
    shipped with the student edition (only the calls written in the lessons' test cells).
    """
    try:
        from nnlab import exercises
    except ImportError:
        exercises = None
    if exercises is not None:
        return exercises.build_cases(exercise_id, seed, cases)
    stored = _visible_cases()
    if (exercise_id, seed, cases) in stored:
        return stored[(exercise_id, seed, cases)]
    known = sorted({key[0] for key in stored})
    if exercise_id not in known:
        raise ValueError(f"unknown exercise id {exercise_id!r}; known ids: {', '.join(known)}")
    raise ValueError(f"this copy of the course has the cases of the checks written in the test "
                     f"cells only; check_exercise({exercise_id!r}, ..., seed={seed}, "
                     f"cases={cases}) is not one of them")


_STORED: dict = {}


def _visible_cases() -> dict:
    if not _STORED:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), VISIBLE_CASES_FILE)
        try:
            with open(path, "rb") as fh:
                _STORED.update(pickle.load(fh))
        except OSError:
            raise ValueError("the exercise checks are missing from this copy of nnlab "
                             f"({VISIBLE_CASES_FILE}); reinstall the course") from None
    return _STORED


# --------------------------------------------------------------------------------------
# Running the student's answer
# --------------------------------------------------------------------------------------

def _answers_of(data: Cases, obj) -> list:
    """The student's answer on every case, or the _Feedback that stops the check."""
    try:
        _check_student_object(data.spec, obj)
        with _quiet():
            return [_run_student(data.spec, obj, inp, k) for k, inp in enumerate(data.inputs)]
    except _Feedback as feedback:
        return feedback


def _check_student_object(spec: Spec, obj) -> None:
    if obj is None:
        raise _Feedback(f"you passed None; pass your {spec.kind} itself, "
                        f"e.g. check_exercise({spec.id!r}, {spec.signature.split('(')[0]}).")
    if spec.kind == "class":
        from nnlab.minitorch.autograd import Function

        if not (isinstance(obj, type) and issubclass(obj, Function)):
            raise _Feedback(f"pass your class {spec.signature} itself (not .apply, not an "
                            f"instance); it must subclass torch.autograd.Function. "
                            f"You passed {_type_name(obj)}.")
    elif not callable(obj):
        raise _Feedback(f"pass your function itself, e.g. check_exercise({spec.id!r}, "
                        f"{spec.signature.split('(')[0]}); you passed {_type_name(obj)}.")


def _run_student(spec: Spec, obj, inp: tuple, k: int):
    try:
        return spec.run(obj, copy.deepcopy(inp))
    except _StudentRaised as raised:
        where, error = raised.where, raised.error
    except _Feedback:
        raise
    except Exception as exc:  # the student's own code raised
        where, error = spec.signature, exc
    feedback = _Feedback(_raised_message(spec, where, type(error).__name__, error, k, inp))
    if isinstance(error, ReferenceWithheld):
        feedback.withheld = error.name
    raise feedback


def _raised_message(spec, where, type_name, error, k, inp) -> str:
    if type_name == "ReferenceWithheld":
        name = getattr(error, "name", None) or str(error).split(" is the course")[0]
        return (f"your {where} calls {name}, the course's own answer, which this copy of the "
                f"course does not have: write it yourself.")
    if type_name == "NotImplementedError":
        return (f"not implemented yet: replace `raise NotImplementedError` in "
                f"{where} with your code.")
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (f"your {where} raised {type_name}{': ' + message if message else ''}\n"
            f"  on case {k + 1}: {spec.describe(inp)}.")


def _reference_calls(data: Cases, obj) -> list:
    """Names of the course's references that obj calls while answering the first case.

    Only where the full package is installed (self-study): the student copy has no
    references to call.
    """
    try:
        from nnlab.exercises import reference_code
    except ImportError:
        return []
    codes = reference_code()
    if not codes:
        return []
    seen = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes and codes[frame.f_code] not in seen:
            seen.append(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with _quiet(), contextlib.redirect_stdout(None):
            data.spec.run(obj, copy.deepcopy(data.inputs[0]))
    except Exception:
        pass
    finally:
        sys.setprofile(previous)
    return seen


# --------------------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------------------

def judge(data: Cases, answers, unpacked: bool = False) -> tuple:
    """(passed, message, mistake name or None) for the student's answers on data's cases.

    answers : one answer per case (as the student's function returned it, or, with
        ``unpacked``, already as {output key: value}), or the _Feedback that stopped the run.
    """
    if isinstance(answers, BaseException):
        return False, str(answers), None
    spec = data.spec
    try:
        with _quiet():
            got = [_floats(spec, answer if unpacked else spec.unpack(answer), student=True)
                   for answer in answers]
            for out in spec.outputs:
                exp_k = [e[out.key] for e in data.expected]
                got_k = [g[out.key] for g in got]
                if not all(_close(g, e) for g, e in zip(got_k, exp_k)):
                    _diagnose(data, out, exp_k, got_k)
    except _Feedback as feedback:
        return False, str(feedback), getattr(feedback, "mistake", None)
    return True, "", None


def _floats(spec: Spec, answer: dict, student: bool = False) -> dict:
    """Each output of an unpacked answer as a float64 array (scalars as shape ())."""
    result = {}
    for out in spec.outputs:
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


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to roundoff, with nan matching nan and inf matching inf of the same sign."""
    if a.shape != b.shape:
        return False
    fin_a, fin_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fin_a, fin_b):
        return False
    if not np.array_equal(a[~fin_a], b[~fin_b], equal_nan=True):
        return False
    return not fin_a.any() or float(np.max(_rel_errors(a[fin_a], b[fin_b]))) < TOL


def fmt_shape(shape: tuple) -> str:
    return str(tuple(int(s) for s in shape))


def _fmt_index(index: tuple) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ("," if len(index) == 1 else "") + ")"


def _diagnose(data: Cases, out: Output, expected: list, got: list):
    """Raise _Feedback explaining why `got` differs from `expected` for one output."""
    spec, inputs = data.spec, data.inputs
    # 1. A known mistake, matched on every case (first exactly, then ignoring size-1 axes,
    #    so a (N,) answer matches a (N, 1) variant).
    candidates = [(name, hint, values.get(out.key)) for name, hint, values in data.mistakes]
    for squeeze in (False, True):
        fit = np.squeeze if squeeze else np.asarray
        for name, hint, values in candidates:
            if values is None:
                continue
            if (all(same(fit(g), fit(v)) for g, v in zip(got, values))
                    and not all(same(fit(v), fit(e)) for v, e in zip(values, expected))):
                feedback = _Feedback(f"your {out.label} matches a known mistake: {name}.\n"
                                     f"  {hint.format(label=out.label)}")
                feedback.mistake = name
                raise feedback

    # 2. Shapes.
    for k, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape:
            if out.scalar:
                raise _Feedback(f"your {out.label} has shape {fmt_shape(g.shape)}; "
                                f"it should be a single number.")
            hint = out.shape_hint.format(shape=fmt_shape(e.shape))
            extra = ""
            if g.shape == e.shape[::-1]:
                extra = "\n  Yours is the transpose: check which index runs over rows."
            elif g.size == e.size:
                extra = "\n  Same number of entries, different arrangement: check your reshape."
            raise _Feedback(f"your {out.label} has shape {fmt_shape(g.shape)}; {hint}.{extra}\n"
                            f"  (case {k + 1}: {spec.describe(inputs[k])})")

    # 3. nan / inf.
    for k, g in enumerate(got):
        bad = ~np.isfinite(g)
        if bad.any():
            index = np.argwhere(bad)[0] if g.ndim else ()
            value = g[tuple(index)]
            where = f" at index {_fmt_index(index)}" if g.ndim else ""
            hint = spec.nonfinite_hint or "Look for a division by zero or an exp of a large number."
            raise _Feedback(f"your {out.label} contains {value}{where} on case {k + 1} "
                            f"({spec.describe(inputs[k])}).\n  {hint}")

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
        f"{where} on case {worst_k + 1} ({spec.describe(inputs[worst_k])}).\n"
        f"  There the reference has {e[index]:.6g} and yours has {g[index]:.6g}."
        + ("\n  An error this small is usually precision: compute in float64, not float32."
           if worst_err < 1e-3 else ""))


# --------------------------------------------------------------------------------------
# Harness pieces the per-lesson catalogue is built from (plain, picklable objects)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Describe:
    """Lists each argument with its shape (arrays), name (functions) or value (numbers)."""

    names: tuple

    def __call__(self, inputs: tuple) -> str:
        parts = []
        for name, value in zip(self.names, inputs):
            if isinstance(value, np.ndarray):
                text = f"{name} {fmt_shape(value.shape)}"
                big = float(np.max(np.abs(value))) if value.size else 0.0
                if big >= 1e3:
                    text += f" with entries up to ±{big:.0e}"
            elif callable(value):
                text = f"{name} = {getattr(value, 'label', None) or getattr(value, '__name__', 'a function')}"
            else:
                text = f"{name} = {value:.4g}"
            parts.append(text)
        return ", ".join(parts)


@dataclass(frozen=True)
class Keyed:
    """unpack for an answer that is a dict of gradients (the network's backward)."""

    keys: tuple
    what: str

    def __call__(self, answer):
        if answer is None:
            raise _Feedback(f"your {self.what} returned None; did you forget `return`?")
        if not isinstance(answer, dict):
            raise _Feedback(f"your {self.what} should return a dict of gradients "
                            f"(keys {', '.join(repr(k) for k in self.keys)}); "
                            f"it returned {_type_name(answer)}.")
        missing = [k for k in self.keys if k not in answer]
        if missing:
            have = ", ".join(repr(k) for k in answer) or "none"
            raise _Feedback(f"the dict from your {self.what} has no key "
                            f"{', '.join(repr(k) for k in missing)} (its keys: {have}).")
        return {k: answer[k] for k in self.keys}


@dataclass(frozen=True)
class Several:
    """unpack for an answer that is a tuple, e.g. (dx, dgamma, dbeta)."""

    keys: tuple
    what: str

    def __call__(self, answer):
        if answer is None:
            raise _Feedback(f"your {self.what} returned None; did you forget `return`?")
        sized = hasattr(answer, "__len__") and not isinstance(answer, (dict, str))
        if not sized or len(answer) != len(self.keys):
            length = f" of length {len(answer)}" if sized else ""
            raise _Feedback(f"your {self.what} should return {len(self.keys)} values "
                            f"({', '.join(self.keys)}); it returned {_type_name(answer)}{length}.")
        return dict(zip(self.keys, answer))


@dataclass(frozen=True)
class Single:
    """unpack for a single array answer, with the None message."""

    key: str

    def __call__(self, answer):
        if answer is None:
            raise _Feedback("your function returned None; did you forget `return`?")
        return {self.key: answer}


def as_is(answer):
    """unpack for an answer that is already a dict of outputs (the Softplus runner's)."""
    return answer


@dataclass(frozen=True)
class Derivative:
    """An f' handed to identity (4): a named elementwise derivative."""

    label: str
    formula: str

    def __call__(self, x):
        return {"cos": np.cos, "sech2": lambda v: 1.0 - np.tanh(v) ** 2, "exp": np.exp,
                "2x": lambda v: 2.0 * v}[self.formula](x)


def describe_cache(inputs: tuple) -> str:
    cache = inputs[0]
    Dh, Dx = np.shape(cache["W"])
    return f"a cache with Dx={Dx}, Dh={Dh}, Nc={np.shape(cache['U'])[0]}"


def describe_batch(inputs: tuple) -> str:
    cache = inputs[0]
    N, Dx = np.shape(cache["X"])
    return (f"a cache with N={N}, Dx={Dx}, Dh={np.shape(cache['W'])[0]}, "
            f"Nc={np.shape(cache['U'])[0]}")


def describe_dropout(inputs) -> str:
    dout, cache = inputs
    mode = "training" if cache["train"] else "evaluation (train=False, mask None)"
    return f"dout {fmt_shape(np.shape(dout))}, p = {cache['p']:.3g}, {mode}"


def describe_batchnorm(inputs) -> str:
    dout, _ = inputs
    N, D = np.shape(dout)
    return f"dout (N, D) = {fmt_shape((N, D))}"


def _tensor_values(t) -> np.ndarray:
    return np.array(_numpy(t), dtype=np.float64) if t is not None else None


def run_function(cls, inp) -> dict:
    """Apply a custom Function cls to x (float64, requires_grad), backpropagate sum(w * y),
    return {"forward": y, "backward": x.grad}."""
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


# --------------------------------------------------------------------------------------
# Answering a check run by another process
# --------------------------------------------------------------------------------------

def _plain(value, depth=0):
    """value as JSON-ready plain data: numbers, strings, numeric arrays (base64), and
    tuples/lists/dicts of those; anything else is named, not sent."""
    import base64

    if depth > 6:
        raise TypeError("value nested too deeply")
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return {"__scalar__": _plain(np.asarray(value), depth + 1)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"__opaque__": f"array of dtype {value.dtype}"}
        a = np.ascontiguousarray(value)
        return {"__ndarray__": [a.dtype.str, list(a.shape), base64.b64encode(a.tobytes()).decode()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_plain(x, depth + 1) for x in value]}
    if isinstance(value, list):
        return [_plain(x, depth + 1) for x in value]
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k, depth + 1), _plain(x, depth + 1)] for k, x in value.items()]}
    return {"__opaque__": type(value).__name__}


def _reply(request: str, reply_path: str) -> None:
    """Run the answers of one check for a caller in another process.

    request : base64 of a pickle (expr, spec, inputs); expr names the student's object in
        the notebook's namespace.
    Writes JSON to reply_path: {"kind": ...} plus either {"answers": [{output key: plain
    value}, ...]} or {"feedback": message, "withheld": name or None}.
    """
    import base64
    import json

    from IPython import get_ipython

    try:
        expr, spec, inputs = pickle.loads(base64.b64decode(request))
        try:
            obj = eval(expr, get_ipython().user_ns)
        except Exception:
            obj, kind = None, "missing"
        else:
            kind = "class" if isinstance(obj, type) else "function" if callable(obj) else "value"
        payload = {"kind": kind}
        if kind == spec.kind:
            answers = _answers_of(Cases(spec, 0, inputs, []), obj)
            if not isinstance(answers, _Feedback):
                try:
                    with _quiet():
                        answers = [_plain({k: _numpy(v) for k, v in spec.unpack(a).items()})
                                   for a in answers]
                except _Feedback as feedback:
                    answers = feedback
            if isinstance(answers, _Feedback):
                payload.update(feedback=str(answers), withheld=getattr(answers, "withheld", None))
            else:
                payload["answers"] = answers
    except BaseException as exc:  # noqa: B036  (an interrupt, too, is reported, not raised)
        payload = {"error": type(exc).__name__}
    with open(reply_path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
