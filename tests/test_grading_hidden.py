"""Hidden tests stay in the grader: their code and seeds never reach the student's kernel,
the autograded notebook or the feedback, and they still count.

A copy of the course whose lesson 01 master has a hidden check with an unusual seed is released
and graded end to end (`nnlab grade -j 2`, then `nnlab feedback`), with submissions that look
for the hidden tests in every place a notebook can reach: `In`, `_ih`, `Out`, `%history`, the
history manager, the source cache behind tracebacks, the frames that call the student's
function, every string in the kernel's memory, and the files the kernel can read.
"""

import os
import re
import shutil
import sqlite3

import nbformat
import pytest

from nnlab.grading import synthetic
from nnlab.grading.export import gradebook_rows
from nnlab.grading.preprocessors import HIDDEN_PLACEHOLDER, RemoveHiddenTests, strip_hidden_tests

from grading_support import REPO, max_score, nnlab

ONE = "01_jacobians"
TEST_ID = "test_dg_dx"
#: The hidden check's seed in the test course: a number found nowhere else.
SEED = 60913577
MARK = "### BEGIN HIDDEN TESTS"

TEST_CONFIG = """
c.Execute.timeout = 60
c.SandboxedExecute.notebook_timeout = 300
"""

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "notebooks", ONE, ONE + ".ipynb")),
                                reason="lesson master missing")

# Built at run time, so that the cells that look for them do not contain them.
NEEDLES = 'needles = [str(60913576 + 1), " ".join(["BEGIN HIDDEN", "TESTS"]), "=".join(["cases", "20"])]\n'

# The attack of the finding, as written.
SNOOP_IN = 'print("\\n---\\n".join(s for s in In if "HIDDEN" in s))'

# Every route from a later cell to what ran before it.
SNOOP_HISTORY = NEEDLES + r'''
import linecache
ip = get_ipython()
routes = {
    "In": "\n".join(In), "_ih": "\n".join(_ih), "Out": repr(Out), "_oh": repr(_oh),
    "history_raw": "\n".join(ip.history_manager.input_hist_raw),
    "history_parsed": "\n".join(ip.history_manager.input_hist_parsed),
    "get_range": "\n".join(str(r) for r in ip.history_manager.get_range(output=True)),
    "linecache": "\n".join("".join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2),
}
import contextlib, io
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    ip.run_line_magic("history", "-n -o")
routes["%history"] = printed.getvalue()
for name, text in routes.items():
    for needle in needles:
        if needle in text:
            print("LEAK", name, text[text.find(needle) - 200:text.find(needle) + 200])
print("ROUTES CHECKED", sorted(routes))
'''

# The student's function looks at the frames that call it, while the test cell runs.
SPY = r'''

import inspect as _inspect, linecache as _linecache
_spied, _right = [], dg_dx
def dg_dx(x):
    for info in _inspect.stack():
        frame = info.frame
        _spied.append(repr({k: v for k, v in frame.f_locals.items() if isinstance(v, (int, str))}))
        _spied.append("".join(info.code_context or []))
        _spied.append("".join(_linecache.getlines(info.filename)))
        try:
            _spied.append(_inspect.getsource(frame))
        except Exception:
            pass
    return _right(x)
'''
SNOOP_FRAMES = NEEDLES + r'''
print("FRAMES SEEN", len(_spied))
for text in _spied:
    for needle in needles:
        if needle in text:
            print("LEAK frames", text[text.find(needle) - 200:text.find(needle) + 200])
'''

# Every string the kernel holds, and every code object's constants.
SNOOP_MEMORY = NEEDLES + r'''
import gc, types
def scan(needles):
    seen, hits = set(), []
    def look(value):
        if isinstance(value, str):
            if any(n in value for n in needles) and not any(value is n for n in needles):
                hits.append(value[:300])
        elif isinstance(value, types.CodeType) and id(value) not in seen:
            seen.add(id(value))
            for const in value.co_consts:
                look(const)
        elif isinstance(value, (tuple, frozenset)):
            for item in value:
                look(item)
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            look(obj.__code__)
        for ref in gc.get_referents(obj):
            look(ref)
    return hits
hits = scan(needles)
print("MEMORY SCANNED")
for hit in hits[:5]:
    print("LEAK memory", hit)
'''

# Every file the kernel can read outside the system and Python directories.
SNOOP_DISK = r'''
import os, sys
needles = [str(60913576 + 1)]  # nnlab's grading code names the delimiters: look for the seed
skip = {"/proc", "/sys", "/dev", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc",
        os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
notebooks, files = [], 0
for top, dirs, names in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(top, d)) not in skip]
    for name in names:
        path = os.path.join(top, name)
        if name.endswith(".ipynb"):
            notebooks.append(path)
        try:
            if os.path.islink(path) or os.path.getsize(path) > 5_000_000:
                continue
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        files += 1
        for needle in needles:
            if needle.encode() in data:
                print("LEAK file", path)
print("DISK SCANNED", files, "files; notebooks:", notebooks)
'''


def _only_visible_right(answer):
    """A dg_dx that remembers the inputs of the visible check and is wrong on any other."""
    return answer + r'''

_right_everywhere, _seen_x, _frozen = dg_dx, set(), [False]
def dg_dx(x):
    right = _right_everywhere(x)
    if not _frozen[0]:
        _seen_x.add(float(x))
        return right
    return right if float(x) in _seen_x else -right
'''


FREEZE = "_frozen[0] = True  # from here on, only the inputs seen so far get the right answer"


def build_class(course_root, folder):
    master = synthetic.read_notebook(os.path.join(course_root, "notebooks"), ONE)
    release = synthetic.read_notebook(os.path.join(course_root, "autograder", "release"), ONE)
    answers = synthetic.correct_answers(master)

    def correct_with(*cells):
        nb = synthetic.correct(master, release)
        nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
        return nb

    synthetic.write(folder, "correct", ONE, synthetic.correct(master, release))
    synthetic.write(folder, "snoop_in", ONE, correct_with(SNOOP_IN, SNOOP_HISTORY))
    synthetic.write(folder, "snoop_memory", ONE, correct_with(SNOOP_MEMORY))
    synthetic.write(folder, "snoop_disk", ONE, correct_with(SNOOP_DISK))
    spy = dict(answers, dg_dx=answers["dg_dx"] + SPY)
    nb = synthetic.fill(release, spy)
    nb.cells.append(nbformat.v4.new_code_cell(SNOOP_FRAMES))
    synthetic.write(folder, "snoop_frames", ONE, nb)
    visible = dict(answers, dg_dx=_only_visible_right(answers["dg_dx"]))
    nb = synthetic.fill(release, visible)
    nb.cells.append(nbformat.v4.new_code_cell(FREEZE))
    synthetic.write(folder, "visible_only", ONE, nb)
    deleted = synthetic.correct(master, release)
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != TEST_ID]
    deleted.cells.append(nbformat.v4.new_code_cell(SNOOP_IN))
    synthetic.write(folder, "deleted_test", ONE, deleted)


def _hidden_seed_master(course_root):
    """Give lesson 01's hidden check a seed that appears nowhere else."""
    path = os.path.join(course_root, "notebooks", ONE, ONE + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == TEST_ID)
    assert MARK in cell.source and "seed=7" in cell.source
    cell.source = cell.source.replace("seed=7", f"seed={SEED}")
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("course"))
    shutil.copytree(os.path.join(REPO, "notebooks", ONE), os.path.join(root, "notebooks", ONE),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _hidden_seed_master(root)
    course = os.path.join(root, "autograder")
    os.makedirs(course)
    with open(os.path.join(REPO, "autograder", "nbgrader_config.py")) as src, \
            open(os.path.join(course, "nbgrader_config.py"), "w") as dst:
        dst.write(src.read() + TEST_CONFIG)
    nnlab("release", ONE, course=course)
    folder = os.path.join(root, "submissions")
    build_class(root, folder)
    grade = nnlab("grade", folder, "-j", "2", course=course, check=False)
    assert grade.returncode == 0, grade.stdout + grade.stderr
    nnlab("feedback", course=course)
    return {"root": root, "course": course, "grade": grade}


STUDENTS = ["correct", "snoop_in", "snoop_memory", "snoop_disk", "snoop_frames", "visible_only", "deleted_test"]


def _autograded(graded, student):
    return nbformat.read(os.path.join(graded["course"], "autograded", student, ONE, ONE + ".ipynb"),
                         as_version=4)


def _output_text(graded, student):
    nb = _autograded(graded, student)
    return "".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)


def _feedback(graded, student):
    path = os.path.join(graded["course"], "feedback", student, ONE, ONE + ".html")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _scores(graded, student):
    return {g: auto for s, a, _, g, auto, *_ in gradebook_rows(f"sqlite:///{graded['course']}/gradebook.db")
            if s == student}


def test_the_master_still_has_its_hidden_test(graded):
    """The gradebook keeps the master's full test cell: that is what the grader replays."""
    db = sqlite3.connect(os.path.join(graded["course"], "gradebook.db"))
    (source,), = db.execute("SELECT source FROM source_cell WHERE name = ?", (TEST_ID,)).fetchall()
    assert f"seed={SEED}" in source and MARK in source


@pytest.mark.parametrize("student", STUDENTS)
def test_no_hidden_source_or_seed_in_the_autograded_notebook_or_feedback(graded, student):
    stored = nbformat.writes(_autograded(graded, student))
    page = _feedback(graded, student)
    for text in (stored, page):
        for needle in (str(SEED), "BEGIN HIDDEN TESTS", "cases=20"):
            assert needle not in text, text[text.find(needle) - 300:text.find(needle) + 300]


def test_the_attack_of_the_finding_prints_nothing_hidden(graded):
    text = _output_text(graded, "snoop_in")
    assert "ROUTES CHECKED" in text
    assert "LEAK" not in text and str(SEED) not in text


@pytest.mark.parametrize("student,marker", [("snoop_in", "ROUTES CHECKED"), ("snoop_memory", "MEMORY SCANNED"),
                                            ("snoop_disk", "DISK SCANNED"), ("snoop_frames", "FRAMES SEEN")])
def test_no_route_from_the_kernel_reaches_the_hidden_tests(graded, student, marker):
    text = _output_text(graded, student)
    assert marker in text, text[-2000:]            # the search ran to the end
    assert "LEAK" not in text, text[text.find("LEAK"):][:1000]


def test_the_spy_saw_the_calling_frames(graded):
    """The frame spy did run inside check_exercise (so its silence means something)."""
    seen = re.search(r"FRAMES SEEN (\d+)", _output_text(graded, "snoop_frames"))
    assert seen and int(seen.group(1)) > 0


def test_no_notebook_is_staged_for_the_kernel(graded):
    text = _output_text(graded, "snoop_disk")
    assert "notebooks: []" in text


def test_test_cell_runs_with_a_placeholder(graded):
    nb = _autograded(graded, "correct")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == TEST_ID)
    assert HIDDEN_PLACEHOLDER in cell.source and 'check_exercise("chain_rule.dg_dx", dg_dx)' in cell.source
    assert "hidden tests" in _feedback(graded, "correct")


def test_scores_still_count_the_hidden_tests(graded):
    assert sum(v or 0 for v in _scores(graded, "correct").values()) == max_score(ONE)
    assert sum(v or 0 for v in _scores(graded, "snoop_frames").values()) == max_score(ONE)
    # right on the visible cases only: the visible check passes in the kernel, the hidden fails
    visible = _scores(graded, "visible_only")
    assert visible[TEST_ID] == 0.0
    assert "✓ chain_rule.dg_dx: matches the reference on 5 random cases" in _output_text(graded, "visible_only")
    assert "known mistake: negated" in _feedback(graded, "visible_only")


def test_deleted_test_cell_is_restored_without_its_hidden_tests(graded):
    nb = _autograded(graded, "deleted_test")
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == TEST_ID]
    assert len(cells) == 1 and HIDDEN_PLACEHOLDER in cells[0].source
    assert _scores(graded, "deleted_test")[TEST_ID] == 2.0


def test_parallel_workers_hand_their_run_to_the_parent(graded):
    """The worker's sanitized notebook (hidden tests removed) hashes like the parent's: each
    submission ran once, in a worker."""
    with open(os.path.join(graded["course"], ".grading", "grade.log"), encoding="utf-8") as fh:
        log = fh.read()
    for student in STUDENTS:
        assert f"Using the parallel worker's execution of {student}/{ONE}/{ONE}" in log, student


def test_j1_equals_j2(graded):
    course = graded["course"]
    students = ["visible_only", "snoop_in"]
    before = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in students]
    sources = {s: [c.source for c in _autograded(graded, s).cells] for s in students}
    args = [a for s in students for a in ("--student", s)]
    nnlab("grade", "-j", "1", *args, course=course)
    after = [r for r in gradebook_rows(f"sqlite:///{course}/gradebook.db") if r[0] in students]
    assert after == before and len({r[0] for r in before}) == len(students)
    assert sources == {s: [c.source for c in _autograded(graded, s).cells] for s in students}


# --- the step on its own --------------------------------------------------------------------------

def test_strip_hidden_tests_replaces_each_region_by_one_line():
    source = ("check_exercise('a', f)\n### BEGIN HIDDEN TESTS\ncheck_exercise('a', f, seed=5)\n"
              "### END HIDDEN TESTS\nprint('after')\n    ### BEGIN HIDDEN TESTS\n    secret = 1\n"
              "    ### END HIDDEN TESTS")
    stripped, removed = strip_hidden_tests(source)
    assert removed and "seed=5" not in stripped and "secret" not in stripped
    assert stripped.splitlines() == ["check_exercise('a', f)", HIDDEN_PLACEHOLDER, "print('after')",
                                     "    " + HIDDEN_PLACEHOLDER]


def test_an_open_region_hides_everything_after_it():
    stripped, removed = strip_hidden_tests("x = 1\n### BEGIN HIDDEN TESTS\nsecret = 2\nmore = 3")
    assert removed and "secret" not in stripped and "more" not in stripped


def test_only_test_cells_are_stripped():
    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell(f"ok()\n{MARK}\nhidden()\n### END HIDDEN TESTS")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    answer = nbformat.v4.new_code_cell(f"# {MARK} in a student's own cell\nx = 1")
    nb.cells = [test, answer]
    nb, _ = RemoveHiddenTests()(nb, {})
    assert "hidden()" not in nb.cells[0].source and HIDDEN_PLACEHOLDER in nb.cells[0].source
    assert nb.cells[1].source == f"# {MARK} in a student's own cell\nx = 1"
