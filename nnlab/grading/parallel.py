"""Grading a class: workers execute notebooks, the parent alone writes the gradebook.

With ``-j 1`` the parent runs nbgrader's own autograde converter (``NbGraderAPI.autograde``)
for one student after another: exactly what ``nbgrader autograde`` does with this course's
configuration.

With ``-j N`` there are two kinds of processes:

- N worker processes each take a student, sanitize the notebook with nbgrader's sanitize steps
  against a *read-only snapshot* of the gradebook, execute it in the sandbox and compute the
  verdicts, and leave the result in a one-shot handoff file keyed by a hash of the sanitized
  cells. Workers never open the real gradebook.
- The parent, as each worker finishes, runs the same nbgrader converter for that student as in
  ``-j 1``. Its execute step finds the handoff whose key matches the notebook it is about to
  run, and uses those outputs instead of executing again; every gradebook write is the
  parent's, one student at a time, through nbgrader's code. If a handoff is missing (a worker
  crashed), the parent simply executes the notebook itself.

So the gradebook after ``-j N`` is the one ``-j 1`` writes, and the slow part (kernels) runs
N at a time while the parent records the previous results.
"""

import concurrent.futures
import logging
import multiprocessing
import os
import shutil
import time

import nbformat
from nbgrader.api import Gradebook

from . import events
from .course import Course

HANDOFF = "handoff"

#: Sanitize steps a worker may skip: they change neither cell sources nor cell types.
WORKER_SKIPS = {"ClearOutput", "OverwriteKernelspec", "CheckCellMetadata"}


def expected_notebooks(course):
    """{assignment: [notebook names]} as recorded in the gradebook by the release step."""
    result = {}
    if not os.path.exists(course.db_path):
        return result
    with Gradebook(course.coursedir.db_url) as gb:
        for assignment in gb.assignments:
            result[assignment.name] = sorted(nb.name for nb in assignment.notebooks)
    return result


def record_zero(course, student, assignment):
    """Every graded cell of the submission scores 0 (nbgrader's missing-file rule).

    Used for a submission with nothing gradable, and after a grading that failed, so that the
    gradebook never keeps the score of an earlier grading of a different hand-in.
    """
    with Gradebook(course.coursedir.db_url) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()
    stale = os.path.join(course.step_dir("autograded"), student, assignment)
    shutil.rmtree(stale, ignore_errors=True)


GENERIC = ("There was an error processing", "Please see the", "Removing failed")


def _exception_lines(text):
    """The closing line of each traceback in ``text`` (``KeyError: 'grade_id'``, say).

    Works on plain tracebacks and on nbgrader's captured log, which indents every
    continuation line: the exception is the first line indented less than the ``File`` lines.
    """
    found, inside, frame_indent = [], False, None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if "Traceback (most recent call last):" in line:
            inside, frame_indent = True, None
        elif inside and line.strip():
            if frame_indent is None and line.lstrip().startswith("File "):
                frame_indent = indent
            elif frame_indent is not None and indent < frame_indent:
                inside = False
                if not line.strip().startswith(("During handling", "The above exception")):
                    found.append(line.strip())
    return found


def _reason(result):
    """One line, in plain words, explaining a failed autograde (never a bare traceback header)."""
    log, error = result.get("log") or "", result.get("error") or ""
    candidates = _exception_lines(log) + _exception_lines(error)
    candidates = [c for c in candidates if not any(g in c for g in GENERIC)]
    if candidates:
        line = candidates[0]
        name, _, message = line.partition(": ")
        if name.rsplit(".", 1)[-1] in ("NbGraderException",) and not message:
            line = ""
        if line:
            return f"the grader stopped on this submission: {line}"[:300]
    for line in reversed(log.splitlines()):
        text = line[len("[ERROR]"):].strip() if line.startswith("[ERROR]") else ""
        if text and not any(g in text for g in GENERIC) and not text.startswith("Traceback"):
            return f"the grader stopped on this submission: {text}"[:300]
    return "the grader stopped on this submission (details in .grading/grade.log)"


# --- worker side ----------------------------------------------------------------------------------

_WORKER = {}


def _worker_init(root, snapshot, handoff_dir, allow_unsandboxed, log_path):
    """Each worker opens the course read-only: gradebook snapshot, handoffs instead of writes."""
    os.chdir(root)
    events.MUTED = True
    log = logging.getLogger("nnlab.grading.worker")
    log.propagate = False
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("[worker %(process)d %(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    course = Course(root, log=log)
    course.config.CourseDirectory.db_url = f"sqlite:///{snapshot}"
    course.config.SandboxedExecute.handoff_dir = handoff_dir
    course.config.SandboxedExecute.store_handoff = True
    if allow_unsandboxed:
        course.config.Sandbox.allow_unsandboxed = True
    _WORKER.update(course=course, snapshot=snapshot, log=log)
    # Worker processes end without running atexit hooks: stop the kernel started ahead here.
    from multiprocessing.util import Finalize

    from .execute import _WarmKernel
    Finalize(None, _WarmKernel.discard, exitpriority=10)


def _worker_grade(student, assignment, notebooks):
    """Sanitize and execute one student's notebooks; returns seconds spent (or raises)."""
    from traitlets import import_item

    from .execute import SandboxedExecute
    course, log = _WORKER["course"], _WORKER["log"]
    config = course.config
    folder = os.path.join(course.step_dir("submitted"), student, assignment)
    start = time.perf_counter()
    steps = config.Autograde.get("sanitize_preprocessors", None)
    if not steps:
        from .preprocessors import SANITIZE as steps
    steps = [import_item(s) if isinstance(s, str) else s for s in steps]
    # Only the steps that can change what runs (cell sources and types) matter here; the
    # parent runs them all again before it records anything.
    steps = [s for s in steps if s.__name__ not in WORKER_SKIPS]
    for notebook in notebooks:
        nb = nbformat.read(os.path.join(folder, notebook + ".ipynb"), as_version=4)
        resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": notebook,
                                  "db_url": f"sqlite:///{_WORKER['snapshot']}"},
                     "metadata": {"path": folder}, "unique_key": notebook}
        for step in steps:
            nb, resources = step(config=config, log=log)(nb, resources)
        # The parent reads the sanitized notebook back from disk: hash what it will see.
        nb = nbformat.reads(nbformat.writes(nb), as_version=4)
        execute = SandboxedExecute(config=config, log=log,
                                   extra_source_dir=os.path.join(course.source_dir, assignment))
        execute(nb, resources)
    return time.perf_counter() - start


# --- parent side ----------------------------------------------------------------------------------

class Grader:
    """Grades a list of :class:`~nnlab.grading.intake.Job` and reports per submission."""

    def __init__(self, course, workers=1, allow_unsandboxed=False, progress=True):
        self.course = course
        self.workers = max(1, int(workers))
        self.allow_unsandboxed = allow_unsandboxed
        self.progress = progress
        self.handoff_dir = os.path.join(course.state_dir, HANDOFF)
        self.log_path = os.path.join(course.state_dir, "grade.log")

    def run(self, jobs):
        """Grade every job; returns {(student, assignment): status dict}. Never stops on one failure.

        Each status is saved to ``.grading/status.json`` as soon as it is known, and a
        submission is marked as interrupted just before nbgrader starts on it: a grader killed
        mid-batch leaves every recorded grade in place and no half-graded submission that
        reads as graded. Running ``nnlab grade`` again grades the class again.
        """
        shutil.rmtree(self.handoff_dir, ignore_errors=True)
        os.makedirs(self.handoff_dir)
        config = self.course.config
        if self.allow_unsandboxed:
            config.Sandbox.allow_unsandboxed = True
        config.SandboxedExecute.handoff_dir = self.handoff_dir if self.workers > 1 else ""
        api = self.course.api()
        results = {}
        todo = []
        for job in jobs:
            if job.skip:
                self._save(results, job, {"status": "skipped", "reason": job.skip, "notes": list(job.notes)})
            else:
                todo.append(job)
        bar = self._bar(len(todo))
        try:
            if self.workers == 1 or len(todo) <= 1:
                for job in todo:
                    self._save(results, job, self._record(api, job))
                    bar.update(1)
            else:
                self._run_parallel(api, todo, results, bar)
        finally:
            bar.close()
            shutil.rmtree(self.handoff_dir, ignore_errors=True)
        return results

    def _save(self, results, job, status):
        from .export import save_status
        results[(job.student, job.assignment)] = status
        save_status(self.course.root, {(job.student, job.assignment): status})

    def _run_parallel(self, api, todo, results, bar):
        snapshot = self.course.snapshot_gradebook(os.path.join(self.course.state_dir, "snapshot.db"))
        # fork: workers start with nbgrader already imported (seconds of CPU each with spawn).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        args = (self.course.root, snapshot, self.handoff_dir, self.allow_unsandboxed, self.log_path)
        # Jobs with no gradable notebook need no worker.
        for job in [j for j in todo if not j.notebooks]:
            self._save(results, job, self._record(api, job))
            bar.update(1)
        todo = [j for j in todo if j.notebooks]
        with concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context,
                                                    initializer=_worker_init, initargs=args) as pool:
            futures = {pool.submit(_worker_grade, j.student, j.assignment, j.notebooks): j for j in todo}
            for future in concurrent.futures.as_completed(futures):
                job = futures[future]
                try:
                    future.result()
                except Exception as exc:
                    # The parent executes this one itself: same result, just not in parallel.
                    self.course.log.warning("worker failed on %s/%s: %s", job.student, job.assignment, exc)
                self._save(results, job, self._record(api, job))
                bar.update(1)
        os.remove(snapshot)

    def _record(self, api, job):
        """Run nbgrader's autograde for one submission in this process; collect its notes."""
        from .export import save_status
        path = events.events_path(self.course.root)
        offset = os.path.getsize(path) if os.path.exists(path) else 0
        notes = list(job.notes)
        started = time.perf_counter()
        save_status(self.course.root, {(job.student, job.assignment): {
            "status": "failed", "notes": notes,
            "reason": "grading was interrupted before this submission was recorded; run `nnlab grade` again"}})
        if not job.notebooks:
            try:
                record_zero(self.course, job.student, job.assignment)
                status = {"status": "zero", "reason": "; ".join(notes) or "no notebook to grade"}
            except Exception as exc:
                status = {"status": "failed", "reason": f"could not record a zero: {exc}"}
        else:
            result = api.autograde(job.assignment, job.student, force=True, create=True)
            if result["success"]:
                status = {"status": "graded", "reason": ""}
            else:
                status = {"status": "failed", "reason": _reason(result)}
                self.course.log.error("autograde failed for %s/%s:\n%s", job.student, job.assignment,
                                      result.get("error", ""))
                try:  # no score of an earlier grading survives a failed one
                    record_zero(self.course, job.student, job.assignment)
                except Exception as exc:
                    self.course.log.error("could not clear the scores of %s/%s: %s",
                                          job.student, job.assignment, exc)
        if job.timestamp:
            status["timestamp"] = job.timestamp
        status["parent_seconds"] = round(time.perf_counter() - started, 3)
        records, _ = events.read_from(path, offset)
        timings = []
        for record in records:
            if record.get("kind") == "timing":
                timings.append(record)
            elif (record.get("student"), record.get("assignment")) == (job.student, job.assignment):
                notes.append(record["message"])
        status.update(notes=notes, timings=timings)
        return status

    def _bar(self, total):
        if not self.progress:
            return _NoBar()
        from tqdm import tqdm
        return tqdm(total=total, unit="submission", desc="grading", dynamic_ncols=True, leave=True)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass
