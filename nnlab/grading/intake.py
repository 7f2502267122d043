"""Bring submissions into the course, and set aside what cannot be graded.

Input: a folder or a ``.zip`` in nbgrader's layout ``<student>/<assignment>/<notebook>.ipynb``
(an LMS export, possibly wrapped in one extra top folder). Everything is copied into
``autograder/submitted/`` (unless it already is that folder), then each (student, assignment)
is checked. Nothing a student hands in can stop the batch: every problem becomes a reason on
that student's row, and the others are graded.

- Zip entries are read one by one. An entry is refused, alone, when it is encrypted, uses a
  compression method Python cannot read (deflate64, say), fails its checksum, is larger than
  its header says or than the size bound (counted while decompressing), points outside its
  folder, is a link or special file, or clashes with a folder of the same name.
- From a folder, only plain files and folders are copied; links and special files (named
  pipes, devices, sockets) are left out without being opened.
- A notebook larger than ``Intake.max_notebook_bytes`` or with more than
  ``Intake.max_notebook_cells`` cells is set aside before it is parsed as a notebook.
- A notebook that is not valid JSON / nbformat is renamed ``*.ipynb.invalid`` and scores 0;
  a notebook handed in under another name is graded as the expected one when it is the only
  candidate; a missing notebook scores 0 (nbgrader's own rule).
- Lateness: a ``timestamp.txt`` written by the student is ignored. The submission time nbgrader
  sees is the one from the LMS (``--timestamps FILE.csv``, remembered for that content when a
  later run has none), else the time of collection: the zip file's modification time on the
  instructor's disk, or, for a folder, the moment ``nnlab grade`` first saw this content. Both
  are kept in ``.grading/collected.json``.

Each decision becomes a note in the grading log and in the export.
"""

import csv
import datetime
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field

import nbformat
from traitlets import Int
from traitlets.config import Configurable

from .events import STATE_DIR

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
COLLECTED_FILE = "collected.json"
TIMESTAMP = "timestamp.txt"
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                    zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
METHOD_NAMES = {9: "deflate64", 10: "PKWARE imploding", 6: "imploding", 98: "PPMd", 99: "AES encryption",
                93: "zstandard", 95: "xz"}
CHUNK = 1 << 20


class IntakeError(Exception):
    """The submissions cannot be read at all (one line)."""


class Intake(Configurable):
    """Bounds on what a hand-in may hold (``c.Intake.*`` in nbgrader_config.py)."""

    max_notebook_bytes = Int(5 * 2**20, help="a larger notebook is set aside unread").tag(config=True)
    max_notebook_cells = Int(2000, help="a notebook with more cells is set aside").tag(config=True)
    max_file_bytes = Int(100 * 2**20, help="a larger file in a hand-in is left out").tag(config=True)
    max_total_bytes = Int(2 * 2**30, help="bound on everything read from one zip").tag(config=True)


@dataclass
class Job:
    """One (student, assignment) to grade."""
    student: str
    assignment: str
    notebooks: list = field(default_factory=list)   # notebook names present and readable
    notes: list = field(default_factory=list)
    skip: str = ""                                   # reason not to grade at all
    timestamp: str = ""                              # trusted submission time, ISO 8601 UTC


def _mb(n):
    return f"{n / 2**20:.3g} MB"


# --- zip ------------------------------------------------------------------------------------------

def _entry_parts(name):
    """The path of a zip entry as folder names, or (parts, reason) when it is unsafe."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith(("/", "\\")) or (parts and re.match(r"^[A-Za-z]:", parts[0])):
        return parts, "absolute path"
    if ".." in parts:
        return parts[:parts.index("..")], "path leads outside its folder"
    if any("\0" in p for p in parts):
        return parts, "NUL in the name"
    return parts, None


def _entry_problem(info, limits):
    """Why an entry is refused before it is read (None when it may be read)."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if info.flag_bits & 0x1:
        return "encrypted (password-protected)"
    if info.compress_type not in READABLE_METHODS:
        method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return f"compressed with {method}, which cannot be read (re-zip it with plain deflate)"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "a link or special file"
    if info.file_size > limits.max_file_bytes:
        return f"declares {_mb(info.file_size)}, more than the {_mb(limits.max_file_bytes)} limit per file"
    return None


def _read_problem(exc):
    text = str(exc)
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in text:
        return "damaged: its checksum does not match its content"
    if isinstance(exc, (EOFError, zipfile.BadZipFile)):
        return f"damaged: its content does not match its header ({text or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.errno in (errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
        return "a file and a folder in the hand-in share this name"
    return f"cannot be read ({type(exc).__name__}: {text.splitlines()[0] if text else ''})".replace(": )", ")")


class _TooLarge(Exception):
    pass


def _copy_bounded(src, dst, limit):
    """Copy a stream, stopping as soon as more than ``limit`` bytes come out; returns the size."""
    size = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            return size
        size += len(chunk)
        if size > limit:
            raise _TooLarge(size)
        dst.write(chunk)


def _extract_zip(archive, dest, limits):
    """Extract entry by entry; returns [(entry path parts, reason)] for the refused entries."""
    refused = []
    total = 0
    with zipfile.ZipFile(archive) as zf:
        seen = set()
        for info in zf.infolist():
            parts, reason = _entry_parts(info.filename)
            if not parts:
                if reason:
                    refused.append((parts, f"{info.filename!r}: {reason}"))
                continue
            label = info.filename if reason else "/".join(parts)
            reason = reason or _entry_problem(info, limits)
            if not reason and label in seen:
                reason = "appears twice in the archive; the first copy is kept"
            if not reason and total >= limits.max_total_bytes:
                reason = f"the archive holds more than {_mb(limits.max_total_bytes)} in all"
            target = os.path.join(dest, *parts)
            if not reason:
                try:
                    if info.is_dir():
                        os.makedirs(target, exist_ok=True)
                        if not os.path.isdir(target) or os.path.islink(target):
                            raise FileExistsError(errno.EEXIST, "exists", target)
                    else:
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        if os.path.lexists(target):
                            raise IsADirectoryError(errno.EISDIR, "exists", target)
                        limit = min(limits.max_file_bytes, limits.max_total_bytes - total)
                        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".nnlab-part-")
                        try:
                            with zf.open(info) as src, os.fdopen(fd, "wb") as out:
                                size = _copy_bounded(src, out, limit)
                            total += size
                            if size != info.file_size:
                                raise zipfile.BadZipFile(f"its header says {info.file_size} bytes, "
                                                         f"it holds {size}")
                            os.replace(tmp, target)
                        finally:
                            if os.path.exists(tmp):
                                os.remove(tmp)
                    seen.add(label)
                except _TooLarge:
                    total += limit
                    reason = (f"larger than the {_mb(limit)} limit when decompressed"
                              + ("" if limit == limits.max_file_bytes else " (bound on the whole archive)"))
                except Exception as exc:  # one entry, whatever zipfile or the disk raise
                    reason = _read_problem(exc)
            if reason:
                refused.append((parts, f"{label}: {reason}; left out"))
    return refused


# --- folders ------------------------------------------------------------------------------------

def _copy_plain(src, dest, limits, notes, rel=""):
    """Copy plain files and folders only; never open links or special files."""
    os.makedirs(dest, exist_ok=True)
    with os.scandir(src) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            label = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                notes.append(f"{label} is a link; left out")
            elif stat.S_ISDIR(st.st_mode):
                _copy_plain(entry.path, os.path.join(dest, entry.name), limits, notes, label + "/")
            elif not stat.S_ISREG(st.st_mode):
                notes.append(f"{label} is {_special(st.st_mode)}; left out")
            elif st.st_size > limits.max_file_bytes:
                notes.append(f"{label} is {_mb(st.st_size)}, more than the {_mb(limits.max_file_bytes)} "
                             f"limit per file; left out")
            else:
                _copy_regular(entry.path, os.path.join(dest, entry.name), limits.max_file_bytes)


def _copy_regular(src, dst, limit):
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fin:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            raise OSError(f"{src} changed while it was copied")
        with open(dst, "wb") as fout:
            _copy_bounded(fin, fout, limit)


def _special(mode):
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


def _tidy_in_place(folder, notes, rel=""):
    """In autograder/submitted itself: remove links and special files (never opened)."""
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            label = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                _tidy_in_place(entry.path, notes, label + "/")
            elif stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
                os.remove(entry.path)
                what = "a link" if stat.S_ISLNK(st.st_mode) else _special(st.st_mode)
                notes.append(f"{label} is {what}; removed")


def _find_layout_root(folder, assignments):
    """The folder whose children are student folders (descending through wrapper folders)."""
    for _ in range(3):
        entries = [e for e in os.listdir(folder) if not e.startswith((".", "__MACOSX"))]
        students = [e for e in entries if _is_dir(os.path.join(folder, e))
                    and any(_is_dir(os.path.join(folder, e, a)) for a in assignments)]
        if students:
            return folder
        dirs = [e for e in entries if _is_dir(os.path.join(folder, e))]
        if len(dirs) != 1:
            break
        folder = os.path.join(folder, dirs[0])
    return folder


def _is_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


# --- notebooks ------------------------------------------------------------------------------------

def _notebook_problem(path, limits):
    """None if ``path`` is a plain file that reads as a notebook within the bounds, else a reason."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a plain file"
    if st.st_size > limits.max_notebook_bytes:
        return f"{_mb(st.st_size)}, more than the {_mb(limits.max_notebook_bytes)} limit"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limits.max_notebook_bytes + 1)
        if len(data) > limits.max_notebook_bytes:
            return f"more than the {_mb(limits.max_notebook_bytes)} limit"
        raw = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first[:200]
    if not isinstance(raw, dict):
        return "not a notebook (the JSON is not an object)"
    cells = raw.get("cells")
    if isinstance(cells, list) and len(cells) > limits.max_notebook_cells:
        return f"{len(cells)} cells, more than the {limits.max_notebook_cells} limit"
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first[:200]
    if nb.get("nbformat", 0) < 4:
        return f"nbformat {nb.get('nbformat')} is too old"
    return None


def _check_notebooks(job, folder, names, limits):
    """Fill job.notebooks / job.notes; set aside unreadable notebooks, adopt renamed ones."""
    present = sorted(f for f in os.listdir(folder) if f.endswith(".ipynb"))
    for name in present:
        path = os.path.join(folder, name)
        reason = _notebook_problem(path, limits)
        if reason:
            if _is_dir(path):
                shutil.rmtree(path)
            else:
                os.replace(path, path + ".invalid")
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


# --- lateness -------------------------------------------------------------------------------------

def read_timestamps(path):
    """An LMS export: {student_id: datetime} or {(student_id, assignment): datetime}.

    Columns ``student_id,timestamp`` (an optional ``assignment`` column restricts a row to one
    assignment). A timestamp without a time zone is taken as UTC.
    """
    from nbgrader.utils import parse_utc
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or [])
            if not {"student_id", "timestamp"} <= columns:
                raise IntakeError(f"{path}: needs the columns student_id,timestamp "
                                  f"(found: {', '.join(sorted(columns)) or 'none'})")
            found = {}
            for number, row in enumerate(reader, start=2):
                try:
                    when = parse_utc(row["timestamp"].strip())
                except Exception:
                    raise IntakeError(f"{path}, line {number}: cannot read the timestamp "
                                      f"{row['timestamp']!r}") from None
                key = row["student_id"].strip()
                if row.get("assignment"):
                    key = (key, row["assignment"].strip())
                found[key] = when
            return found
    except OSError as exc:
        raise IntakeError(f"{path}: {exc.strerror}") from None


def _digest(folder):
    """A hash of the hand-in's file contents (names left out: intake renames files)."""
    hashes = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            if name == TIMESTAMP and dirpath == folder:
                continue
            h = hashlib.sha256()
            with open(os.path.join(dirpath, name), "rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    h.update(chunk)
            hashes.append(h.hexdigest())
    return hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()


def _iso(when):
    """A naive UTC datetime as ISO 8601 with its offset (what nbgrader's parse_utc reads)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


class Collected:
    """``.grading/collected.json``: when each hand-in was first seen, and the timestamp we wrote."""

    def __init__(self, root):
        self.path = os.path.join(root, STATE_DIR, COLLECTED_FILE)
        try:
            with open(self.path, encoding="utf-8") as fh:
                self.data = json.load(fh)
        except (OSError, ValueError):
            self.data = {}

    def save(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
        os.replace(self.path + ".tmp", self.path)


def _stamp(job, folder, collected, lms, lms_name, collected_at):
    """Replace any timestamp.txt by the trusted time; note a student-written one."""
    key = f"{job.student}/{job.assignment}"
    entry = collected.data.get(key, {})
    path = os.path.join(folder, TIMESTAMP)
    if os.path.lexists(path):
        written = None
        if _is_regular(path) and os.path.getsize(path) < 1000:
            with open(path, encoding="utf-8", errors="replace") as fh:
                written = fh.read()
        if written is None or written != entry.get("written"):
            job.notes.append("timestamp.txt in the hand-in ignored (written by the student; "
                             "lateness is taken from the " + ("LMS timestamps" if lms is not None
                                                              else "time of collection") + ")")
        shutil.rmtree(path) if _is_dir(path) else os.remove(path)
    digest = _digest(folder)
    if entry.get("digest") != digest or "collected" not in entry:
        entry = {"digest": digest, "collected": _iso(collected_at)}
    when, source = entry["collected"], "collection"
    if lms is not None:
        found = lms.get((job.student, job.assignment), lms.get(job.student))
        if found is None:
            job.notes.append(f"no timestamp for {job.student} in {lms_name}; time of collection used")
            entry.pop("lms", None)
        else:
            entry["lms"] = _iso(found)
    if entry.get("lms"):   # given now, or with an earlier --timestamps for this same content
        when, source = entry["lms"], "LMS"
    entry["written"] = when
    entry["source"] = source
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(when)
    job.timestamp = when
    collected.data[key] = entry


def _is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


# --- the whole intake -----------------------------------------------------------------------------

def collect(course, submissions, expected, released, timestamps=None, general=None):
    """Copy submissions into the course and return the list of :class:`Job`.

    expected: {assignment: [notebook names]} from the gradebook; released: assignment ids;
    timestamps: an LMS export (see :func:`read_timestamps`) or None; general: a list that
    receives notes that belong to no one submission (a refused top-level zip entry, say).
    """
    limits = Intake(config=course.config)
    general = [] if general is None else general
    lms = read_timestamps(timestamps) if timestamps else None
    submitted = course.step_dir("submitted")
    workdir = None
    refused = []
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    collected_at = now
    try:
        if submissions and os.path.isfile(submissions) and submissions.lower().endswith(".zip"):
            workdir = tempfile.mkdtemp(prefix="nnlab-intake-")
            try:
                refused = _extract_zip(submissions, workdir, limits)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise IntakeError(f"{submissions}: not a readable zip file ({exc})") from None
            collected_at = datetime.datetime.fromtimestamp(os.stat(submissions).st_mtime,
                                                           datetime.timezone.utc).replace(tzinfo=None)
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

        # A refused entry belongs to the submission whose folder it is in.
        by_job = {}
        prefix = os.path.relpath(source, workdir).split(os.sep) if workdir else []
        prefix = [p for p in prefix if p != "."]
        for parts, reason in refused:
            rel = parts[len(prefix):] if parts[:len(prefix)] == prefix else None
            if rel is not None and len(rel) >= 2:
                by_job.setdefault((rel[0], rel[1]), []).append(reason)
                folder = os.path.join(source, rel[0], rel[1])
                if not os.path.lexists(folder):
                    os.makedirs(folder, exist_ok=True)
            else:
                general.append(reason)

        collected = Collected(course.root)
        jobs = []
        for student in sorted(os.listdir(source)):
            student_dir = os.path.join(source, student)
            if student.startswith(".") or not _is_dir(student_dir):
                continue
            try:
                assignments = sorted(os.listdir(student_dir))
            except OSError as exc:
                jobs.append(Job(student, "", skip=f"the student's folder cannot be read ({exc.strerror}); not graded"))
                continue
            for assignment in assignments:
                src = os.path.join(student_dir, assignment)
                if assignment.startswith(".") or not _is_dir(src):
                    continue
                job = Job(student, assignment, notes=[f"zip entry {r}" for r in by_job.get((student, assignment), [])])
                jobs.append(job)
                if not STUDENT_ID.match(student):
                    job.skip = (f"student id {student!r} is not a plain identifier "
                                f"(letters, digits, and _ . @ + - after the first character); not graded")
                    continue
                if assignment not in released:
                    job.skip = f"assignment {assignment!r} is not released (run `nnlab release`); not graded"
                    continue
                dest = os.path.join(submitted, student, assignment)
                try:
                    if in_place:
                        _tidy_in_place(dest, job.notes)
                    else:
                        if os.path.lexists(dest):
                            shutil.rmtree(dest) if _is_dir(dest) else os.remove(dest)
                        _copy_plain(src, dest, limits, job.notes)
                    _stamp(job, dest, collected, lms, os.path.basename(timestamps or ""), collected_at)
                    _check_notebooks(job, dest, expected.get(assignment, []), limits)
                except Exception as exc:  # this hand-in only, whatever is wrong with it
                    problem = _read_problem(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
                    job.skip = f"the hand-in could not be copied ({problem}); not graded"
        collected.save()
        return jobs
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
