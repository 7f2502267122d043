"""The pass/fail verdict, computed where student code cannot patch it.

A graded test cell calls ``check_exercise("identity5", dJ_dW_Wx, ...)`` in the student's kernel;
that run is the student's hint. After the notebook has run, the grader reads the same calls from
the *master* source of the cell (never from the submission: hidden checks included), builds each
check's cases in its own process from the instructor's catalogue (:mod:`nnlab.exercises`), and
asks the kernel only for the student's answers on those inputs: one round trip per check, through
the same ``nnlab.feedback`` code that runs a check in the student's own notebook. The kernel
returns plain values (numbers, numeric arrays, tuples/lists/dicts of those) in a JSON file whose
size is bounded by the answer's expected size before it is read. Reference answers, comparison
and the diagnosis of the mistake all stay in the grader.

Each call is judged twice: on the cases of the seed written in the cell (so the verdict matches
the hint) and on those of a seed derived from a course secret the kernel cannot read (so answers
memorised for the published seed do not pass).
"""

import ast
import base64
import contextlib
import hashlib
import hmac
import json
import os
import pickle
import secrets
import stat
import time
from dataclasses import dataclass, field
from queue import Empty

import numpy as np



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


def read_regular(path, limit):
    """Read a regular file the kernel wrote, refusing links, pipes, directories and files
    over ``limit`` bytes (checked before a byte is read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ValueError("not a regular file of reasonable size")
        with os.fdopen(fd, "rb") as fh:
            fd = None
            return fh.read(limit + 1)
    finally:
        if fd is not None:
            os.close(fd)


class KernelSession:
    """Asks the (already executed) student kernel for answers; grader side.

    One round trip per check: the request (the spec and the inputs, never the seed or the
    reference) travels inside the code the kernel runs, the reply comes back in a file whose
    size is checked before a byte of it is read. Every round trip has a time limit, and all of
    them together end at ``deadline`` (a time.monotonic() value).
    """

    def __init__(self, kc, replydir, call_timeout=20.0, interrupt=None, deadline=None):
        self.kc = kc
        self.replydir = replydir
        self.call_timeout = call_timeout
        self.interrupt = interrupt
        self.deadline = deadline
        self.dead = False

    def run(self, code, timeout):
        """Execute ``code``; return its status: ok, error, timeout or dead."""
        from nbclient.util import run_sync
        return run_sync(self._run)(code, timeout)

    async def _run(self, code, timeout):
        # The shell reply says when the code is done: it does not depend on the kernel's
        # output channel, which an oversized message may have cut.
        if self.dead:
            return "dead"
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        interrupted = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if interrupted:
                    self.dead = True
                    return "timeout"
                # Interrupt and give the kernel a few seconds to come back for the next check.
                if self.interrupt is not None:
                    await self.interrupt()
                interrupted, deadline = True, time.monotonic() + 5.0
                continue
            await self._drop_outputs()
            try:
                msg = await self.kc.get_shell_msg(timeout=min(remaining, 0.2))
            except Empty:
                if not await self.kc.is_alive():
                    self.dead = True
                    return "dead"
                continue
            if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "execute_reply":
                continue
            if interrupted:
                return "timeout"
            return "ok" if msg["content"].get("status") == "ok" else "error"

    async def _drop_outputs(self):
        """Read and drop what the kernel printed meanwhile: no output is kept in this phase."""
        for _ in range(1000):
            try:
                await self.kc.get_iopub_msg(timeout=0)
            except Empty:
                return

    def remaining(self):
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def answers(self, expr, spec, inputs, limit):
        """The kernel's reply for ``expr`` on ``inputs``: a dict (see nnlab.feedback._reply).

        Raises StudentCodeError (with ``flag``) when it is too slow, too large or unreadable.
        """
        timeout = min(self.call_timeout, self.remaining())
        if timeout <= 0:
            raise StudentCodeError("too slow: the notebook's time budget was used up before "
                                   "this check", flag="too slow")
        request = base64.b64encode(pickle.dumps((expr, spec, inputs), protocol=4)).decode()
        # Unpredictable names: the kernel cannot plant a link where the grader will read.
        reply = os.path.join(self.replydir, f"{secrets.token_hex(12)}.json")
        status = self.run(f"import nnlab.feedback\nnnlab.feedback._reply({request!r}, {reply!r})",
                          timeout)
        try:
            if status == "timeout":
                raise StudentCodeError(f"too slow: the check's {len(inputs)} cases took more than "
                                       f"{timeout:.3g} s", flag="too slow")
            if status == "dead":
                raise StudentCodeError("the kernel stopped (an exit, a crash, or a memory or "
                                       "process limit)", flag="limits")
            try:
                data = read_regular(reply, limit)
            except FileNotFoundError:
                raise StudentCodeError("returned nothing the grader could read") from None
            except (OSError, ValueError):
                raise StudentCodeError(f"returned more data than its answer needs (over {limit} "
                                       "bytes) or an unreadable reply") from None
            try:
                payload = json.loads(data)
            except (ValueError, RecursionError):
                raise StudentCodeError("returned a reply the grader could not read") from None
        finally:
            with contextlib.suppress(OSError):
                os.remove(reply)
        if not isinstance(payload, dict):
            raise StudentCodeError("returned a reply the grader could not read")
        return payload


class StudentCodeError(Exception):
    """The student's code failed the grader's call: too slow, too large, unreadable, dead."""

    def __init__(self, message, flag=None):
        super().__init__(message)
        self.flag = flag


def reply_limit(cases):
    """Bytes a reply may have: room for every expected value, several times over."""
    values = sum(int(np.size(v)) for answer in cases.expected for v in answer.values())
    return 65536 + 64 * values


def _decoded_answers(payload, spec, count):
    """[{output key: value}] from the kernel's reply, or raise StudentCodeError."""
    answers = payload.get("answers")
    keys = {out.key for out in spec.outputs}
    if not isinstance(answers, list) or len(answers) != count:
        raise StudentCodeError("returned a reply the grader could not read")
    decoded = []
    for answer in answers:
        try:
            value = decode(answer)
        except (ValueError, TypeError, RecursionError) as exc:
            raise StudentCodeError(f"returned a value the grader could not read ({exc})") from None
        if not isinstance(value, dict) or set(value) != keys:
            raise StudentCodeError("returned a reply the grader could not read")
        decoded.append(value)
    return decoded


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


def _check_params(check):
    """(seed, cases) of a check_exercise call read from a test cell."""
    params = {"seed": 0, "cases": 5}
    params.update(dict(zip(("seed", "cases"), check.args)))
    params.update(check.kwargs)
    unknown = set(params) - {"seed", "cases"}
    if unknown or len(check.args) > 2:
        raise Unverifiable(f"check_exercise call with unknown options {sorted(unknown)}")
    try:
        return int(params["seed"]), int(params["cases"])
    except (TypeError, ValueError):
        raise Unverifiable("check_exercise call with a non-integer seed or count") from None


def check_once(session, check, seed, cases):
    """One check_exercise call judged in the grader: (passed, message, mistake, flags)."""
    from nnlab import exercises
    from nnlab.feedback import judge

    data = exercises.build_cases(check.exercise_id, seed, cases)
    spec = data.spec
    name = f"✗ {spec.id}"
    try:
        payload = session.answers(check.expr, spec, data.inputs, reply_limit(data))
        kind = payload.get("kind")
        if kind == "missing":
            return False, (f"{name}: name '{check.expr}' is not defined (run the cell that "
                           "defines it)."), None, []
        if kind != spec.kind:
            return False, (f"{name}: {check.expr} is a {kind}; pass your {spec.kind} "
                           f"{spec.signature} itself."), None, []
        if "feedback" in payload:
            withheld = payload.get("withheld")
            flags = ["reference"] if withheld else []
            return False, f"{name}: {str(payload['feedback'])[:2000]}", None, flags
        answers = _decoded_answers(payload, spec, len(data.inputs))
    except StudentCodeError as exc:
        return False, f"{name}: your {spec.kind} {exc}", None, [exc.flag] if exc.flag else []
    passed, message, mistake = judge(data, answers, unpacked=True)
    return passed, (f"{name}: {message}" if not passed else ""), mistake, []


def verdict_for_cell(session, source, seed=None):
    """Grader-side verdict of one test cell.

    Every check_exercise call of the master's cell is judged on its own cases and, with a
    ``seed`` derived from the course secret, on cases the published seeds do not give.
    Returns a dict: ``verified`` (False: the grader could not replay the cell and the kernel's
    result decides), ``passed``, ``message`` (the first failure, in the check's own words),
    ``reason`` (why unverified), ``exercise``, ``mistake`` (the known mistake named),
    ``flags`` and ``seconds``.
    """
    from nnlab import exercises
    started = time.perf_counter()
    result = {"verified": True, "passed": True, "message": "", "reason": "", "exercise": "",
              "mistake": None, "flags": []}
    try:
        checks = find_checks(source)
        if not checks:
            raise Unverifiable("no check_exercise call")
        for check in checks:
            result["exercise"] = result["exercise"] or check.exercise_id
            if check.exercise_id not in exercises.EXERCISES:
                result.update(passed=False, message=f"unknown exercise id {check.exercise_id!r}")
                break
            cell_seed, cases = _check_params(check)
            for s in ([cell_seed] if seed is None else [cell_seed, seed]):
                try:
                    passed, message, mistake, flags = check_once(session, check, s, cases)
                except Exception as exc:  # whatever the kernel did, this exercise fails alone
                    passed, mistake, flags = False, None, []
                    message = (f"✗ {check.exercise_id}: the grader could not check your answer "
                               f"({type(exc).__name__})")
                if not passed:
                    result.update(passed=False, message=message, mistake=mistake, flags=flags)
                    break
            if not result["passed"]:
                break
    except Unverifiable as exc:
        result.update(verified=False, passed=None, reason=str(exc))
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result
