"""The pass/fail verdict, computed where student code cannot patch it.

A graded test cell calls ``check_exercise("identity5", dJ_dW_Wx, ...)`` in the student's kernel;
that run is the student's hint. After the notebook has run, the grader reads the same calls from
the *master* source of the cell (never from the submission), and runs ``check_exercise`` again in
its own process, handing it a :class:`RemoteFunction` in place of the student's function. Each call
of that stand-in sends the grader-chosen arguments to the kernel, which evaluates the student's
function on them and returns only plain values (numbers, strings, numpy arrays of numbers,
tuples/lists/dicts of those) in a small JSON file that the grader decodes strictly. Reference,
comparison and the diagnosis of the mistake all run in the grader.

Each call is checked twice: with the arguments written in the cell (so the verdict matches the
hint) and with a seed derived from a course secret the kernel cannot read (so outputs memorised
for the published seed do not pass).
"""

import ast
import builtins
import dataclasses
import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import pickle
import secrets
import sys
import types
import stat
import time
import warnings
from dataclasses import dataclass, field
from queue import Empty

import numpy as np

MAX_RESULT_BYTES = 64 * 2**20


@dataclass
class Check:
    """One ``check_exercise(exercise_id, <expr>, *args, **kwargs)`` call read from a test cell."""
    exercise_id: str
    expr: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class Unverifiable(BaseException):
    """The cell does something the grader cannot replay; the kernel's result is used.

    A BaseException so that check_exercise's handling of the student's errors lets it through.
    """


def find_checks(source):
    """The check_exercise calls of a test cell, in order. Raises Unverifiable if one cannot be replayed."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise Unverifiable(f"test cell does not parse: {exc}") from None
    checks = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "check_exercise":
            continue
        if len(node.args) < 2 or not isinstance(node.args[0], ast.Constant) \
                or not isinstance(node.args[0].value, str):
            raise Unverifiable("check_exercise call without a literal exercise id")
        try:
            rest = tuple(ast.literal_eval(a) for a in node.args[2:])
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except (ValueError, TypeError, SyntaxError):
            raise Unverifiable("check_exercise call with non-literal options") from None
        if None in kwargs:
            raise Unverifiable("check_exercise call with **kwargs")
        checks.append((node.lineno, node.col_offset,
                       Check(node.args[0].value, ast.unparse(node.args[1]), rest, kwargs)))
    return [c for _, _, c in sorted(checks, key=lambda t: t[:2])]


# --- values between kernel and grader -----------------------------------------------------

KERNEL_HELPER = r"""
def __nnlab_probe__(expr, in_path, out_path, exercise_id=None):
    import base64 as _b64, json as _json, pickle as _pickle
    import numpy as _np
    def enc(v, depth=0):
        if depth > 6:
            raise TypeError("value nested too deeply")
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        if isinstance(v, _np.generic):
            return {"__scalar__": enc(_np.asarray(v), depth + 1)}
        if isinstance(v, _np.ndarray):
            if v.dtype.kind not in "biufc":
                raise TypeError("array of dtype %s" % v.dtype)
            a = _np.ascontiguousarray(v)
            return {"__ndarray__": [a.dtype.str, list(a.shape), _b64.b64encode(a.tobytes()).decode()]}
        if isinstance(v, tuple):
            return {"__tuple__": [enc(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [enc(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {"__dict__": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        return {"__opaque__": type(v).__name__}
    try:
        with open(in_path, "rb") as fh:
            args, kwargs = _pickle.load(fh)
        obj = eval(expr, get_ipython().user_ns)
        if exercise_id is None:
            value = obj(*args, **kwargs)
        else:
            from nnlab.feedback import EXERCISES
            value = EXERCISES[exercise_id].run(obj, args)
        payload = {"ok": True, "value": enc(value)}
    except BaseException as exc:
        payload = {"ok": False, "type": type(exc).__name__, "error": str(exc)[:4000]}
    with open(out_path, "w") as fh:
        _json.dump(payload, fh)

def __nnlab_probe_many__(expr, in_path, out_path, exercise_id=None):
    import json as _json, os as _os, pickle as _pickle
    with open(in_path, "rb") as fh:
        calls = _pickle.load(fh)
    results = []
    for i, blob in enumerate(calls):
        one_in, one_out = "%s.%d" % (in_path, i), "%s.%d" % (out_path, i)
        with open(one_in, "wb") as fh:
            fh.write(blob)
        __nnlab_probe__(expr, one_in, one_out, exercise_id)
        with open(one_out) as fh:
            results.append(_json.load(fh))
        _os.remove(one_in)
        _os.remove(one_out)
    with open(out_path, "w") as fh:
        _json.dump(results, fh)

def __nnlab_kind__(expr, out_path):
    import json as _json
    try:
        obj = eval(expr, get_ipython().user_ns)
        kind = "class" if isinstance(obj, type) else ("function" if callable(obj) else "value")
    except BaseException:
        kind = "missing"
    with open(out_path, "w") as fh:
        _json.dump({"kind": kind}, fh)
"""


def _from_container(module, name, index):
    """Unpickling side of :class:`_ArgsPickler`: a function kept in a module-level tuple or list."""
    import importlib
    return getattr(importlib.import_module(module), name)[index]


class _ArgsPickler(pickle.Pickler):
    """Pickles the grader's arguments; lambdas kept in a module-level tuple (say, the f' of
    identity 4) travel as a reference to their place in that tuple."""

    def reducer_override(self, obj):
        if isinstance(obj, types.FunctionType) and "<" in obj.__qualname__:
            module = sys.modules.get(obj.__module__)
            for name, value in vars(module or object).items():
                if isinstance(value, (tuple, list)):
                    for index, item in enumerate(value):
                        if item is obj:
                            return _from_container, (obj.__module__, name, index)
            raise Unverifiable(f"cannot send {obj.__qualname__} to the kernel")
        return NotImplemented


def dumps_args(value):
    buffer = io.BytesIO()
    try:
        _ArgsPickler(buffer, protocol=4).dump(value)
    except Unverifiable:
        raise
    except Exception as exc:
        raise Unverifiable(f"arguments cannot be sent to the kernel: {exc}") from None
    return buffer.getvalue()


class Opaque:
    """A value the kernel returned that is not plain data (compares unequal to everything)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"


def decode(value, depth=0):
    """Strict decoder for the kernel's JSON: plain data and numeric arrays only."""
    if depth > 8:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("malformed value")
    (tag, body), = value.items()
    if tag == "__ndarray__":
        dtype, shape, data = body
        dtype = np.dtype(str(dtype))
        if dtype.kind not in "biufc" or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError("bad array header")
        raw = base64.b64decode(data, validate=True)
        if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ValueError("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if tag == "__scalar__":
        return decode(body, depth + 1)[()]
    if tag == "__tuple__":
        return tuple(decode(v, depth + 1) for v in body)
    if tag == "__dict__":
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
    if tag == "__opaque__":
        return Opaque(str(body))
    raise ValueError(f"unknown tag {tag!r}")


def write_new(path, data):
    """Create ``path`` (never through a link or over an existing file) in a directory the kernel can write."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def read_regular(path, limit):
    """Read a regular file the kernel wrote, refusing links, pipes and oversized files."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ValueError("not a regular file of reasonable size")
        return fh.read(limit + 1)


class StudentCodeError(Exception):
    """The student's function raised (or timed out) when the grader called it."""


class KernelSession:
    """Runs small pieces of code in the (already executed) student kernel; grader side."""

    def __init__(self, kc, workdir, call_timeout=20.0, interrupt=None):
        self.kc = kc
        self.workdir = workdir
        self.call_timeout = call_timeout
        self.interrupt = interrupt
        self.calls = 0
        self.dead = False
        self._prefetched = {}

    def run(self, code, timeout=None):
        """Execute ``code`` silently; return (status, stdout text)."""
        from nbclient.util import run_sync
        return run_sync(self._run)(code, timeout or self.call_timeout)

    async def _run(self, code, timeout):
        if self.dead:
            return "dead", ""
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        status, out = None, []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if status == "interrupted":
                    self.dead = True
                    return "timeout", "".join(out)
                # Interrupt and give the kernel a few seconds to come back for the next check.
                if self.interrupt is not None:
                    await self.interrupt()
                status, deadline = "interrupted", time.monotonic() + 5.0
                continue
            try:
                msg = await self.kc.get_iopub_msg(timeout=min(remaining, 1.0))
            except Empty:
                if not await self.kc.is_alive():
                    self.dead = True
                    return "dead", "".join(out)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream" and msg["content"].get("name") == "stdout" and sum(map(len, out)) < 65536:
                out.append(msg["content"]["text"])
            elif kind == "error" and status != "interrupted":
                status = "error"
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                if status == "interrupted":
                    return "timeout", "".join(out)
                return status or "ok", "".join(out)

    def install(self):
        status, _ = self.run(KERNEL_HELPER)
        return status == "ok"

    def kind_of(self, expr):
        """'function', 'class', 'value', or None when the name is missing or the kernel is gone."""
        out_path = os.path.join(self.workdir, f".probe-{secrets.token_hex(8)}-kind.json")
        status, _ = self.run(f"__nnlab_kind__({expr!r}, {out_path!r})")
        try:
            kind = json.loads(read_regular(out_path, 4096)).get("kind") if status == "ok" else None
        except (OSError, ValueError, AttributeError):
            kind = None
        finally:
            with contextlib.suppress(OSError):
                os.remove(out_path)
        return kind if kind in ("function", "class", "value") else None

    def prefetch(self, expr, calls, exercise_id=None):
        """Evaluate many calls in one round trip; :meth:`call` then answers them from memory."""
        blobs = [dumps_args((tuple(args), {})) for args in calls]
        token = secrets.token_hex(8)
        in_path = os.path.join(self.workdir, f".probe-{token}-in.pkl")
        out_path = os.path.join(self.workdir, f".probe-{token}-out.json")
        write_new(in_path, pickle.dumps(blobs, protocol=4))
        try:
            status, _ = self.run(f"__nnlab_probe_many__({expr!r}, {in_path!r}, {out_path!r}, "
                                 f"{exercise_id!r})", timeout=self.call_timeout * max(1, len(blobs)))
            if status != "ok":
                return  # the calls are made one by one instead, each with its own limit
            payloads = json.loads(read_regular(out_path, MAX_RESULT_BYTES))
        except (OSError, ValueError):
            return
        finally:
            for path in (in_path, out_path):
                with contextlib.suppress(OSError):
                    os.remove(path)
        if isinstance(payloads, list) and len(payloads) == len(blobs):
            for blob, payload in zip(blobs, payloads):
                self._prefetched.setdefault((expr, exercise_id, blob), []).append(payload)

    def call(self, expr, args, kwargs, exercise_id=None):
        """Evaluate ``expr(*args, **kwargs)`` in the kernel (or, with ``exercise_id``, the exercise's
        own way of running a student class on ``args``); return the decoded value."""
        self.calls += 1
        blob = dumps_args((args, kwargs))
        waiting = self._prefetched.get((expr, exercise_id, blob))
        if waiting:
            return self._decode_payload(waiting.pop(0))
        # Unpredictable names: the kernel cannot plant a link where the grader will write.
        token = secrets.token_hex(8)
        in_path = os.path.join(self.workdir, f".probe-{token}-in.pkl")
        out_path = os.path.join(self.workdir, f".probe-{token}-out.json")
        write_new(in_path, blob)
        try:
            status, _ = self.run(f"__nnlab_probe__({expr!r}, {in_path!r}, {out_path!r}, {exercise_id!r})")
            if status == "timeout":
                raise StudentCodeError(f"did not return within {self.call_timeout:g} s")
            if status == "dead":
                raise StudentCodeError("stopped the kernel")
            try:
                payload = json.loads(read_regular(out_path, MAX_RESULT_BYTES))
            except (OSError, ValueError):
                raise StudentCodeError("returned nothing the grader could read") from None
        finally:
            for path in (in_path, out_path):
                with contextlib.suppress(OSError):
                    os.remove(path)
        return self._decode_payload(payload)

    def _decode_payload(self, payload):
        if not isinstance(payload, dict) or "ok" not in payload:
            raise StudentCodeError("returned nothing the grader could read")
        if not payload["ok"]:
            raise _as_exception(str(payload.get("type")), str(payload.get("error"))[:4000])
        try:
            return decode(payload["value"])
        except (ValueError, TypeError) as exc:
            raise StudentCodeError(f"returned a value the grader could not read ({exc})") from None


def _as_exception(type_name, message):
    """The kernel's exception, rebuilt as plain data: builtin types keep their type (so the
    check words it as in the student's hint), anything else becomes StudentCodeError."""
    if type_name == "_Feedback":
        from nnlab import feedback
        return feedback._Feedback(message)
    builtin = getattr(builtins, type_name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__module__ == "builtins":
        try:
            return builtin(message)
        except Exception:
            pass
    return StudentCodeError(f"{type_name}: {message}")


class RemoteFunction:
    """Stands for the student's object in the grader: calls go to the kernel, values come back."""

    def __init__(self, session, expr, exercise_id=None):
        self._session = session
        self._expr = expr
        self._exercise_id = exercise_id
        self.__name__ = self.__qualname__ = expr

    def __call__(self, *args, **kwargs):
        return self._session.call(self._expr, args, kwargs, self._exercise_id)

    def __repr__(self):
        return f"<student's {self._expr}>"


# --- the verdict ------------------------------------------------------------------------------

def course_secret(state_dir):
    """A per-course key, readable by the grader only (the kernel never sees the course)."""
    path = os.path.join(state_dir, "secret")
    if not os.path.exists(path):
        os.makedirs(state_dir, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip().encode()


def secret_seed(secret, *parts):
    digest = hmac.new(secret, "/".join(parts).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1)


@contextlib.contextmanager
def _remote_class_exercise(exercise_id):
    """For a class exercise, let the grader's check call the kernel's run of the class."""
    from nnlab import feedback
    original = feedback.EXERCISES[exercise_id]

    def run(obj, inputs):
        # The student's class runs in the kernel; the known-wrong classes run here.
        return obj(*inputs) if isinstance(obj, RemoteFunction) else original.run(obj, inputs)

    feedback.EXERCISES[exercise_id] = dataclasses.replace(original, run=run, kind="function")
    try:
        yield
    finally:
        feedback.EXERCISES[exercise_id] = original


def _run_check(check, function, seed=None):
    """Run nnlab.feedback.check_exercise in the grader; return (passed, message)."""
    from nnlab.feedback import check_exercise
    args, kwargs = list(check.args), dict(check.kwargs)
    if seed is not None:
        if args:
            args[0] = seed
        else:
            kwargs["seed"] = seed
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
            np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            check_exercise(check.exercise_id, function, *args, **kwargs)
        except AssertionError as exc:
            return False, str(exc) or "the check failed"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _planned_inputs(exercise, check, seed=None):
    """The inputs check_exercise will draw (same seeded generator), to send them in one batch.
    Only an optimisation: calls that differ are made one by one."""
    params = dict(zip(("seed", "cases"), check.args))
    params.update(check.kwargs)
    if seed is not None:
        params["seed"] = seed
    try:
        rng = np.random.default_rng(params.get("seed", 0))
        return [exercise.make_inputs(rng, k) for k in range(int(params.get("cases", 5)))]
    except Exception:
        return []


def verdict_for_cell(session, source, seed=None):
    """Grader-side verdict of one test cell.

    Returns a dict: ``verified`` (False: the grader could not replay the cell and the kernel's
    result decides), ``passed``, ``message`` (the first failure, in the check's own words),
    ``reason`` (why unverified).
    """
    from nnlab.feedback import EXERCISES
    try:
        checks = find_checks(source)
    except Unverifiable as exc:
        return {"verified": False, "passed": None, "message": "", "reason": str(exc)}
    if not checks:
        return {"verified": False, "passed": None, "message": "", "reason": "no check_exercise call"}

    def failed(message):
        return {"verified": True, "passed": False, "message": message, "reason": ""}

    try:
        for check in checks:
            exercise = EXERCISES.get(check.exercise_id)
            if exercise is None:
                return failed(f"unknown exercise id {check.exercise_id!r}")
            kind = session.kind_of(check.expr)
            if kind is None:
                return failed(f"✗ {check.exercise_id}: name '{check.expr}' is not defined "
                              "(run the cell that defines it), or the kernel stopped.")
            is_class = exercise.kind == "class"
            if kind != ("class" if is_class else "function"):
                return failed(f"✗ {check.exercise_id}: {check.expr} is a {kind}; "
                              f"pass your {exercise.kind} {exercise.signature} itself.")
            function = RemoteFunction(session, check.expr, check.exercise_id if is_class else None)
            for s in ([None] if seed is None else [None, seed]):
                planned = _planned_inputs(exercise, check, s)
                if planned:
                    session.prefetch(check.expr, planned, check.exercise_id if is_class else None)
                with (_remote_class_exercise(check.exercise_id) if is_class else contextlib.nullcontext()):
                    passed, message = _run_check(check, function, s)
                if not passed:
                    return failed(message)
    except Unverifiable as exc:
        return {"verified": False, "passed": None, "message": "", "reason": str(exc)}
    return {"verified": True, "passed": True, "message": "", "reason": ""}
