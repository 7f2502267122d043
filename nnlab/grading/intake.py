"""Bring submissions into the course, and set aside what cannot be graded.

Input: a folder or a ``.zip`` in nbgrader's layout ``<student>/<assignment>/<notebook>.ipynb``
(an LMS export, possibly wrapped in one extra top folder). Everything is copied into
``autograder/submitted/`` (unless it already is that folder), then each (student, assignment)
is checked:

- a notebook that is not valid JSON / nbformat is renamed ``*.ipynb.invalid`` and scores 0;
- a notebook handed in under another name is graded as the expected one when that is the only
  candidate;
- a missing notebook scores 0 (nbgrader's own rule).

Each decision becomes a note in the grading log and in the export.
"""

import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field

import nbformat

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
MAX_ZIP_BYTES = 2 * 2**30


class IntakeError(Exception):
    """The submissions cannot be read at all (one line)."""


@dataclass
class Job:
    """One (student, assignment) to grade."""
    student: str
    assignment: str
    notebooks: list = field(default_factory=list)   # notebook names present and readable
    notes: list = field(default_factory=list)
    skip: str = ""                                   # reason not to grade at all


def _safe_extract(archive, dest):
    with zipfile.ZipFile(archive) as zf:
        total = 0
        for info in zf.infolist():
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                raise IntakeError(f"{archive}: unsafe path in zip: {name}")
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise IntakeError(f"{archive}: more than {MAX_ZIP_BYTES >> 30} GiB uncompressed")
        zf.extractall(dest)


def _find_layout_root(folder, assignments):
    """The folder whose children are student folders (descending through wrapper folders)."""
    for _ in range(3):
        entries = [e for e in os.listdir(folder) if not e.startswith((".", "__MACOSX"))]
        students = [e for e in entries if os.path.isdir(os.path.join(folder, e))
                    and any(os.path.isdir(os.path.join(folder, e, a)) for a in assignments)]
        if students:
            return folder
        dirs = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
        if len(dirs) != 1:
            break
        folder = os.path.join(folder, dirs[0])
    return folder


def _copy_tree(src, dest):
    """Copy a submission, leaving out links (they could point anywhere on the grader's disk)."""
    if os.path.exists(dest):
        shutil.rmtree(dest)

    def ignore(directory, names):
        return [n for n in names if os.path.islink(os.path.join(directory, n))]

    shutil.copytree(src, dest, symlinks=False, ignore=ignore)


def _valid_notebook(path):
    """None if ``path`` reads as a notebook, else a one-line reason."""
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first[:200]
    if nb.get("nbformat", 0) < 4:
        return f"nbformat {nb.get('nbformat')} is too old"
    return None


def collect(course, submissions, expected, released):
    """Copy submissions into the course and return the list of :class:`Job`.

    expected: {assignment: [notebook names]} from the gradebook; released: assignment ids.
    """
    submitted = course.step_dir("submitted")
    workdir = None
    try:
        if submissions and os.path.isfile(submissions) and submissions.lower().endswith(".zip"):
            workdir = tempfile.mkdtemp(prefix="nnlab-intake-")
            try:
                _safe_extract(submissions, workdir)
            except zipfile.BadZipFile:
                raise IntakeError(f"{submissions}: not a valid zip file") from None
            source = workdir
        elif submissions:
            if not os.path.isdir(submissions):
                raise IntakeError(f"{submissions}: no such folder or .zip file")
            source = submissions
        else:
            source = submitted
            if not os.path.isdir(source):
                raise IntakeError(f"no submissions: {source} does not exist")
        source = _find_layout_root(os.path.abspath(source), expected.keys() or released)
        in_place = os.path.realpath(source) == os.path.realpath(submitted)

        jobs = []
        for student in sorted(os.listdir(source)):
            student_dir = os.path.join(source, student)
            if student.startswith(".") or not os.path.isdir(student_dir):
                continue
            for assignment in sorted(os.listdir(student_dir)):
                src = os.path.join(student_dir, assignment)
                if assignment.startswith(".") or not os.path.isdir(src):
                    continue
                job = Job(student, assignment)
                jobs.append(job)
                if not STUDENT_ID.match(student):
                    job.skip = f"student id {student!r} has characters nbgrader cannot match"
                    continue
                if assignment not in released:
                    job.skip = f"assignment {assignment!r} is not released (run `nnlab release`)"
                    continue
                dest = os.path.join(submitted, student, assignment)
                if not in_place:
                    _copy_tree(src, dest)
                _check_notebooks(job, dest, expected.get(assignment, []))
        return jobs
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _check_notebooks(job, folder, names):
    """Fill job.notebooks / job.notes; set aside unreadable notebooks, adopt renamed ones."""
    present = sorted(f for f in os.listdir(folder) if f.endswith(".ipynb"))
    for name in present:
        reason = _valid_notebook(os.path.join(folder, name))
        if reason:
            os.replace(os.path.join(folder, name), os.path.join(folder, name + ".invalid"))
            job.notes.append(f"{name} is not a valid notebook ({reason}); scored 0")
    present = sorted(f[:-6] for f in os.listdir(folder) if f.endswith(".ipynb"))
    missing = [n for n in names if n not in present]
    strangers = [n for n in present if n not in names]
    if len(missing) == 1 and len(strangers) == 1:
        os.replace(os.path.join(folder, strangers[0] + ".ipynb"), os.path.join(folder, missing[0] + ".ipynb"))
        job.notes.append(f"{strangers[0]}.ipynb graded as {missing[0]}.ipynb (renamed)")
        present = sorted(set(present) - {strangers[0]} | {missing[0]})
        missing = []
    for name in missing:
        if os.path.exists(os.path.join(folder, name + ".ipynb.invalid")) and not any(
                n.startswith(name + ".ipynb is not a valid") for n in job.notes):
            job.notes.append(f"{name}.ipynb is not a valid notebook (set aside as .invalid); scored 0")
        elif not any(n.startswith(name + ".ipynb is not a valid") for n in job.notes):
            job.notes.append(f"{name}.ipynb is missing; scored 0")
    for name in strangers:
        if name in present:
            job.notes.append(f"{name}.ipynb is not part of the assignment; ignored")
    job.notebooks = [n for n in names if n in present]
