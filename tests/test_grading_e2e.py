"""The grading loop end to end, through real nbgrader, on submissions made from the lesson masters.

One module-scoped course (a temporary copy of notebooks/ and autograder/nbgrader_config.py)
is released, then a class of synthetic students is graded once with ``nnlab grade -j 2``;
the tests read the gradebook, the autograded notebooks, the feedback HTML and the CSV.
"""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from nnlab.exercises import EXERCISES
from nnlab.grading import synthetic
from nnlab.grading.export import gradebook_rows

from grading_support import REPO, feedback_html, grade_class, max_score, nnlab
LESSONS = ["00_start_here", "01_jacobians", "02_identities", "03_one_layer"]
ONE = "01_jacobians"

# Short limits so that the broken submissions are quick to grade.
TEST_CONFIG = """
c.Execute.timeout = 10
c.SandboxedExecute.notebook_timeout = 300
c.SandboxedExecute.max_output_bytes = 200_000
"""

pytestmark = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(REPO, "notebooks", a, a + ".ipynb")) for a in LESSONS),
    reason="lesson masters missing")


def _code_cell(source):
    return nbformat.v4.new_code_cell(source)


def _insert_after(nb, grade_id, source):
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, _code_cell(source))
    return nb


def _without(nb, grade_id):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _variant(exercise_id, wanted):
    names = EXERCISES[exercise_id].variants
    assert wanted in names, f"{exercise_id} has no variant {wanted!r}: {list(names)}"
    return wanted


def build_class(course_root, folder):
    """Every synthetic student; returns {student: {assignment: expected notes/score facts}}."""
    masters = {a: synthetic.read_notebook(os.path.join(course_root, "notebooks"), a) for a in LESSONS}
    releases = {a: synthetic.read_notebook(os.path.join(course_root, "autograder", "release"), a) for a in LESSONS}

    def correct(a):
        return synthetic.correct(masters[a], releases[a])

    def mistakes(a, chosen):
        return synthetic.with_mistakes(masters[a], releases[a], chosen)

    write = lambda student, a, nb, name=None: synthetic.write(folder, student, a, nb, name)  # noqa: E731
    for a in LESSONS:
        write(f"correct_{a[:2]}", a, correct(a))
    for a in ("00_start_here", "01_jacobians"):
        write(f"blank_{a[:2]}", a, releases[a])
    # partly correct: identities 1-3 answered, the rest left as released
    answers = synthetic.correct_answers(masters["02_identities"])
    partial = {k: v for k, v in answers.items() if k in ("identity1", "identity2", "identity3")}
    write("partial_02", "02_identities", synthetic.fill(releases["02_identities"], partial))
    # the common mistakes, each on its own test cell
    write("mistake_transposed", ONE, mistakes(ONE, {"test_dg_dx": _variant("chain_rule.dg_dx", "transposed")}))
    write("mistake_negated", ONE, mistakes(ONE, {"test_dg_dx": _variant("chain_rule.dg_dx", "negated")}))
    write("mistakes_02", "02_identities", mistakes("02_identities", {
        "test_identity5": _variant("identity5", "outer product reversed"),
        "test_identity7": _variant("identity7", "softmax without the max-shift overflows")}))
    write("mistakes_03a", "03_one_layer", mistakes("03_one_layer", {
        "test_backward_W": _variant("onelayer.W", "ReLU mask missing"),
        "test_backward_batch": _variant("onelayer_batch", "scaled by N")}))
    write("mistakes_03b", "03_one_layer", mistakes("03_one_layer", {
        "test_backward_b1": _variant("onelayer.b1", "bias missing"),
        "test_backward_batch": _variant("onelayer_batch", "summed over the wrong axis")}))

    # broken hand-ins, all on lesson 01
    os.makedirs(os.path.join(folder, "invalid_json", ONE))
    with open(os.path.join(folder, "invalid_json", ONE, ONE + ".ipynb"), "w") as fh:
        fh.write('{"cells": [ this is not json')
    write("renamed", ONE, correct(ONE), name="01_jacobians-copy (1)")
    os.makedirs(os.path.join(folder, "missing", ONE))
    with open(os.path.join(folder, "missing", ONE, "notes.txt"), "w") as fh:
        fh.write("forgot the notebook")
    write("deleted_test", ONE, _without(correct(ONE), "test_dg_dx"))
    edited = mistakes(ONE, {"test_dg_dx": "negated"})
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_dg_dx":
            cell.source = "pass  # tests? what tests"
    write("edited_test", ONE, edited)
    first = correct(ONE)
    first.cells.insert(0, _code_cell("raise RuntimeError('first cell fails')"))
    write("first_cell_error", ONE, first)
    write("infinite_loop", ONE, _insert_after(correct(ONE), "dg_dx", "while True:\n    pass"))
    write("stuck_loop", ONE, _insert_after(correct(ONE), "dg_dx",
                                            "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
                                            "    except KeyboardInterrupt:\n        pass"))
    write("sys_exit", ONE, _insert_after(correct(ONE), "dg_dx", "import sys\nsys.exit(3)"))
    write("os_exit", ONE, _insert_after(correct(ONE), "dg_dx", "import os\nos._exit(1)"))
    write("huge_output", ONE, _insert_after(correct(ONE), "dg_dx", "print('x' * 5_000_000)"))
    stderr_answer = synthetic.correct_answers(masters[ONE])
    stderr_answer["dg_dx"] += ("\n\nimport sys\n_dg_dx = dg_dx\n"
                               "def dg_dx(x):\n    print('note: computing dg/dx', file=sys.stderr)\n"
                               "    return _dg_dx(x)\n")
    write("stderr_warning", ONE, synthetic.fill(releases[ONE], stderr_answer))

    # attacks on the grader
    autograder = os.path.join(course_root, "autograder")
    targets = {
        "gradebook": os.path.join(autograder, "gradebook.db"),
        "master": os.path.join(course_root, "notebooks", ONE, ONE + ".ipynb"),
        "classmate": os.path.join(autograder, "submitted", "correct_01", ONE, ONE + ".ipynb"),
        "config": os.path.join(autograder, "nbgrader_config.py"),
    }
    write("cheat_write", ONE, _insert_after(correct(ONE), "dg_dx", (
        "import sqlite3\n"
        f"for path in [{targets['gradebook']!r}, {os.path.join(autograder, 'gradebook-copy.db')!r}]:\n"
        "    try:\n"
        "        db = sqlite3.connect(path)\n"
        "        db.execute('UPDATE grade SET auto_score = 99')\n"
        "        db.commit()\n"
        "        print('WROTE', path)\n"
        "    except Exception as exc:\n"
        "        print('blocked', type(exc).__name__)\n"
        "    try:\n"
        "        open(path, 'wb').write(b'garbage')\n"
        "        print('WROTE', path)\n"
        "    except Exception as exc:\n"
        "        print('blocked', type(exc).__name__)\n")))
    write("cheat_read", ONE, _insert_after(correct(ONE), "dg_dx", (
        "import os\n"
        f"for path in {sorted(targets.values())!r}:\n"
        "    try:\n"
        "        print('READ', len(open(path, 'rb').read()), path)\n"
        "    except Exception as exc:\n"
        "        print('blocked', type(exc).__name__)\n"
        f"for folder in [{os.path.dirname(targets['classmate'])!r}, {os.path.join(course_root, 'notebooks')!r}]:\n"
        "    try:\n"
        "        print('LISTED', os.listdir(folder))\n"
        "    except Exception as exc:\n"
        "        print('blocked', type(exc).__name__)\n")))
    patched = mistakes(ONE, {"test_dg_dx": "negated"})
    _insert_after(patched, "dg_dx", "def check_exercise(*args, **kwargs):\n"
                                    "    print('✓ all good')  # a test that cannot fail\n")
    write("cheat_patch", ONE, patched)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_class(str(tmp_path_factory.mktemp("course")), LESSONS, TEST_CONFIG, build_class,
                       zipped=True)


def autograded_text(graded, student, assignment=ONE):
    path = os.path.join(graded["course"], "autograded", student, assignment, assignment + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)


def row(graded, student, assignment=ONE):
    return graded["rows"][(student, assignment)]


def test_grade_runs_to_the_end(graded):
    done = graded["grade"]
    assert done.returncode == 0, done.stderr
    assert "failed" not in done.stdout, done.stdout


@pytest.mark.parametrize("assignment", LESSONS)
def test_fully_correct_gets_full_marks(graded, assignment):
    r = row(graded, f"correct_{assignment[:2]}", assignment)
    assert float(r["score"]) == float(r["max_score"]) == max_score(assignment)


@pytest.mark.parametrize("assignment", ["00_start_here", "01_jacobians"])
def test_blank_release_scores_zero(graded, assignment):
    r = row(graded, f"blank_{assignment[:2]}", assignment)
    assert (r["status"], float(r["score"])) == ("graded", 0.0)
    assert "not implemented yet" in feedback_html(graded, f"blank_{assignment[:2]}", assignment)


def test_partly_correct_gets_partial_marks(graded):
    r = row(graded, "partial_02", "02_identities")
    scores = graded["scores"]
    assert float(r["score"]) == 3.0 and float(r["max_score"]) == max_score("02_identities")
    assert all(scores[("partial_02", "02_identities", f"test_identity{k}")] == 1.0 for k in (1, 2, 3))


MISTAKES = [
    ("mistake_transposed", ONE, "test_dg_dx", "transposed"),
    ("mistake_negated", ONE, "test_dg_dx", "negated"),
    ("mistakes_02", "02_identities", "test_identity5", "outer product reversed"),
    ("mistakes_02", "02_identities", "test_identity7", "softmax without the max-shift overflows"),
    ("mistakes_03a", "03_one_layer", "test_backward_W", "ReLU mask missing"),
    ("mistakes_03a", "03_one_layer", "test_backward_batch", "scaled by N"),
    ("mistakes_03b", "03_one_layer", "test_backward_b1", "bias missing"),
    ("mistakes_03b", "03_one_layer", "test_backward_batch", "summed over the wrong axis"),
]


@pytest.mark.parametrize("student,assignment,test_id,variant", MISTAKES)
def test_each_mistake_costs_its_cell_and_is_named(graded, student, assignment, test_id, variant):
    scores = graded["scores"]
    assert scores[(student, assignment, test_id)] == 0.0
    others = [v for (s, a, g), v in scores.items() if (s, a) == (student, assignment)
              and g != test_id and not any(m[:3] == (student, assignment, g) for m in MISTAKES)]
    assert all(v > 0 for v in others)                   # nothing else is marked down
    html = feedback_html(graded, student, assignment)
    assert f"known mistake: {variant}" in html


def test_feedback_hides_hidden_tests(graded):
    for student, assignment in (("mistake_negated", ONE), ("correct_02", "02_identities")):
        html = feedback_html(graded, student, assignment)
        assert "BEGIN HIDDEN TESTS" not in html and "seed=7" not in html and "cases=20" not in html
        assert "hidden tests" in html


def test_csv_totals(graded):
    rows = graded["rows"]
    scores = graded["scores"]
    for (student, assignment), r in rows.items():
        if r["status"] in ("graded", "zero"):
            total = sum(v or 0 for (s, a, _), v in scores.items() if (s, a) == (student, assignment))
            assert float(r["score"]) == pytest.approx(total), (student, assignment)
            assert float(r["max_score"]) == max_score(assignment)
    assert len(rows) == len({(s, a) for s, a, _ in scores})


def test_invalid_json_scores_zero_with_a_reason(graded):
    r = row(graded, "invalid_json")
    assert (r["status"], float(r["score"])) == ("zero", 0.0)
    assert "not a valid notebook" in r["reason"]


def test_renamed_notebook_is_graded(graded):
    r = row(graded, "renamed")
    assert float(r["score"]) == max_score(ONE) and "renamed" in r["reason"]


def test_missing_notebook_scores_zero(graded):
    r = row(graded, "missing")
    assert (r["status"], float(r["score"])) == ("zero", 0.0) and "missing" in r["reason"]


def test_deleted_test_cell_is_restored(graded):
    r = row(graded, "deleted_test")
    assert float(r["score"]) == max_score(ONE) and "test_dg_dx was missing; restored" in r["reason"]


def test_edited_test_cell_is_restored(graded):
    r = row(graded, "edited_test")
    assert float(r["score"]) == 0.0 and "test_dg_dx was edited; restored" in r["reason"]
    assert "known mistake: negated" in feedback_html(graded, "edited_test", ONE)


def test_exception_in_first_cell_does_not_stop_the_rest(graded):
    assert float(row(graded, "first_cell_error")["score"]) == max_score(ONE)


def test_infinite_loop_times_out_and_the_rest_is_graded(graded):
    r = row(graded, "infinite_loop")
    assert float(r["score"]) == max_score(ONE) and "time limit" in r["reason"]


def test_loop_that_ignores_interrupts_gets_a_fresh_kernel(graded):
    r = row(graded, "stuck_loop")
    assert r["status"] == "graded" and float(r["score"]) == 0.0
    assert "did not respond; a fresh kernel ran the rest" in r["reason"]


def test_sys_exit_is_just_an_error(graded):
    assert float(row(graded, "sys_exit")["score"]) == max_score(ONE)


def test_os_exit_kills_the_kernel_not_the_batch(graded):
    r = row(graded, "os_exit")
    assert r["status"] == "graded" and float(r["score"]) == 0.0 and "the kernel died" in r["reason"]


def test_huge_output_is_truncated(graded):
    r = row(graded, "huge_output")
    assert float(r["score"]) == max_score(ONE) and "output truncated" in r["reason"]
    path = os.path.join(graded["course"], "autograded", "huge_output", ONE, ONE + ".ipynb")
    assert os.path.getsize(path) < 1_000_000


def test_stderr_output_does_not_cost_points(graded):
    assert float(row(graded, "stderr_warning")["score"]) == max_score(ONE)
    assert "computing dg/dx" in autograded_text(graded, "stderr_warning")


def test_submission_cannot_write_the_gradebook(graded):
    text = autograded_text(graded, "cheat_write")
    assert "WROTE" not in text and text.count("blocked") == 4
    assert not os.path.exists(os.path.join(graded["course"], "gradebook-copy.db"))
    assert all(v is None or v <= 2 for v in graded["scores"].values())
    assert float(row(graded, "correct_01")["score"]) == max_score(ONE)


def test_submission_cannot_read_masters_or_classmates(graded):
    text = autograded_text(graded, "cheat_read")
    assert "READ" not in text and "LISTED" not in text and text.count("blocked") == 6


def test_patched_check_in_the_kernel_does_not_pass(graded):
    r = row(graded, "cheat_patch")
    assert float(r["score"]) == 0.0
    assert "passed in the kernel but failed the grader's check" in r["reason"]
    assert "known mistake: negated" in feedback_html(graded, "cheat_patch", ONE)


SUBSET = ["mistake_negated", "os_exit"]


def test_parallel_equals_plain_nbgrader_autograde(graded):
    """Regrade a few students with stock `nbgrader autograde` (this course's config, one at a
    time): their grades equal what `nnlab grade -j 2` recorded."""
    course = graded["course"]
    before = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in SUBSET]
    nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    for student in SUBSET:
        done = subprocess.run([nbgrader, "autograde", ONE, "--student", student, "--force"],
                              cwd=course, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    after = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in SUBSET]
    assert after == before and len(before) == len(SUBSET)


def test_j2_equals_j1(graded):
    course = graded["course"]
    students = ["mistakes_02", "cheat_patch", "invalid_json"]
    before = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in students]
    args = [a for s in students for a in ("--student", s)]
    nnlab("grade", "-j", "1", *args, course=course)
    after = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in students]
    assert after == before and len({r[0] for r in before}) == len(students)


def test_status_file_lists_every_submission(graded):
    with open(os.path.join(graded["course"], ".grading", "status.json")) as fh:
        status = json.load(fh)
    assert "invalid_json/01_jacobians" in status and "correct_03/03_one_layer" in status
    assert all(entry["status"] in ("graded", "zero") for entry in status.values())


def test_errors_are_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nnlab.grading.cli", "grade", "--course", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "nnlab: error:" in done.stderr
