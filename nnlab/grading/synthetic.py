"""Synthetic submissions made from the lesson masters, to check the grading pipeline end to end.

A submission starts from the student version (the release) and fills its solution cells:

- ``correct``: each solution cell gets the master's solution;
- ``with_mistake``: the correct answers, except that one exercise's function is rebound to
  ``wrong_variant(exercise_id, variant, correct)`` of the instructor's catalogue, which commits
  one named mistake starting from the correct answer;
- the release itself is the blank submission.

Student kernels import the student edition of nnlab, which has no catalogue: a hand-in with
mistakes carries its own copy of it (``nnlab_mistakes/``, written by :func:`write`).
"""

import copy
import os
import re
import shutil

import nbformat
from nbgrader import utils

from .probe import Unverifiable, find_checks

_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def read_notebook(folder, assignment):
    """notebooks/<assignment>/<assignment>.ipynb (or the only notebook there)."""
    path = os.path.join(folder, assignment, assignment + ".ipynb")
    if not os.path.exists(path):
        found = sorted(f for f in os.listdir(os.path.join(folder, assignment)) if f.endswith(".ipynb"))
        path = os.path.join(folder, assignment, found[0])
    return nbformat.read(path, as_version=4)


def solution_code(cell):
    """The master's solution, without the BEGIN/END SOLUTION markers."""
    return "\n".join(line for line in cell.source.splitlines() if not _MARKERS.match(line))


def exercises(master):
    """The graded test cells of a master: [{test_id, points, checks, solution_id}]."""
    solutions = {c.metadata.nbgrader["grade_id"]: c for c in master.cells
                 if c.cell_type == "code" and utils.is_solution(c)}
    found = []
    for cell in master.cells:
        if not (utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell)):
            continue
        try:
            checks = find_checks(cell.source)
        except Unverifiable:
            checks = []
        solution_id = None
        for check in checks:
            pattern = re.compile(rf"^(def|class)\s+{re.escape(check.expr)}\b|^{re.escape(check.expr)}\s*=", re.M)
            solution_id = next((gid for gid, c in solutions.items() if pattern.search(c.source)), None)
        found.append({"test_id": cell.metadata.nbgrader["grade_id"],
                      "points": float(cell.metadata.nbgrader.get("points", 0)),
                      "checks": checks, "solution_id": solution_id})
    return found


def fill(release, answers):
    """A copy of the student version with solution cells replaced by ``answers[grade_id]``."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and utils.is_solution(cell) and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def correct_answers(master):
    return {c.metadata.nbgrader["grade_id"]: solution_code(c) for c in master.cells
            if c.cell_type == "code" and utils.is_solution(c)}


def correct(master, release):
    return fill(release, correct_answers(master))


def with_mistakes(master, release, mistakes):
    """Correct everywhere except that, for each ``test_id: variant`` in ``mistakes``, the function
    that test checks is rebound to ``wrong_variant(exercise_id, variant, <the correct one>)``.
    Write it with :func:`write`, which adds the catalogue copy it imports."""
    answers = correct_answers(master)
    found = {e["test_id"]: e for e in exercises(master)}
    for test_id, variant in mistakes.items():
        exercise = found[test_id]
        check = exercise["checks"][0]
        answers[exercise["solution_id"]] += (
            f"\n\nfrom {MISTAKES} import wrong_variant\n"
            f"{check.expr} = wrong_variant({check.exercise_id!r}, {variant!r}, {check.expr})\n")
    return fill(release, answers)


def with_mistake(master, release, test_id, variant):
    """Correct everywhere except that the function checked by ``test_id`` commits ``variant``."""
    return with_mistakes(master, release, {test_id: variant})


def write(folder, student, assignment, nb, name=None):
    """Write a submission in nbgrader's layout (with the catalogue copy its mistakes need);
    returns its path."""
    path = os.path.join(folder, student, assignment, (name or assignment) + ".ipynb")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nbformat.write(nb, path)
    if any(MISTAKES in c.source for c in nb.cells):
        stage_mistakes(os.path.dirname(path))
    return path


#: The package name of the catalogue copy that synthetic hand-ins with mistakes carry.
MISTAKES = "nnlab_mistakes"


def stage_mistakes(folder):
    """Copy the instructor's catalogue into ``folder/nnlab_mistakes`` (for wrong_variant)."""
    from nnlab import exercises
    target = os.path.join(folder, MISTAKES)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.dirname(exercises.__file__), target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target
