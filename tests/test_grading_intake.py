"""Hand-ins that try to break the batch, forge their lateness or outlive a crash, through the real
`nnlab grade` on a temporary copy of the course (lesson 01 released).

Every broken hand-in must cost only itself: the other students are graded, and the broken one
gets a reason on its row of the grade sheet.
"""

import csv
import datetime
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest
from nbgrader.api import Gradebook

from nnlab.grading import synthetic
from nnlab.grading.export import gradebook_rows

from grading_support import REPO

ONE = "01_jacobians"
DUE = datetime.datetime(2100, 1, 1)  # far ahead: only the lateness tests are late

# Short limits; a late hand-in scores 0; a file flag makes the autograde of one student fail.
TEST_CONFIG = f"""
c.Execute.timeout = 20
c.SandboxedExecute.notebook_timeout = 120
c.Intake.max_file_bytes = 4_000_000
c.LateSubmissionPlugin.penalty_method = "zero"

import os as _os
from nbgrader.preprocessors import NbGraderPreprocessor as _Step


class FailWhenFlagged(_Step):
    '''Stands in for a reply that makes the grader raise: fails while the flag file exists.'''

    def preprocess(self, nb, resources):
        if _os.path.exists(_os.path.join({{course!r}}, "fail-" + resources["nbgrader"]["student"])):
            raise RuntimeError("the reply of check_exercise could not be decoded")
        return nb, resources


c.Autograde.autograde_preprocessors = [FailWhenFlagged] + list(c.Autograde.autograde_preprocessors)
"""

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "notebooks", ONE, ONE + ".ipynb")),
                                reason="lesson master missing")


def run(*args, course, timeout=600, check=False):
    done = subprocess.run([sys.executable, "-m", "nnlab.grading.cli", *args, "--course", course],
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"nnlab {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("intake"))
    shutil.copytree(os.path.join(REPO, "notebooks"), os.path.join(root, "notebooks"),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    course = os.path.join(root, "autograder")
    os.makedirs(course)
    with open(os.path.join(REPO, "autograder", "nbgrader_config.py")) as src, \
            open(os.path.join(course, "nbgrader_config.py"), "w") as dst:
        dst.write(src.read() + TEST_CONFIG.replace("{course!r}", repr(course)))
    run("release", ONE, course=course, check=True)
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        gb.update_or_create_assignment(ONE, duedate=DUE)
    master = synthetic.read_notebook(os.path.join(root, "notebooks"), ONE)
    release = synthetic.read_notebook(os.path.join(course, "release"), ONE)
    return {"root": root, "course": course, "correct": synthetic.correct(master, release)}


def export(course):
    path = os.path.join(os.path.dirname(course), "grades.csv")
    run("export", path, course=course, check=True)
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def rows_by_student(course):
    return {r["student_id"]: r for r in export(course) if r["assignment"] == ONE}


def notebook_bytes(nb):
    return nbformat.writes(nb).encode()


# --- zip surgery: the damage LMS exports and students' tools produce --------------------------------

def patch_entry(path, name, *, flags=None, method=None, crc=None, size=None):
    """Rewrite header fields of one entry, in its local header and in the central directory."""
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(name).header_offset
    data = bytearray(open(path, "rb").read())
    assert data[offset:offset + 4] == b"PK\x03\x04"
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + length].decode() == name:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central >= 0, name
    for field, (local_at, central_at, fmt) in {"flags": (6, 8, "<H"), "method": (8, 10, "<H"),
                                               "crc": (14, 16, "<I"), "size": (22, 24, "<I")}.items():
        value = {"flags": flags, "method": method, "crc": crc, "size": size}[field]
        if value is not None:
            struct.pack_into(fmt, data, offset + local_at, value)
            struct.pack_into(fmt, data, central + central_at, value)
    with open(path, "wb") as fh:
        fh.write(data)


def broken_zip(path, correct):
    """One class in one zip: a good student, and one student per kind of damage."""
    good = notebook_bytes(correct)
    many_cells = {"cells": [{"cell_type": "markdown", "id": f"cell-{i}", "metadata": {}, "source": "a"}
                            for i in range(50_000)],
                  "metadata": dict(correct.metadata), "nbformat": 4, "nbformat_minor": 5}
    nb = f"{ONE}/{ONE}.ipynb"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in ("good", "encrypted", "deflate64", "bad_crc", "lying_size", "lying_size_up", "clash",
                        "traversal"):
            zf.writestr(f"export/{student}/{nb}", good)
        zf.writestr("export/clash/01_jacobians/data", b"a file")
        zf.writestr("export/clash/01_jacobians/data/inner.txt", b"a file in a folder of the same name")
        zf.writestr("export/traversal/01_jacobians/../../../escaped.txt", b"out of the folder")
        zf.writestr("export/big_file/01_jacobians/zeros.bin", bytes(5_000_000))
        zf.writestr(f"export/big_file/{nb}", good)
        zf.writestr(f"export/many_cells/{nb}", json.dumps(many_cells, separators=(",", ":")))
        zf.writestr(f'export/=HYPERLINK("evil.example")/{nb}', good)
        zf.writestr("export/formula_assignment/=1+2/x.ipynb", good)
        zf.writestr(f"export/formula_notebook/{ONE}/=cmd|'calc'!A0.ipynb", good)
    patch_entry(path, f"export/encrypted/{nb}", flags=0x1)
    patch_entry(path, f"export/deflate64/{nb}", method=9)
    patch_entry(path, f"export/bad_crc/{nb}", crc=0x12345678)
    patch_entry(path, f"export/lying_size/{nb}", size=len(good) // 2)
    patch_entry(path, f"export/lying_size_up/{nb}", size=len(good) * 3)


@pytest.fixture(scope="module")
def broken_class(course, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("lms") / "export.zip")
    broken_zip(path, course["correct"])
    done = run("grade", path, "-j", "2", "--no-progress", course=course["course"])
    return {"done": done, "rows": rows_by_student(course["course"]),
            "raw": open(os.path.join(os.path.dirname(course["course"]), "grades.csv"), encoding="utf-8").read()}


def test_damaged_zip_entries_do_not_stop_the_class(broken_class):
    done = broken_class["done"]
    assert done.returncode == 0 and "nnlab: error" not in done.stderr, done.stderr
    rows = broken_class["rows"]
    assert (rows["good"]["status"], rows["good"]["score"], rows["good"]["max_score"]) == ("graded", "2", "2")


@pytest.mark.parametrize("student,words", [
    ("encrypted", "encrypted"),
    ("deflate64", "deflate64"),
    ("bad_crc", "checksum does not match"),
    ("lying_size", "damaged"),
    ("lying_size_up", "damaged"),
])
def test_unreadable_zip_entry_is_refused_with_a_reason(broken_class, student, words):
    r = broken_class["rows"][student]
    assert (r["status"], r["score"]) == ("zero", "0"), r
    assert f"{student}/{ONE}/{ONE}.ipynb" in r["reason"] and words in r["reason"], r["reason"]
    assert "missing; scored 0" in r["reason"]


def test_name_clash_refuses_the_entry_not_the_student(broken_class):
    r = broken_class["rows"]["clash"]
    assert (r["status"], r["score"]) == ("graded", "2"), r
    assert "a file and a folder in the hand-in share this name" in r["reason"]


def test_path_out_of_the_folder_is_refused(broken_class, course):
    r = broken_class["rows"]["traversal"]
    assert (r["status"], r["score"]) == ("graded", "2") and "path leads outside its folder" in r["reason"]
    assert not any("escaped.txt" in files for _, _, files in os.walk(course["root"]))


def test_oversized_file_is_left_out_while_decompressing(broken_class):
    r = broken_class["rows"]["big_file"]
    assert (r["status"], r["score"]) == ("graded", "2")
    assert "zeros.bin" in r["reason"] and "limit per file" in r["reason"]


def test_notebook_with_too_many_cells_is_refused_before_grading(broken_class, course):
    r = broken_class["rows"]["many_cells"]
    assert (r["status"], r["score"]) == ("zero", "0")
    assert "50000 cells, more than the 2000 limit" in r["reason"]
    assert not os.path.exists(os.path.join(course["course"], "autograded", "many_cells"))


def test_formula_names_are_data_not_formulas(broken_class):
    rows = broken_class["rows"]
    evil = rows["'=HYPERLINK(\"evil.example\")"]
    assert evil["status"] == "skipped" and "not a plain identifier" in evil["reason"]
    assignment = next(r for r in export_rows(broken_class) if r["student_id"] == "formula_assignment")
    assert assignment["assignment"] == "'=1+2" and assignment["status"] == "skipped"
    renamed = rows["formula_notebook"]
    assert renamed["score"] == "2" and renamed["reason"].startswith("'=cmd|'calc'!A0.ipynb graded as")
    for line in broken_class["raw"].splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), line


def export_rows(broken_class):
    return list(csv.DictReader(broken_class["raw"].splitlines()))


def test_special_files_in_a_folder_hand_in_are_never_opened(course, tmp_path):
    folder = tmp_path / "class"
    for student in ("pipe_notebook", "pipe_extra", "steady"):
        synthetic.write(str(folder), student, ONE, course["correct"])
    os.remove(folder / "pipe_notebook" / ONE / (ONE + ".ipynb"))
    os.mkfifo(folder / "pipe_notebook" / ONE / (ONE + ".ipynb"))
    os.mkfifo(folder / "pipe_extra" / ONE / "data.csv")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "pipe_extra" / ONE / "sock"))
    try:
        done = run("grade", str(folder), "--no-progress", course=course["course"], timeout=300)
    finally:
        server.close()
    assert "nnlab: error" not in done.stderr, done.stderr
    rows = rows_by_student(course["course"])
    assert (rows["steady"]["status"], rows["steady"]["score"]) == ("graded", "2")
    assert rows["pipe_notebook"]["status"] == "zero" and "is a named pipe; left out" in rows["pipe_notebook"]["reason"]
    extra = rows["pipe_extra"]
    assert (extra["status"], extra["score"]) == ("graded", "2")
    assert "data.csv is a named pipe; left out" in extra["reason"] and "sock is a socket; left out" in extra["reason"]


def test_failed_regrade_never_shows_the_earlier_score(course, tmp_path):
    folder = str(tmp_path / "class")
    synthetic.write(folder, "regraded", ONE, course["correct"])
    run("grade", folder, "--no-progress", course=course["course"], check=True)
    assert rows_by_student(course["course"])["regraded"]["score"] == "2"
    flag = os.path.join(course["course"], "fail-regraded")
    open(flag, "w").close()
    try:
        done = run("grade", folder, "--no-progress", course=course["course"])
    finally:
        os.remove(flag)
    r = rows_by_student(course["course"])["regraded"]
    assert (r["status"], r["score"]) == ("failed", "0"), r
    assert "RuntimeError: the reply of check_exercise could not be decoded" in r["reason"], r["reason"]
    assert "Traceback" not in r["reason"] and "Traceback" not in done.stderr
    grades = [g for g in gradebook_rows(f"sqlite:///{course['course']}/gradebook.db") if g[0] == "regraded"]
    assert grades and all(g[4] == 0 for g in grades)


def test_lateness_comes_from_collection_not_from_the_student(course, tmp_path):
    folder = str(tmp_path / "class")
    for student, written in (("honest_late", "2100-01-02 09:00:00 UTC"), ("forged_early", "2099-12-30 09:00:00 UTC")):
        synthetic.write(folder, student, ONE, course["correct"])
        with open(os.path.join(folder, student, ONE, "timestamp.txt"), "w") as fh:
            fh.write(written)
    archive = shutil.make_archive(str(tmp_path / "collected"), "zip", folder)
    collected = datetime.datetime(2100, 1, 3, tzinfo=datetime.timezone.utc).timestamp()
    os.utime(archive, (collected, collected))   # downloaded after the deadline
    run("grade", archive, "--no-progress", course=course["course"], check=True)
    rows = rows_by_student(course["course"])
    assert rows["forged_early"]["score"] == "0", rows["forged_early"]   # the forged date does not count
    for student in ("honest_late", "forged_early"):
        assert rows[student]["score"] == "0", rows[student]
        assert "late penalty 2" in rows[student]["reason"]
        assert "timestamp.txt in the hand-in ignored" in rows[student]["reason"]

    lms = tmp_path / "lms.csv"   # the LMS knows who handed in on time
    lms.write_text("student_id,timestamp\nhonest_late,2100-01-02T09:00:00Z\nforged_early,2099-12-31T23:00:00Z\n")
    run("grade", archive, "--timestamps", str(lms), "--no-progress", course=course["course"], check=True)
    rows = rows_by_student(course["course"])
    assert rows["honest_late"]["score"] == "0" and rows["forged_early"]["score"] == "2"
    assert "late penalty" not in rows["forged_early"]["reason"]
    with Gradebook(f"sqlite:///{course['course']}/gradebook.db") as gb:
        assert gb.find_submission(ONE, "forged_early").timestamp == datetime.datetime(2099, 12, 31, 23)


def test_killed_grader_loses_no_grade_and_counts_none_twice(course, tmp_path):
    folder = str(tmp_path / "class")
    students = ["kill_a", "kill_b", "kill_c"]
    for student in students:
        synthetic.write(folder, student, ONE, course["correct"])
    slow = course["correct"].copy()
    slow.cells = list(slow.cells) + [nbformat.v4.new_code_cell("import time\ntime.sleep(15)")]
    synthetic.write(folder, "kill_b", ONE, slow)
    status = os.path.join(course["course"], ".grading", "status.json")
    proc = subprocess.Popen([sys.executable, "-m", "nnlab.grading.cli", "grade", folder, "-j", "1", "--no-progress",
                             "--course", course["course"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            now = _status(status)   # kill_a recorded, kill_b started
            if now.get(f"kill_a/{ONE}", {}).get("status") == "graded" and f"kill_b/{ONE}" in now:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the grader finished before it could be killed mid-batch"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    rows = rows_by_student(course["course"])
    assert (rows["kill_a"]["status"], rows["kill_a"]["score"]) == ("graded", "2")
    assert rows["kill_b"]["status"] == "failed" and "interrupted" in rows["kill_b"]["reason"]
    assert rows.get("kill_c", {}).get("status") != "graded"

    run("grade", folder, "-j", "2", "--no-progress", course=course["course"], check=True)
    rows = export(course["course"])
    ours = [r for r in rows if r["student_id"] in students]
    assert sorted(r["student_id"] for r in ours) == students
    assert all((r["status"], r["score"]) == ("graded", "2") for r in ours), ours
    grades = [g for g in gradebook_rows(f"sqlite:///{course['course']}/gradebook.db") if g[0] in students]
    assert len(grades) == len(set(grades)) == 3 * len({g[3] for g in grades})
    assert all(g[4] == g[7] for g in grades)


def _status(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}
