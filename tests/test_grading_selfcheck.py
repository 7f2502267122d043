"""The student version checks itself without nbgrader: its visible test cells are plain cells
calling check_exercise, so a self-learner (on Binder, say) gets the same hints as the grader's
feedback. Executed here with plain nbclient, outside nbgrader and outside the sandbox."""

import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from nnlab.exercises import wrong_variant
from nnlab.feedback import check_exercise
from nnlab.grading import synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = "01_jacobians"

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "notebooks", LESSON, LESSON + ".ipynb")),
                                reason="lesson master missing")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfcheck")
    shutil.copytree(os.path.join(REPO, "notebooks"), root / "notebooks")
    (root / "autograder").mkdir()
    shutil.copy(os.path.join(REPO, "autograder", "nbgrader_config.py"), root / "autograder")
    done = subprocess.run([sys.executable, "-m", "nnlab.grading.cli", "release", LESSON,
                           "--course", str(root / "autograder")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    master = synthetic.read_notebook(str(root / "notebooks"), LESSON)
    student = synthetic.read_notebook(str(root / "autograder" / "release"), LESSON)
    return master, student, root


def run_plain(nb, cwd):
    """Execute like a student would: every cell, errors shown, no grader around."""
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def test_release_has_no_solutions_nor_hidden_tests(release):
    _, student, _ = release
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "seed=7" not in text
    assert "raise NotImplementedError" in text


def test_visible_tests_pass_on_a_correct_answer(release, tmp_path):
    master, student, _ = release
    nb = run_plain(synthetic.correct(master, student), tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert tests and all("✓" in "".join(o.get("text", "") for o in c.outputs) for c in tests)


def test_visible_tests_name_the_mistake_like_the_grader(release, tmp_path):
    master, student, _ = release
    synthetic.stage_mistakes(str(tmp_path))
    nb = run_plain(synthetic.with_mistake(master, student, "test_dg_dx", "transposed"), tmp_path)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_dg_dx")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors and "known mistake: transposed" in errors[0].evalue
    with pytest.raises(AssertionError) as expected:
        check_exercise("chain_rule.dg_dx", wrong_variant("chain_rule.dg_dx", "transposed"))
    assert errors[0].evalue == str(expected.value)
