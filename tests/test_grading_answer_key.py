"""The answer key stays with the instructor, and the verdict cannot be gamed from the kernel.

A class of crafted hand-ins of lesson 01 (one exercise, `dg_dx`, 2 points) is graded once with
`nnlab grade -j 2`, next to an honest copy of the master:

- the course's reference reached by `import`, `getattr`/`importlib`, `exec(inspect.getsource)`
  or by reading the package's files: 0 points, with a reason that names the reference;
- the reference's code pasted in: flagged for review in the grade sheet;
- a function that behaves wrongly whenever it believes it is graded (grader frames, grading
  environment variables, files in its directory): still full marks, so it never believed it;
- a function that stalls, a reply of 64 MiB, a reply nested 2000 deep, a reply path made
  unwritable: 0 points on that exercise, with a reason, and nothing else disturbed.

The student edition itself is checked without a kernel: no file of it holds a reference.
"""
import ast
import inspect
import os
import re
import subprocess
import sys
import textwrap

import pytest

from grading_support import grade_class, max_score
from nnlab.grading import edition, synthetic
from nnlab.grading.copies import normalized, reference_forms

ONE = "01_jacobians"

IMPORTED = "from nnlab.chainrule import dg_dx\n"
GETATTR = ("import importlib\n"
           "dg_dx = getattr(importlib.import_module('nnlab.' + 'chainrule'), 'dg' + '_dx')\n")
EXEC_SOURCE = ("import inspect, nnlab.chainrule as _c\n"
               "from nnlab.chainrule import f, df_dx, dg_df\n"
               "exec(inspect.getsource(_c.dg_dx))\n")
READ_FILES = textwrap.dedent('''
    import os, re, nnlab
    from nnlab.chainrule import f, df_dx, dg_df
    _found = None
    for _dir, _, _files in os.walk(os.path.dirname(nnlab.__file__)):
        for _name in _files:
            if _name.endswith(".py"):
                _text = open(os.path.join(_dir, _name)).read()
                _m = re.search(r"^def dg_dx\\(.*?(?=^\\S|\\Z)", _text, re.S | re.M)
                if _m:
                    _found = _m.group(0)
    exec(_found)
''')
# Behaves wrongly (transposed) whenever it sees a sign of the grader.
PARANOID = textwrap.dedent('''
    import inspect, os
    def _graded():
        names = {frame.function for frame in inspect.stack()}
        grader_words = ("probe", "grader", "verdict", "_check", "autograde")
        return (any(w in n for n in names for w in grader_words)
                or any(k.startswith("NBGRADER") for k in os.environ)
                or any(n.startswith(".probe") for n in os.listdir("."))
                or any(n.startswith("__nnlab") for n in globals()))
    _right = dg_dx
    def dg_dx(x):
        return _right(x).T if _graded() else _right(x)
''')
STALL = "import time\n_right = dg_dx\ndef dg_dx(x):\n    time.sleep(60)\n    return _right(x)\n"


def _patched_reply(body):
    return ("import nnlab.feedback as _nf\n"
            "def _reply(request, reply_path):\n" + textwrap.indent(body, "    ") + "\n"
            "_nf._reply = _reply\n")


HUGE = _patched_reply('with open(reply_path, "w") as fh:\n'
                      '    fh.write("[" + "0," * (32 * 2**20) + "0]")')
NESTED = _patched_reply('with open(reply_path, "w") as fh:\n'
                        '    fh.write("[" * 2000 + "]" * 2000)')
UNWRITABLE = _patched_reply("import os\nos.makedirs(reply_path)")

ATTACKS = {
    "imported": IMPORTED, "getattr": GETATTR, "exec_source": EXEC_SOURCE,
    "read_files": READ_FILES, "stall": STALL, "huge_reply": HUGE, "nested_reply": NESTED,
    "unwritable_reply": UNWRITABLE,
}
APPENDED = {"paranoid", "stall", "huge_reply", "nested_reply", "unwritable_reply"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("answer_key"))

    def build(root, folder):
        master = synthetic.read_notebook(os.path.join(root, "notebooks"), ONE)
        release = synthetic.read_notebook(os.path.join(root, "autograder", "release"), ONE)
        answers = synthetic.correct_answers(master)
        (solution_id,) = [e["solution_id"] for e in synthetic.exercises(master)]
        synthetic.write(folder, "honest", ONE, synthetic.correct(master, release))
        for student, code in {**ATTACKS, "paranoid": PARANOID}.items():
            chosen = dict(answers)
            chosen[solution_id] = (answers[solution_id] + "\n" + code if student in APPENDED
                                   else code)
            synthetic.write(folder, student, ONE, synthetic.fill(release, chosen))
        import nnlab.chainrule as chainrule
        pasted = dict(answers)
        pasted[solution_id] = ("from nnlab.chainrule import f, df_dx, dg_df\n"
                               + re.sub(r"\bx\b", "t", inspect.getsource(chainrule.dg_dx)))
        synthetic.write(folder, "pasted", ONE, synthetic.fill(release, pasted))

    config = "\nc.SandboxedExecute.probe_timeout = 3.0\n"
    return grade_class(root, [ONE], config, build)


def _row(graded, student):
    return graded["rows"][(student, ONE)]


def test_an_honest_copy_gets_full_marks_beside_the_attacks(graded):
    assert float(_row(graded, "honest")["score"]) == max_score(ONE)
    assert _row(graded, "honest")["reason"] == ""


@pytest.mark.parametrize("student", ["imported", "getattr", "exec_source", "read_files"])
def test_the_reference_reached_by_any_route_scores_zero_with_a_reason(graded, student):
    row = _row(graded, student)
    assert float(row["score"]) == 0, row
    assert "nnlab.chainrule.dg_dx" in row["reason"] or "reference" in row["reason"], row


def test_the_reason_names_the_withheld_reference(graded):
    assert "calls nnlab.chainrule.dg_dx, the course's own answer" in _row(graded, "imported")["reason"]


def test_pasted_reference_code_is_flagged_for_review(graded):
    row = _row(graded, "pasted")
    assert "matches the course's reference nnlab.chainrule.dg_dx" in row["reason"]
    assert "for review" in row["reason"]


def test_a_submission_cannot_tell_it_is_graded(graded):
    assert float(_row(graded, "paranoid")["score"]) == max_score(ONE)


def test_a_stalling_function_fails_its_own_exercise_as_too_slow(graded):
    row = _row(graded, "stall")
    assert float(row["score"]) == 0 and "too slow" in row["reason"], row


@pytest.mark.parametrize("student", ["huge_reply", "nested_reply", "unwritable_reply"])
def test_hostile_replies_fail_their_exercise_and_nothing_else(graded, student):
    row = _row(graded, student)
    assert row["status"] == "graded" and float(row["score"]) == 0, row


def test_the_grader_records_each_verdict_for_the_report(graded):
    from nnlab.grading.records import read_verdicts
    found = {(r["student"], r["grade_id"]): r for r in read_verdicts(graded["course"])}
    assert found[("honest", "test_dg_dx")]["passed"] is True
    stalled = found[("stall", "test_dg_dx")]
    assert stalled["passed"] is False and "too slow" in stalled["flags"]
    assert "reference" in found[("imported", "test_dg_dx")]["flags"]
    assert "copied" in found[("pasted", "test_dg_dx")]["flags"]


# --- the student edition, file by file ----------------------------------------------------------

@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    return edition.build(str(tmp_path_factory.mktemp("edition")))


def _functions(path):
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def test_no_file_of_the_student_edition_holds_a_reference(student_edition):
    forms = reference_forms()
    assert len(forms) >= 13
    for dirpath, _, filenames in os.walk(student_edition):
        assert "__pycache__" not in dirpath
        for name in filenames:
            assert not name.endswith(".pyc")
            if name.endswith(".py"):
                for func in _functions(os.path.join(dirpath, name)):
                    assert normalized(func) not in forms, (name, func.name)
    for left_out in ("exercises", "grading", "hub"):
        assert os.listdir(os.path.join(student_edition, left_out)) == ["__init__.py"]


def test_the_catalogue_cannot_be_imported_even_beside_an_editable_install(student_edition, tmp_path):
    # Run with site hooks on: the editable install of the full package is on sys.meta_path.
    code = ("import nnlab\ntry:\n    import nnlab.exercises\nexcept ImportError as e:\n"
            "    print('ImportError', nnlab.__file__.startswith(%r))\n" % student_edition)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(student_edition)},
                          cwd=str(tmp_path), timeout=120)
    assert done.stdout.strip() == "ImportError True", done.stderr


def test_withheld_functions_keep_their_signature_and_say_why(student_edition):
    code = ("import numpy as np\n"
            "from nnlab.onelayer import backward\n"
            "from nnlab.feedback import ReferenceWithheld\n"
            "import inspect\n"
            "print(list(inspect.signature(backward).parameters))\n"
            "try:\n    backward({})\nexcept ReferenceWithheld as e:\n    print(e.name)\n")
    out = _run_in_edition(student_edition, code)
    assert out.splitlines() == ["['cache']", "nnlab.onelayer.backward"]


def test_visible_checks_still_name_the_mistake_without_the_key(student_edition):
    code = textwrap.dedent('''
        import numpy as np
        from nnlab.feedback import check_exercise
        def dJ_dW_Wx(delta, x):
            return x @ delta          # the outer product reversed
        try:
            check_exercise("identity5", dJ_dW_Wx)
        except AssertionError as e:
            print(e)
        from nnlab.identities import dJ_dW_Wx as reference
        try:
            check_exercise("identity5", reference)
        except AssertionError as e:
            print(e)
    ''')
    out = _run_in_edition(student_edition, code)
    assert "known mistake: outer product reversed" in out
    assert "calls nnlab.identities.dJ_dW_Wx, the course's own answer" in out


def test_the_full_package_warns_when_a_check_passes_on_the_reference(capsys):
    from nnlab.feedback import check_exercise
    from nnlab.identities import dJ_dW_Wx
    check_exercise("identity5", dJ_dW_Wx)
    out = capsys.readouterr().out
    assert out.startswith("⚠ identity5: your function calls nnlab.identities.dJ_dW_Wx")
    assert "✓ identity5" in out


def _run_in_edition(edition_dir, code):
    """Run code with only the student edition of nnlab importable (no site hooks)."""
    import numpy
    site_packages = os.path.dirname(os.path.dirname(numpy.__file__))
    env = {"PYTHONPATH": os.pathsep.join([os.path.dirname(edition_dir), site_packages]),
           "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(edition_dir), timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout
