"""Lessons 04-06 through real `nnlab grade`: full marks, the blank release, one named mistake
per exercise.

Same set-up as test_grading_e2e.py (a temporary copy of notebooks/ and the course config,
released once, graded once with ``-j 2``), on a small class: one student per case.
Exercises: mse_gradient (04), softplus, a minitorch Function class (05), dropout_backward
and batchnorm_backward (06).
"""

import json
import os

import nbformat
import pytest

from nnlab.exercises import EXERCISES
from nnlab.grading import synthetic

from grading_support import REPO, feedback_html, grade_class, max_score
LESSONS = ["04_gradient_descent", "05_custom_autograd", "06_rules_of_thumb"]

TEST_CONFIG = """
c.Execute.timeout = 30
c.SandboxedExecute.notebook_timeout = 300
"""

# (student, assignment, {test cell: (exercise, variant)}): one known mistake per exercise
MISTAKES = [
    ("mistake_04", "04_gradient_descent", {"mse_gradient_test": ("mse_gradient", "factor 2 missing")}),
    ("mistake_05", "05_custom_autograd", {"softplus_test": ("softplus", "grad_output ignored")}),
    ("mistakes_06", "06_rules_of_thumb", {
        "dropout_backward_test": ("dropout_backward", "1/(1-p) scale missing"),
        "batchnorm_backward_test": ("batchnorm_backward", "mean and variance treated as constants")}),
]

# (student, assignment, test cell, exercise, variant)
PATCHED = ("patched_05", "05_custom_autograd", "softplus_test", "softplus", "unstable forward")

pytestmark = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(REPO, "notebooks", a, a + ".ipynb")) for a in LESSONS),
    reason="lesson masters missing")


def build_class(course_root, folder):
    masters = {a: synthetic.read_notebook(os.path.join(course_root, "notebooks"), a) for a in LESSONS}
    releases = {a: synthetic.read_notebook(os.path.join(course_root, "autograder", "release"), a)
                for a in LESSONS}
    for a in LESSONS:
        synthetic.write(folder, f"correct_{a[:2]}", a, synthetic.correct(masters[a], releases[a]))
        synthetic.write(folder, f"blank_{a[:2]}", a, releases[a])
    for student, a, chosen in MISTAKES:
        for exercise_id, variant in chosen.values():
            assert variant in EXERCISES[exercise_id].variants, (exercise_id, variant)
        nb = synthetic.with_mistakes(masters[a], releases[a], {t: v for t, (_, v) in chosen.items()})
        synthetic.write(folder, student, a, nb)
    # the kernel's check_exercise patched to pass: the grader's own check (run through the
    # kernel on the student's Softplus class) still fails the cell and names the mistake
    patched = synthetic.with_mistake(masters[PATCHED[1]], releases[PATCHED[1]], PATCHED[2], PATCHED[4])
    index = next(i for i, c in enumerate(patched.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "softplus_solution")
    patched.cells.insert(index + 1, nbformat.v4.new_code_cell(
        "def check_exercise(*args, **kwargs):\n    print('✓ all good')  # a test that cannot fail\n"))
    synthetic.write(folder, PATCHED[0], PATCHED[1], patched)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_class(str(tmp_path_factory.mktemp("course")), LESSONS, TEST_CONFIG, build_class)


def test_grade_runs_to_the_end(graded):
    done = graded["grade"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout, done.stdout


@pytest.mark.parametrize("assignment", LESSONS)
def test_fully_correct_gets_full_marks(graded, assignment):
    r = graded["rows"][(f"correct_{assignment[:2]}", assignment)]
    assert r["status"] == "graded", r
    assert float(r["score"]) == float(r["max_score"]) == max_score(assignment) > 0, r
    cells = {g: v for (s, a, g), v in graded["scores"].items() if (s, a) == (f"correct_{assignment[:2]}", assignment)}
    assert cells and all(v > 0 for v in cells.values()), cells


@pytest.mark.parametrize("assignment", LESSONS)
def test_blank_release_scores_zero(graded, assignment):
    r = graded["rows"][(f"blank_{assignment[:2]}", assignment)]
    assert (r["status"], float(r["score"])) == ("graded", 0.0), r
    assert "not implemented yet" in feedback_html(graded, f"blank_{assignment[:2]}", assignment)


@pytest.mark.parametrize("student,assignment,test_id,exercise_id,variant",
                         [(s, a, t, e, v) for s, a, chosen in MISTAKES for t, (e, v) in chosen.items()])
def test_each_mistake_costs_its_cell_and_is_named(graded, student, assignment, test_id, exercise_id, variant):
    scores = graded["scores"]
    assert scores[(student, assignment, test_id)] == 0.0
    html = feedback_html(graded, student, assignment)
    assert f"known mistake: {variant}" in html
    hint = EXERCISES[exercise_id].variants[variant].hint
    assert hint.split("{")[0][:40] in html        # the fix, in words
    # nothing else is marked down, except the exercise's own numerical-check cell (which also
    # calls the wrong function, e.g. batchnorm_backward_numerical_test)
    chosen = dict(next(c for s, a, c in MISTAKES if (s, a) == (student, assignment)))
    untouched = [g for (s, a, g) in scores if (s, a) == (student, assignment)
                 and g not in chosen and not g.startswith(tuple(e for e, _ in chosen.values()))]
    assert all(scores[(student, assignment, g)] > 0 for g in untouched)


def test_csv_totals(graded):
    rows, scores = graded["rows"], graded["scores"]
    assert len(rows) == 3 * len(LESSONS) + 1
    for (student, assignment), r in rows.items():
        total = sum(v or 0 for (s, a, _), v in scores.items() if (s, a) == (student, assignment))
        assert float(r["score"]) == pytest.approx(total), (student, assignment)
        assert float(r["max_score"]) == max_score(assignment)


def test_every_exercise_is_checked_by_the_grader(graded):
    """No test cell of these lessons falls back to the kernel's verdict, and nothing was restored."""
    with open(os.path.join(graded["course"], ".grading", "status.json")) as fh:
        status = json.load(fh)
    assert len(status) == len(graded["rows"])
    for key, entry in status.items():
        assert entry["status"] == "graded", (key, entry)
        if not key.startswith(PATCHED[0] + "/"):
            assert entry["notes"] == [] and entry["reason"] == "", (key, entry)


def test_patched_check_in_the_kernel_does_not_pass(graded):
    student, assignment, test_id, exercise_id, variant = PATCHED
    assert graded["scores"][(student, assignment, test_id)] == 0.0
    r = graded["rows"][(student, assignment)]
    assert f"{test_id}: passed in the kernel but failed the grader's check" in r["reason"], r
    assert f"known mistake: {variant}" in feedback_html(graded, student, assignment)


@pytest.mark.parametrize("student,assignment", [("correct_04", "04_gradient_descent"),
                                                ("mistake_05", "05_custom_autograd"),
                                                ("mistakes_06", "06_rules_of_thumb")])
def test_feedback_hides_hidden_tests(graded, student, assignment):
    html = feedback_html(graded, student, assignment)
    assert "BEGIN HIDDEN TESTS" not in html and "cases=20" not in html
    assert "hidden tests" in html
