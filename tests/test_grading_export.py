"""The grade sheet and the intake on their own, without running a notebook: spreadsheet-safe
cells, failure reasons in plain words, zip entries and special files refused one by one,
lateness from what the student cannot write."""

import csv
import datetime
import json
import os
import struct
import zipfile

import pytest

from nnlab.grading import intake
from nnlab.grading.course import Course
from nnlab.grading.export import save_status, spreadsheet_safe, write_csv
from nnlab.grading.parallel import _reason

ONE = "01_jacobians"
EXPECTED = {ONE: [ONE]}


@pytest.mark.parametrize("text,cell", [
    ("=1+2", "'=1+2"),
    ("+SUM(A1)", "'+SUM(A1)"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "' =1"),
    ("\r=1", "' =1"),
    ("  =1", "'  =1"),
    ("a,=1", "a,'=1"),
    ("a; -1", "a; '-1"),
    ('say "=cmd"', "say \"'=cmd\""),
    ("line\n=2", "line =2"),
    ("plain_id", "plain_id"),
    ("01_jacobians.ipynb is missing; scored 0", "01_jacobians.ipynb is missing; scored 0"),
])
def test_spreadsheet_safe(text, cell):
    assert spreadsheet_safe(text) == cell


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "autograder"
    root.mkdir()
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.Intake.max_file_bytes = 100_000\n")
    return Course(str(root))


def test_export_escapes_every_student_controlled_cell(course, tmp_path):
    save_status(course.root, {
        ("=HYPERLINK(\"evil.example\")", ONE): {"status": "skipped", "reason": "student id not plain"},
        ("bob", "@SUM(1)"): {"status": "skipped", "reason": "-not released"},
        ("carol", ONE): {"status": "zero", "reason": "", "notes": ["+cmd.ipynb is not a valid notebook"]},
    })
    path = tmp_path / "grades.csv"
    write_csv(course, str(path))
    with open(path, newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    assert "'=HYPERLINK(\"evil.example\")" in cells and "'@SUM(1)" in cells and "'-not released" in cells
    assert "'+cmd.ipynb is not a valid notebook" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def test_failure_reason_is_the_exception_not_the_traceback_header():
    def traceback_of(exc):
        import traceback
        try:
            raise exc
        except Exception:
            return traceback.format_exc()

    tb = traceback_of(KeyError("grade_id"))
    captured = "[ERROR] There was an error processing assignment\n[ERROR] " + tb.replace("\n", "\n    ")
    generic = traceback_of(RuntimeError("x")).replace("RuntimeError: x", "nbgrader.converters.base.NbGraderException: "
                                                      "Please see the the above traceback for details")
    reason = _reason({"log": captured, "error": generic})
    assert reason == "the grader stopped on this submission: KeyError: 'grade_id'"
    assert "Traceback" not in _reason({"log": "[ERROR] Traceback (most recent call last):", "error": generic})


# --- intake -----------------------------------------------------------------------------------------

def notebook(cells=1):
    """A valid nbformat 4.5 notebook of ``cells`` one-letter markdown cells, compact JSON."""
    nb = {"cells": [{"cell_type": "markdown", "id": f"cell-{i}", "metadata": {}, "source": "a"}
                    for i in range(cells)],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, separators=(",", ":")).encode()


def set_header(path, name, **fields):
    """Rewrite fields of one entry in both its local header and the central directory."""
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    data = bytearray(open(path, "rb").read())
    central = data.find(b"PK\x01\x02")
    while data[central + 46:central + 46 + struct.unpack_from("<H", data, central + 28)[0]].decode() != name:
        central = data.find(b"PK\x01\x02", central + 4)
    at = {"flags": (6, 8, "<H"), "method": (8, 10, "<H"), "crc": (14, 16, "<I"), "size": (22, 24, "<I")}
    for key, value in fields.items():
        struct.pack_into(at[key][2], data, local + at[key][0], value)
        struct.pack_into(at[key][2], data, central + at[key][1], value)
    open(path, "wb").write(data)


def collect(course, source, **kw):
    general = []
    jobs = intake.collect(course, str(source), EXPECTED, set(EXPECTED), general=general, **kw)
    return {(j.student, j.assignment): j for j in jobs}, general


def test_each_bad_zip_entry_is_refused_alone(course, tmp_path):
    path = str(tmp_path / "export.zip")
    nb = f"{ONE}/{ONE}.ipynb"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in ("ok", "enc", "d64", "crc", "short", "long", "clash"):
            zf.writestr(f"{student}/{nb}", notebook(3))
        zf.writestr(f"clash/{ONE}/{ONE}.ipynb/inner", b"x")
        zf.writestr("ok/01_jacobians/../../../outside.txt", b"x")
        zf.writestr("../outside.txt", b"x")
        zf.writestr(f"bomb/{ONE}/zeros.bin", bytes(5_000_000))
    set_header(path, f"enc/{nb}", flags=1)
    set_header(path, f"d64/{nb}", method=9)
    set_header(path, f"crc/{nb}", crc=0xDEADBEEF)
    size = len(notebook(3))
    set_header(path, f"short/{nb}", size=size // 2)
    set_header(path, f"long/{nb}", size=size * 3)
    jobs, general = collect(course, path)
    assert jobs[("ok", ONE)].notebooks == [ONE]
    assert jobs[("clash", ONE)].notebooks == [ONE]
    notes = {s: " ".join(jobs[(s, ONE)].notes) for s, _ in jobs}
    assert "encrypted" in notes["enc"] and "deflate64" in notes["d64"]
    assert "checksum does not match" in notes["crc"]
    assert "damaged" in notes["short"] and "damaged" in notes["long"]
    assert "share this name" in notes["clash"]
    assert "path leads outside its folder" in notes["ok"]
    assert "zeros.bin" in notes["bomb"] and "limit per file" in notes["bomb"]
    for student in ("enc", "d64", "crc", "short", "long"):
        assert jobs[(student, ONE)].notebooks == [] and "missing; scored 0" in notes[student]
    assert any("../outside.txt" in g for g in general)
    assert not (tmp_path / "outside.txt").exists() and not os.path.exists(os.path.join(course.root, "outside.txt"))
    assert not os.path.exists(os.path.join(course.step_dir("submitted"), "bomb", ONE, "zeros.bin"))


def test_special_files_are_left_out_unopened(course, tmp_path):
    folder = tmp_path / "class" / "ann" / ONE
    folder.mkdir(parents=True)
    os.mkfifo(folder / f"{ONE}.ipynb")
    os.mkfifo(folder / "data.csv")
    (folder / "link.txt").symlink_to("/etc/passwd")
    jobs, _ = collect(course, tmp_path / "class")
    notes = " ".join(jobs[("ann", ONE)].notes)
    assert f"{ONE}.ipynb is a named pipe; left out" in notes and "data.csv is a named pipe" in notes
    assert "link.txt is a link" in notes and jobs[("ann", ONE)].notebooks == []


def test_special_files_in_the_submitted_folder_itself_are_removed(course):
    folder = os.path.join(course.step_dir("submitted"), "ann", ONE)
    os.makedirs(folder)
    os.mkfifo(os.path.join(folder, f"{ONE}.ipynb"))
    jobs, _ = collect(course, "")
    assert "is a named pipe; removed" in " ".join(jobs[("ann", ONE)].notes)
    assert not os.path.lexists(os.path.join(folder, f"{ONE}.ipynb"))


def test_oversized_notebooks_are_refused_before_parsing(course, tmp_path):
    for student, data in (("cells", notebook(50_000)), ("bytes", b" " * 6_000_000 + notebook(1))):
        folder = tmp_path / "class" / student / ONE
        folder.mkdir(parents=True)
        (folder / f"{ONE}.ipynb").write_bytes(data)
    course.config.Intake.max_file_bytes = 10_000_000
    jobs, _ = collect(course, tmp_path / "class")
    assert "50000 cells, more than the 2000 limit" in " ".join(jobs[("cells", ONE)].notes)
    assert "more than the 5 MB limit" in " ".join(jobs[("bytes", ONE)].notes)
    assert all(j.notebooks == [] for j in jobs.values())


def test_student_timestamp_is_replaced_by_the_collection_time(course, tmp_path):
    folder = tmp_path / "class" / "eve" / ONE
    folder.mkdir(parents=True)
    (folder / f"{ONE}.ipynb").write_bytes(notebook())
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:00 UTC")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"eve/{ONE}/{path.name}")
    collected = datetime.datetime(2030, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc).timestamp()
    os.utime(archive, (collected, collected))
    jobs, _ = collect(course, archive)
    job = jobs[("eve", ONE)]
    assert job.timestamp.startswith("2030-05-06T07:08:09")
    assert any("timestamp.txt in the hand-in ignored" in n for n in job.notes)
    written = os.path.join(course.step_dir("submitted"), "eve", ONE, "timestamp.txt")
    assert open(written).read() == job.timestamp
    # graded again from the course's own folder: the timestamp we wrote is not the student's
    jobs, _ = collect(course, "")
    assert jobs[("eve", ONE)].timestamp == job.timestamp
    assert not any("timestamp.txt" in n for n in jobs[("eve", ONE)].notes)
    # an LMS export overrides the time of collection
    lms = tmp_path / "lms.csv"
    lms.write_text("student_id,timestamp\neve,2030-01-01 10:00:00\n")
    jobs, _ = collect(course, "", timestamps=str(lms))
    assert jobs[("eve", ONE)].timestamp.startswith("2030-01-01T10:00:00")
    with open(os.path.join(course.state_dir, "collected.json")) as fh:
        assert json.load(fh)[f"eve/{ONE}"]["source"] == "LMS"
    # a later regrade without the file keeps the LMS time of this same hand-in
    jobs, _ = collect(course, "")
    assert jobs[("eve", ONE)].timestamp.startswith("2030-01-01T10:00:00")
    # a changed hand-in is a new collection
    with open(os.path.join(course.step_dir("submitted"), "eve", ONE, f"{ONE}.ipynb"), "wb") as fh:
        fh.write(notebook(2))
    jobs, _ = collect(course, "")
    assert not jobs[("eve", ONE)].timestamp.startswith("2030-01-01")


def test_a_bad_timestamps_file_is_one_clear_error(course, tmp_path):
    lms = tmp_path / "lms.csv"
    lms.write_text("student,when\neve,yesterday\n")
    with pytest.raises(intake.IntakeError, match="needs the columns student_id,timestamp"):
        intake.read_timestamps(str(lms))
    lms.write_text("student_id,timestamp\neve,not a date\n")
    with pytest.raises(intake.IntakeError, match="line 2: cannot read the timestamp"):
        intake.read_timestamps(str(lms))


def test_odd_folder_names_and_depths_cost_only_their_own_row(course, tmp_path):
    folder = tmp_path / "class"
    (folder / "fine" / ONE).mkdir(parents=True)
    (folder / "fine" / ONE / f"{ONE}.ipynb").write_bytes(notebook())
    os.makedirs(os.fsencode(folder) + b"/\xff=bad/" + ONE.encode())
    chain = [os.path.join(folder, "deep", ONE)]
    os.makedirs(chain[0])
    for _ in range(1100):   # deeper than Python's recursion limit; os.makedirs itself cannot
        chain.append(os.path.join(chain[-1], "a"))
        os.mkdir(chain[-1])
    try:
        jobs, _ = collect(course, folder)
    finally:
        for level in reversed(chain[1:]):
            os.rmdir(level)
        copied = [os.path.join(course.step_dir("submitted"), "deep", ONE)]
        while os.path.isdir(os.path.join(copied[-1], "a")):
            copied.append(os.path.join(copied[-1], "a"))
        for level in reversed(copied[1:]):
            os.rmdir(level)
    assert jobs[("fine", ONE)].notebooks == [ONE]
    odd = next(j for (s, _), j in jobs.items() if s.endswith("=bad"))
    assert "not a plain identifier" in odd.skip
    assert "RecursionError" in jobs[("deep", ONE)].skip or jobs[("deep", ONE)].notebooks == []
    save_status(course.root, {(j.student, j.assignment): {"status": "skipped", "reason": j.skip}
                              for j in jobs.values() if j.skip})
    path = tmp_path / "grades.csv"
    write_csv(course, str(path))
    assert "\\udcff=bad" in path.read_text(encoding="utf-8")
