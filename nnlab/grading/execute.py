"""nbgrader's Execute step, run in the sandbox, with the grader's own verdict.

:class:`SandboxedExecute` replaces nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``.
Compared with it, it:

- starts the kernel through :class:`~nnlab.grading.sandbox.Sandbox` in a private directory holding
  a copy of the submission's files only;
- survives the kernel dying (``os._exit``, a crash, the memory limit): the cell gets an error,
  a fresh kernel runs the rest; a cell that stays stuck after its timeout also gets a fresh kernel;
- caps the output a cell may produce while it runs (the grader's memory is not the student's);
- after the last cell, asks the kernel for values and computes each test cell's verdict in the
  grader (:mod:`nnlab.grading.probe`); the verdicts travel in ``resources["nnlab"]`` to
  :class:`~nnlab.grading.preprocessors.ScoreByVerdict`;
- in a parallel run, takes the executed cells from the worker that ran them (a one-shot handoff
  file keyed by the notebook's content) instead of running them again.
"""

import atexit
import contextlib
import glob
import hashlib
import json
import os
import shutil
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode, from_dict
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Float, Integer, Unicode

from . import edition, events, probe, records
from .copies import copies_of_references
from .sandbox import Sandbox, SandboxedKernelManager, SandboxUnavailable, release_workdir

_AVAILABILITY = {}
_EDITIONS = {}

#: Names the grading run in the records (one run per grading process).
_RUN = f"{int(time.time())}-{os.getpid()}"


def sandbox_status(sandbox):
    """(sandboxed, reason): whether kernels run in bwrap; raises if unsandboxed is not allowed."""
    if not sandbox.enabled:
        if not sandbox.allow_unsandboxed:
            raise SandboxUnavailable("Sandbox.enabled is False but Sandbox.allow_unsandboxed is not set")
        return False, "sandbox disabled by configuration"
    if sandbox.bwrap not in _AVAILABILITY:
        _AVAILABILITY[sandbox.bwrap] = sandbox.available()
    reason = _AVAILABILITY[sandbox.bwrap]
    if reason is None:
        return True, ""
    if sandbox.allow_unsandboxed:
        return False, reason
    raise SandboxUnavailable(f"cannot sandbox student kernels: {reason}")


class _WarmKernel:
    """One kernel started ahead of time, in its own empty private directory, so that its boot
    (and its preloaded imports) overlap the previous notebook. No student code has run in it;
    the next submission's files are copied into its directory just before use."""

    slot = None  # (key, private dir, workdir, kernel manager)

    @classmethod
    def start(cls, key, sandbox, sandboxed, extra_arguments):
        private = sandbox.make_workdir(prefix="nnlab-grade-")
        workdir = os.path.join(private, "work")
        os.mkdir(workdir)
        stage_files([], workdir)
        conndir = os.path.join(private, "conn1")
        os.mkdir(conndir, 0o700)
        km = SandboxedKernelManager(sandbox, workdir, conndir, sandboxed=sandboxed)
        km.background = True
        try:
            run_sync(km.start_kernel)(extra_arguments=list(extra_arguments))
        except Exception:
            release_workdir(private)
            return
        cls.slot = (key, private, workdir, km)

    @classmethod
    def take(cls, key):
        slot, cls.slot = cls.slot, None
        if slot is None:
            return None
        if slot[0] == key and run_sync(slot[3].is_alive)():
            slot[3].set_background(False)
            return slot[1:]
        cls.discard(slot)
        return None

    @classmethod
    def discard(cls, slot=None):
        slot = slot or cls.slot
        if slot is None:
            return
        if slot is cls.slot:
            cls.slot = None
        with contextlib.suppress(Exception):
            run_sync(slot[3].shutdown_kernel)(now=True)
        release_workdir(slot[1])


atexit.register(_WarmKernel.discard)


def handoff_key(student, assignment, notebook, nb):
    """Identifies a sanitized notebook: what a worker executed is what the parent would execute."""
    cells = [[c.cell_type, c.source] for c in nb.cells]
    blob = json.dumps([student, assignment, notebook, cells], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def _mpl_cache_files():
    """The grader's matplotlib font cache, copied into each workdir (rebuilding it costs seconds)."""
    if "mpl" not in _AVAILABILITY:
        try:
            import matplotlib
            import matplotlib.font_manager  # noqa: F401  (builds the cache if missing)
            _AVAILABILITY["mpl"] = glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-*.json"))
        except Exception:
            _AVAILABILITY["mpl"] = []
    return _AVAILABILITY["mpl"]


def stage_files(source_dirs, workdir):
    """Copy the assignment's non-notebook files into the workdir (later dirs override earlier)."""
    for src in source_dirs:
        if not src or not os.path.isdir(src):
            continue
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = [d for d in dirnames if d not in (".ipynb_checkpoints", "__pycache__")]
            for name in filenames:
                if name.endswith(".ipynb"):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    continue  # a link in a submission could point anywhere on the grader's disk
                dest = os.path.join(workdir, os.path.relpath(path, src))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(path, dest)
    mpl = os.path.join(workdir, ".config", "matplotlib")
    os.makedirs(mpl, exist_ok=True)
    for path in _mpl_cache_files():
        shutil.copyfile(path, os.path.join(mpl, os.path.basename(path)))


def _output_size(msg):
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


def _error(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """Execute in the sandbox, then compute the verdicts in the grader."""

    max_output_bytes = Integer(
        2_000_000, help="Output a single cell may produce; the rest is dropped with a note.").tag(config=True)
    notebook_timeout = Integer(
        900, help="Wall-clock budget of one notebook, seconds; later cells are not run.").tag(config=True)
    probe_timeout = Float(
        20.0, help="Time the grader gives one check (all its cases) of a student function; a "
                   "slower function fails that exercise as too slow.").tag(config=True)
    verdict_timeout = Float(
        300.0, help="Time the grader gives all the checks of one notebook together.").tag(config=True)
    student_edition = Bool(
        True, help="Kernels import the student edition of nnlab: the reference answers of the "
                   "graded exercises withheld, the instructor's catalogue left out.").tag(config=True)
    secret_recheck = Bool(
        True, help="Also check every exercise on a seed derived from the course secret.").tag(config=True)
    handoff_dir = Unicode("", help="Where parallel workers leave executed notebooks.").tag(config=True)
    store_handoff = Bool(False, help="Leave the result in handoff_dir (set in workers).").tag(config=True)
    extra_source_dir = Unicode("", help="Workers: the assignment's source directory, staged last.").tag(config=True)
    shutdown_kernel = Enum(
        ["graceful", "immediate"], default_value="immediate",
        help="How a notebook's kernel is stopped once its verdicts are computed. 'immediate' (the "
             "default here; nbclient's is 'graceful') kills the sandbox at once: the kernel is "
             "never reused and nothing in it is needed any more, and a graceful shutdown costs "
             "about a second of waiting per notebook.").tag(config=True)
    prestart = Bool(
        True, help="Start the next notebook's kernel while this one runs (each kernel is still "
                   "used for one notebook only).").tag(config=True)

    # --- nbconvert entry point ---------------------------------------------------------------

    def preprocess(self, nb, resources, km=None):
        info = resources["nbgrader"]
        self._who = (info["student"], info["assignment"], info["notebook"])
        key = handoff_key(*self._who, nb)
        handoff = os.path.join(self.handoff_dir, key + ".json") if self.handoff_dir else ""
        if handoff and not self.store_handoff and os.path.exists(handoff):
            self.log.info("Using the parallel worker's execution of %s", "/".join(self._who))
            nb, resources = self._take_handoff(nb, resources, handoff)
        else:
            nb, resources = self._run(nb, resources, handoff)
        if not self.store_handoff:  # the process that records the grades keeps the records
            self._write_records(nb, resources)
        return nb, resources

    def _run(self, nb, resources, handoff):

        self._notes = []
        # The course root (the working directory of nbgrader's converters) and the folder that
        # holds it (the repository, with notebooks/) must never be bound into the sandbox.
        root = os.getcwd()
        sandbox = Sandbox(parent=self)
        sandbox.forbidden = list(sandbox.forbidden) + [root, os.path.dirname(root)]
        if self.student_edition:
            sandbox.package_sources = {**sandbox.package_sources, "nnlab": self._edition(root)}
        sandboxed, why = sandbox_status(sandbox)
        if not sandboxed:
            self.log.warning("UNSANDBOXED execution of %s: %s", "/".join(self._who), why)
            self._note(f"executed WITHOUT the sandbox ({why})", kind="unsandboxed")
        for problem in sandbox.limit_problems(sandboxed):
            self.log.warning("limit not applied to %s: %s", "/".join(self._who), problem)
            self._note(f"limit not applied: {problem}", kind="limits")
        self._sandbox, self._sandboxed = sandbox, sandboxed
        warm_key = json.dumps([sandboxed, sandbox.command(["python"], "/w", rw=["/c"]), self.extra_arguments])
        warm = _WarmKernel.take(warm_key) if self.prestart else None
        if warm:
            self._private, self._workdir, self._warm_km = warm
        else:
            self._private = sandbox.make_workdir(prefix="nnlab-grade-")
            self._workdir = os.path.join(self._private, "work")
            os.mkdir(self._workdir)
            self._warm_km = None
        try:
            path = resources.get("metadata", {}).get("path") or ""
            stage_files([path, self.extra_source_dir], self._workdir)
            if sandboxed:  # the kernel's uid owns what it may write
                sandbox.hand_over(self._workdir)
            if self.prestart:
                _WarmKernel.start(warm_key, sandbox, sandboxed, self._kernel_arguments())
            verdicts = self._execute(nb, resources)
        finally:
            release_workdir(self._private)
        resources["nnlab"] = {"verdicts": verdicts, "notes": self._notes, "sandboxed": sandboxed}
        if self.store_handoff and handoff:
            self._leave_handoff(nb, resources, handoff)
        return nb, resources

    def _edition(self, root):
        """The student edition of nnlab for the current package and masters (built once)."""
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        masters = os.path.normpath(os.path.join(root, coursedir.source_directory))
        key = (root, masters)
        if key not in _EDITIONS:
            _EDITIONS[key] = edition.cached(os.path.join(root, events.STATE_DIR), masters)
        return _EDITIONS[key]

    def _execute(self, nb, resources):
        from nbclient import NotebookClient
        NotebookClient.__init__(self, nb, None)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._output_bytes, self._truncated = {}, set()
        self._deadline = time.monotonic() + self.notebook_timeout
        self._kernels = 0
        self._seen_code = False
        self._timing = {"kernel_start": 0.0, "imports": 0.0, "execution": 0.0, "verdicts": 0.0}
        started = time.perf_counter()
        if self._warm_km is not None:
            self.km, self._kernels = self._warm_km, 1
        with self.setup_kernel():
            info_msg = self.wait_for_reply(self.kc.kernel_info())
            self._timing["kernel_start"] += time.perf_counter() - started
            self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                self.preprocess_cell(cell, resources, index)
            started = time.perf_counter()
            verdicts = self._verdicts(resources)
            self._timing["verdicts"] += time.perf_counter() - started
        self.set_widgets_metadata()
        self._note(dict(self._timing), kind="timing")
        return verdicts

    # --- kernels -----------------------------------------------------------------------------

    def create_kernel_manager(self):
        self._kernels += 1
        conndir = os.path.join(self._private, f"conn{self._kernels}")
        os.mkdir(conndir, 0o700)
        self.km = SandboxedKernelManager(self._sandbox, self._workdir, conndir, sandboxed=self._sandboxed)
        return self.km

    def _kernel_arguments(self):
        """What nbclient would pass to a new kernel (history in memory), for a kernel started early."""
        args = list(self.extra_arguments)
        if not any(a.startswith("--HistoryManager.hist_file") for a in args) and self.ipython_hist_file:
            args.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        return args

    def _fresh_kernel(self):
        started = time.perf_counter()
        with contextlib.suppress(Exception):
            self._cleanup_kernel()
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()
        self._timing["kernel_start"] += time.perf_counter() - started

    def _responsive(self, timeout=5.0):
        async def ping():
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    msg = await self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
                except Exception:
                    return False
                if msg["parent_header"].get("msg_id") == msg_id:
                    return True
            return False
        try:
            return run_sync(ping)()
        except Exception:
            return False

    # --- cells -------------------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
        if time.monotonic() > self._deadline:
            cell.outputs = [_error("NotebookTimeout", f"not run: the notebook used its "
                                   f"{self.notebook_timeout} s budget")]
            self._note(f"{label}: not run (notebook time budget of {self.notebook_timeout} s used)")
            return cell, resources
        started = time.perf_counter()
        try:
            cell = self.execute_cell(cell, index, store_history=True)
        except CellTimeoutError:
            # Interrupted but never idle again (a loop that swallows KeyboardInterrupt).
            cell.outputs.append(_error("CellTimeoutError", f"stopped after the {self.timeout} s time limit; "
                                       "the kernel did not respond, the next cells run in a fresh kernel"))
            self._note(f"{label}: stopped after the {self.timeout} s time limit")
            self._note(f"{label}: the kernel did not respond; a fresh kernel ran the rest")
            self._fresh_kernel()
        except DeadKernelError:
            cell.outputs.append(_error(
                "KernelDied", "the kernel stopped while running this cell (sys.exit/os._exit, "
                "a crash, or the memory limit); the next cells run in a fresh kernel"))
            self._note(f"{label}: the kernel died; a fresh kernel ran the rest")
            self._fresh_kernel()
        else:
            if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs if o.output_type == "error"):
                self._note(f"{label}: stopped after the {self.timeout} s time limit")
                if not self._responsive():
                    cell.outputs.append(_error("KernelRestarted", "the kernel did not respond after "
                                               "the time limit; the next cells run in a fresh kernel"))
                    self._note(f"{label}: the kernel did not respond; a fresh kernel ran the rest")
                    self._fresh_kernel()
        # The lessons' first code cell is their imports: it measures the cost of a cold kernel.
        first = not self._seen_code
        self._seen_code = True
        self._timing["imports" if first else "execution"] += time.perf_counter() - started
        if index in self._truncated:
            cell.outputs.append(NotebookNode(
                output_type="stream", name="stdout",
                text=f"\n[output truncated by the grader: more than {self.max_output_bytes} bytes]\n"))
            self._note(f"{label}: output truncated (more than {self.max_output_bytes} bytes)")
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        used = self._output_bytes.get(cell_index, 0) + _output_size(msg)
        self._output_bytes[cell_index] = used
        if used > self.max_output_bytes and msg["msg_type"] != "error":
            self._truncated.add(cell_index)
            return None
        return super().output(outs, msg, display_id, cell_index)

    # --- verdicts ----------------------------------------------------------------------------

    def _verdicts(self, resources):
        """{grade_id: verdict} for the test cells, computed from answers the kernel returns."""
        student, assignment, notebook = self._who
        db_url = resources["nbgrader"]["db_url"]
        secret = probe.course_secret(os.path.join(os.getcwd(), events.STATE_DIR)) if self.secret_recheck else None
        session = probe.KernelSession(self.kc, self.km.conndir, call_timeout=self.probe_timeout,
                                      interrupt=self.km.interrupt_kernel,
                                      deadline=time.monotonic() + self.verdict_timeout)
        copies = copies_of_references(self.nb)
        verdicts = {}
        with Gradebook(db_url) as gb:
            for cell in self.nb.cells:
                if not (utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell)):
                    continue
                grade_id = cell.metadata.nbgrader["grade_id"]
                try:
                    # The master's source, from the gradebook: never what the student handed in.
                    source = gb.find_source_cell(grade_id, notebook, assignment).source
                except MissingEntry:
                    continue
                seed = probe.secret_seed(secret, student, assignment, notebook, grade_id) if secret else None
                verdict = probe.verdict_for_cell(session, source, seed)
                if verdict.get("exercise") in copies:
                    verdict["flags"] = verdict["flags"] + ["copied"]
                    self._note(f"{grade_id}: the solution matches the course's reference "
                               f"{copies[verdict['exercise']]} line for line (for review)", kind="copied")
                if "too slow" in verdict.get("flags", []):
                    self._note(f"{grade_id}: too slow", kind="too slow")
                if "reference" in verdict.get("flags", []):
                    said = verdict["message"].split(": ", 1)[-1].splitlines()[0]
                    self._note(f"{grade_id}: {said}", kind="reference")
                verdicts[grade_id] = verdict
        return verdicts

    def _write_records(self, nb, resources):
        """One record per test cell and one for the notebook, for the class report."""
        student, assignment, notebook = self._who
        info = resources.get("nnlab", {})
        verdicts = info.get("verdicts", {})
        now = time.time()
        found = []
        for cell in nb.cells:
            if not (utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell)):
                continue
            grade_id = cell.metadata.nbgrader["grade_id"]
            verdict = verdicts.get(grade_id, {})
            if verdict.get("verified"):
                passed = bool(verdict.get("passed"))
            else:
                passed = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            max_points = float(cell.metadata.nbgrader.get("points", 0) or 0)
            found.append({"time": now, "run": _RUN, "student": student, "assignment": assignment,
                          "notebook": notebook, "grade_id": grade_id,
                          "exercise": verdict.get("exercise", ""),
                          "points": max_points if passed else 0.0, "max_points": max_points,
                          "passed": passed, "mistake": verdict.get("mistake"),
                          "reason": (verdict.get("message") or "").split("\n")[0][:300],
                          "flags": list(verdict.get("flags", [])), "seconds": verdict.get("seconds")})
        timing = [n["message"] for n in info.get("notes", []) if n.get("kind") == "timing"]
        if timing and isinstance(timing[-1], dict):
            found.append({"kind": "notebook", "time": now, "run": _RUN, "student": student,
                          "assignment": assignment, "notebook": notebook,
                          "seconds": round(sum(timing[-1].values()), 3)})
        try:
            records.append_verdicts(os.getcwd(), found)
        except (OSError, ValueError) as exc:
            self.log.warning("could not write the grading records of %s: %s", "/".join(self._who), exc)

    # --- handoff between a worker and the parent ------------------------------------------------

    def _leave_handoff(self, nb, resources, path):
        cells = [[c.get("outputs", []), c.get("execution_count")] if c.cell_type == "code" else None
                 for c in nb.cells]
        record = {"cells": cells, "language_info": nb.metadata.get("language_info", {}),
                  "nnlab": resources["nnlab"]}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)

    def _take_handoff(self, nb, resources, path):
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
        os.remove(path)  # one-shot: a later run always executes afresh
        for cell, done in zip(nb.cells, record["cells"]):
            if cell.cell_type == "code" and done is not None:
                cell.outputs = [from_dict(o) for o in done[0]]
                cell.execution_count = done[1]
        nb.metadata["language_info"] = record["language_info"]
        resources["nnlab"] = record["nnlab"]
        for note in record["nnlab"].get("notes", []):
            self._emit(note)
        return nb, resources

    def _note(self, message, kind="note"):
        note = {"message": message, "kind": kind}
        self._notes.append(note)
        if not self.store_handoff:
            self._emit(note)

    def _emit(self, note):
        events.emit(*self._who, note["message"], kind=note.get("kind", "note"))
