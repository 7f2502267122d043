"""What the end-to-end grading tests share: a throwaway copy of the course, graded for real.

`grade_class` copies the lesson masters and the nbgrader configuration (plus short test
limits) into a temporary course, releases the lessons, lets the caller write a class of
synthetic submissions, then runs `nnlab grade -j 2`, `nnlab feedback` and `nnlab export`
exactly as an instructor would.
"""
import csv
import html
import os
import shutil
import subprocess
import sys

from nnlab.grading import synthetic
from nnlab.grading.export import gradebook_rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nnlab(*args, course, check=True):
    done = subprocess.run([sys.executable, "-m", "nnlab.grading.cli", *args, "--course", course],
                          capture_output=True, text=True, timeout=1800)
    if check and done.returncode != 0:
        raise AssertionError(f"nnlab {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def grade_class(root, lessons, test_config, build_class, zipped=False):
    """Release `lessons` in a copy of the course under `root`, grade the class that
    `build_class(root, folder)` writes, and return what the tests look at."""
    shutil.copytree(os.path.join(REPO, "notebooks"), os.path.join(root, "notebooks"),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    course = os.path.join(root, "autograder")
    os.makedirs(course)
    with open(os.path.join(REPO, "autograder", "nbgrader_config.py")) as src, \
            open(os.path.join(course, "nbgrader_config.py"), "w") as dst:
        dst.write(src.read() + test_config)
    nnlab("release", *lessons, course=course)
    folder = os.path.join(root, "submissions")
    build_class(root, folder)
    if zipped:  # an LMS export, handed over as a .zip
        folder = shutil.make_archive(folder, "zip", folder)
    grade = nnlab("grade", folder, "-j", "2", course=course, check=False)
    nnlab("feedback", course=course)
    nnlab("export", os.path.join(root, "grades.csv"), course=course)
    with open(os.path.join(root, "grades.csv"), newline="") as fh:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    scores = {(s, a, g): auto for s, a, _, g, auto, *_ in gradebook_rows(f"sqlite:///{course}/gradebook.db")}
    return {"root": root, "course": course, "grade": grade, "rows": rows, "scores": scores}


def max_score(assignment):
    master = synthetic.read_notebook(os.path.join(REPO, "notebooks"), assignment)
    return sum(e["points"] for e in synthetic.exercises(master))


def feedback_html(graded, student, assignment):
    """The student's feedback page, with HTML entities decoded so hints read as written."""
    path = os.path.join(graded["course"], "feedback", student, assignment, assignment + ".html")
    with open(path, encoding="utf-8") as fh:
        return html.unescape(fh.read())
