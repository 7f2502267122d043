"""`nnlab report` on a synthetic class whose mistakes are known in advance.

The class is written through nbgrader's own Gradebook API (scores of every graded cell) and the
grader's records API (which named mistake each failed cell made), then the report is built and
its counts are read back from the HTML.
"""
import json
import os
import re
import sys
from html.parser import HTMLParser

import pytest
from nbgrader.api import Gradebook

from nnlab.grading import records, report
from nnlab.grading.cli import main as nnlab_main
from nnlab.grading.course import Course

HOSTILE = "<script>alert('x')</script>"
FORMULA = "=cmd|' /C calc'!A0"
HOSTILE_REASON = "your answer <img src=x onerror=alert(1)> is wrong"

# (assignment, grade_id, exercise, points), in notebook order
CELLS = [
    ("02_identities", "test_identity1", "identity1", 1.0),
    ("02_identities", "test_identity5", "identity5", 2.0),
    ("04_gradient_descent", "mse_gradient_test", "mse_gradient", 1.0),
    ("04_gradient_descent", "mse_gradient_numerical_test", "mse_gradient", 2.0),
]

#: What the report must find after the regrade (distinct students, latest grading only).
EXPECTED = {
    ("identity1", "transposed"): 14,
    ("identity1", "negated"): 3,
    ("identity5", "outer product reversed"): 5,
    ("mse_gradient", "factor 2 missing"): 4,
}


def _students():
    return [f"s{i:02d}" for i in range(1, 29)] + [HOSTILE, FORMULA]   # 30 students


def plan():
    """{(student, grade_id): (passed, mistake)} after the latest grading, plus the first run's
    verdicts that the regrade replaces."""
    students = _students()
    latest = {(s, g): (True, None) for s in students for _, g, _, _ in CELLS}
    # identity1: s01-s14 transposed, s15-s17 negated, s18-s19 wrong with no named mistake
    for s in students[:14]:
        latest[(s, "test_identity1")] = (False, "transposed")
    for s in students[14:17]:
        latest[(s, "test_identity1")] = (False, "negated")
    for s in students[17:19]:
        latest[(s, "test_identity1")] = (False, None)
    # identity5: five students, including the two hostile ids
    for s in students[:3] + [HOSTILE, FORMULA]:
        latest[(s, "test_identity5")] = (False, "outer product reversed")
    # mse_gradient: one exercise checked by two cells; s01 fails both (counted once)
    for s in students[:4]:
        latest[(s, "mse_gradient_numerical_test")] = (False, "factor 2 missing")
    latest[(students[0], "mse_gradient_test")] = (False, "factor 2 missing")
    # The first run: s20 was "transposed" and s15 "transposed" too; the regrade fixed s20
    # (now passes) and found s15's answer "negated" (as in `latest`).
    first = {("s20", "test_identity1"): (False, "transposed"),
             ("s15", "test_identity1"): (False, "transposed"),
             ("s21", "test_identity5"): (False, "negated")}
    return latest, first


def _verdict(t, run, student, assignment, grade_id, exercise, points, passed, mistake, flags=()):
    return {"time": t, "run": run, "student": student, "assignment": assignment,
            "notebook": assignment, "grade_id": grade_id, "exercise": exercise,
            "points": points if passed else 0.0, "max_points": points, "passed": passed,
            "mistake": mistake,
            "reason": "" if passed else (HOSTILE_REASON if student == HOSTILE
                                         else f"matches a known mistake: {mistake}"),
            "flags": list(flags), "seconds": 0.25}


def write_course(root, with_gradebook=True):
    """A course root holding a gradebook and grading records for the class of `plan()`."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "nbgrader_config.py"), "w") as fh:
        fh.write("c = get_config()\nc.CourseDirectory.course_id = 'nnlab'\n")
    latest, first = plan()
    students = _students()
    if with_gradebook:
        with Gradebook(f"sqlite:///{os.path.join(root, 'gradebook.db')}") as gb:
            for assignment in dict.fromkeys(a for a, *_ in CELLS):
                gb.add_assignment(assignment)
                gb.add_notebook(assignment, assignment)
            for assignment, grade_id, exercise, points in CELLS:
                gb.add_grade_cell(grade_id, assignment, assignment, max_score=points, cell_type="code")
                gb.add_source_cell(grade_id, assignment, assignment, cell_type="code", locked=True,
                                   source=f'from nnlab.feedback import check_exercise\n'
                                          f'check_exercise("{exercise}", answer)\n')
            for student in students:
                gb.add_student(student)
                for assignment in dict.fromkeys(a for a, *_ in CELLS):
                    gb.add_submission(assignment, student)
                for assignment, grade_id, _, points in CELLS:
                    grade = gb.find_grade(grade_id, assignment, assignment, student)
                    grade.auto_score = points if latest[(student, grade_id)][0] else 0.0
                    grade.needs_manual_grade = False
            gb.db.commit()
    info = {g: (a, e, p) for a, g, e, p in CELLS}

    def verdict(t, run, student, grade_id, passed, mistake, flags=()):
        assignment, exercise, points = info[grade_id]
        return _verdict(t, run, student, assignment, grade_id, exercise, points, passed, mistake, flags)

    run1 = [verdict(1000.0, "run1", s, g, passed, mistake) for (s, g), (passed, mistake) in sorted(first.items())]
    run1 += [verdict(1000.0, "run1", s, g, *latest[(s, g)]) for s in students for g in info if (s, g) not in first]
    run2 = [verdict(2000.0, "run2", s, g, *latest[(s, g)],
                    flags=["reference"] if s == HOSTILE else ["too slow"] if s == "s05" else [])
            for s in students for g in info]
    records.append_verdicts(root, run1)
    records.append_verdicts(root, [{"kind": "notebook", "time": 1000.0, "run": "run1", "student": s,
                                    "assignment": "02_identities", "notebook": "02_identities",
                                    "seconds": 99.0} for s in students])
    # A line cut off by a killed grader, and lines of the wrong shape: skipped when reading.
    with open(records.verdicts_path(root), "a") as fh:
        fh.write('{"time": 1500, "student": "s01", "assignm\n[1, 2]\n"not a record"\n'
                 '{"time": 1600, "student": "s01", "assignment": "02_identities", "grade_id": '
                 '"test_identity1", "points": "many", "max_points": 1, "passed": true}\n')
    records.append_verdicts(root, run2)
    records.append_verdicts(root, [{"kind": "notebook", "time": 2000.0, "run": "run2", "student": s,
                                    "assignment": a, "notebook": a, "seconds": 3.0 + i / 10}
                                   for i, s in enumerate(students)
                                   for a in ("02_identities", "04_gradient_descent")])
    status = {"s07/04_gradient_descent": {"status": "failed", "reason": "kernel died", "notes": []},
              "s08/02_identities": {"status": "graded", "reason": "", "notes": ["handed in late"]}}
    os.makedirs(os.path.join(root, ".grading"), exist_ok=True)
    with open(os.path.join(root, ".grading", "status.json"), "w") as fh:
        json.dump(status, fh)
    return root


@pytest.fixture(scope="module", autouse=True)
def alembic_on_path():
    """nbgrader runs the `alembic` script of its environment by name when it creates a gradebook."""
    saved = os.environ["PATH"]
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), saved])
    yield
    os.environ["PATH"] = saved


class _Page(HTMLParser):
    """The report's machine-readable parts: data-* attributes of mistakes, exercises, flags."""

    def __init__(self):
        super().__init__()
        self.mistakes, self.exercises, self.flagged, self.images, self.tags = {}, {}, [], [], []
        self._cell = None
        self.flagged_text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "li" and a.get("class") == "mistake":
            self.mistakes[(a["data-exercise"], a["data-mistake"])] = int(a["data-students"])
        if tag == "tr" and a.get("class") == "exercise":
            self.exercises[a["data-exercise"]] = (int(a["data-graded"]), int(a["data-passed"]))
        if tag == "tr" and a.get("class") == "flagged":
            self.flagged.append(a["data-student"])
            self.flagged_text.append([])
            self._cell = self.flagged_text[-1]
        if tag == "img":
            self.images.append(a["src"])
        if any(k.startswith("on") for k in a):
            raise AssertionError(f"event handler attribute in <{tag}>")

    def handle_endtag(self, tag):
        if tag == "tr":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path):
    page = _Page()
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    page.feed(text)
    return page, text


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    root = write_course(str(tmp_path / "course"))
    out = str(tmp_path / "out" / "report.html")
    assert nnlab_main(["report", "--course", root, "-o", out]) == 0
    return root, out


def test_mistake_counts_are_distinct_students_of_the_latest_grading(built):
    _, out = built
    page, text = parse(out)
    assert page.mistakes == EXPECTED
    # Said in words, the most common first.
    assert "transposed: <strong>14 students</strong>" in text
    order = [text.index(f'data-mistake="{m}"') for m in
             ("transposed", "outer product reversed", "factor 2 missing", "negated")]
    assert order == sorted(order)
    # The catalogue's title and hint, not only the id.
    assert "Lesson 02, identity (1): z = W x, dz/dx" in text
    hint = report.exercise_catalogue()["identity1"].hints["transposed"]
    assert len(hint) > 20 and "{label}" not in hint
    assert report.esc(hint) in text


def test_each_mistake_lists_its_students(built):
    _, out = built
    _, text = parse(out)
    who = re.search(r'data-mistake="negated".*?<details><summary>who</summary>(.*?)</details>', text, re.S)
    assert who.group(1) == "s15, s16, s17"


def test_exercises_are_found_in_the_real_test_cells(tmp_path):
    """The gradebook keeps the master's test cells; their check_exercise calls name the exercises."""
    import nbformat
    from nnlab.grading.report import ClassData, read_gradebook
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lesson = "03_one_layer"
    nb = nbformat.read(os.path.join(repo, "notebooks", lesson, lesson + ".ipynb"), as_version=4)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    expected = {}   # graded cells, in notebook order
    with Gradebook(url) as gb:
        gb.add_assignment(lesson)
        gb.add_notebook(lesson, lesson)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                gb.add_grade_cell(meta["grade_id"], lesson, lesson, max_score=meta["points"],
                                  cell_type=cell.cell_type)
                gb.add_source_cell(meta["grade_id"], lesson, lesson, cell_type=cell.cell_type,
                                   locked=True, source=cell.source)
                expected[(lesson, meta["grade_id"])] = []
    data = ClassData()
    read_gradebook(url, data)
    assert data.cell_order == list(expected)
    assert data.cell_exercises == {
        (lesson, f"test_backward_{part}"): [f"onelayer.{part}"]
        for part in ("delta1", "delta2", "U", "b2", "W", "b1", "x")
    } | {(lesson, "test_backward_batch"): ["onelayer_batch"]}


def test_pass_rates_come_from_the_gradebook(built):
    _, out = built
    page, _ = parse(out)
    # identity1: 14 + 3 + 2 failed of 30; identity5: 5 failed; mse_gradient: 4 failed (s01 in both cells)
    assert page.exercises == {"identity1": (30, 11), "identity5": (30, 25), "mse_gradient": (30, 26)}


def test_regrade_replaces_the_earlier_verdict(built):
    root, _ = built
    verdicts = records.read_verdicts(root)
    latest = {(v["student"], v["grade_id"]): v for v in verdicts}
    assert len(verdicts) == 30 * len(CELLS)
    assert latest[("s20", "test_identity1")]["passed"] is True
    assert latest[("s15", "test_identity1")]["mistake"] == "negated"
    assert {v["run"] for v in verdicts} == {"run2"}
    times = records.read_notebook_times(root)
    assert len(times) == 60 and all(t["seconds"] < 99 for t in times)


def test_hostile_student_ids_are_escaped(built):
    _, out = built
    page, text = parse(out)
    assert "<script" not in text.lower()
    assert "<img src=x" not in text
    assert report.esc(HOSTILE_REASON) in text            # the reason of a flagged cell, as text
    assert "&lt;script&gt;" in text
    assert set(page.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p",
                              "ol", "ul", "li", "strong", "span", "br", "img", "table", "tr",
                              "th", "td", "code", "details", "summary"}
    assert HOSTILE in page.flagged          # the attribute value decodes to the id itself
    row = page.flagged_text[page.flagged.index(HOSTILE)]
    assert row[0] == HOSTILE and "reference" in "".join(row)
    assert FORMULA in text.replace("&#x27;", "'")   # shown as text, exactly


def test_flags_and_status_reach_the_page(built):
    _, out = built
    page, _ = parse(out)
    rows = {}
    for student, text in zip(page.flagged, page.flagged_text):   # a student's rows, joined
        rows[student] = rows.get(student, "") + " | " + "".join(text)
    assert "too slow" in rows["s05"]
    assert "failed: kernel died" in rows["s07"]
    assert "handed in late" in rows["s08"]   # from the grading status's notes
    assert "identity1: matches a known mistake: transposed" in rows["s05"]
    assert set(rows) == {HOSTILE, "s05", "s07", "s08"}


def test_figures_are_written_next_to_the_page_and_are_deterministic(built, tmp_path):
    root, out = built
    page, _ = parse(out)
    assert sorted(page.images) == sorted(os.path.basename(p) for p in report.figure_paths(out).values())
    first = {}
    for name in page.images:
        with open(os.path.join(os.path.dirname(out), name), "rb") as fh:
            first[name] = fh.read()
        assert first[name].startswith(b"\x89PNG\r\n\x1a\n")
    again = str(tmp_path / "again" / "report.html")
    assert nnlab_main(["report", "--course", root, "-o", again]) == 0
    for name, data in first.items():
        with open(os.path.join(os.path.dirname(again), name), "rb") as fh:
            assert fh.read() == data, name
    with open(out) as a, open(again) as b:
        assert a.read() == b.read()


def test_records_alone_make_a_report(tmp_path):
    """No gradebook yet (or another one): the grader's records still give counts and pass rates."""
    root = write_course(str(tmp_path / "course"), with_gradebook=False)
    out = str(tmp_path / "report.html")
    report.write_report(Course(root), out)
    page, _ = parse(out)
    assert page.mistakes == EXPECTED
    assert page.exercises["identity1"] == (30, 11)
    assert page.exercises["mse_gradient"] == (30, 26)


def test_report_without_a_catalogue_names_exercises_by_id(built, monkeypatch, tmp_path):
    root, _ = built
    monkeypatch.setattr(report, "CATALOGUES", (("nnlab.no_such_catalogue", "EXERCISES"),))
    assert report.exercise_catalogue() == {}
    out = str(tmp_path / "plain.html")
    report.write_report(Course(root), out)
    page, text = parse(out)
    assert page.mistakes == EXPECTED
    assert "Lesson 02, identity (1)" not in text


def test_empty_course_is_a_clear_error(tmp_path, capsys):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    assert nnlab_main(["report", "--course", str(root)]) == 1
    assert "nothing to report" in capsys.readouterr().err


def test_append_rejects_a_bad_record_naming_the_field(tmp_path):
    good = _verdict(1.0, "r", "a", "02_identities", "test_identity1", "identity1", 1.0, True, None)
    with pytest.raises(ValueError, match="points"):
        records.append_verdicts(str(tmp_path), [good, dict(good, points="1 point")])
    with pytest.raises(ValueError, match="flags"):
        records.append_verdicts(str(tmp_path), [dict(good, flags="late")])
    with pytest.raises(ValueError, match="lacks student"):
        records.append_verdicts(str(tmp_path), [{k: v for k, v in good.items() if k != "student"}])
    assert not os.path.exists(records.verdicts_path(str(tmp_path)))   # nothing half-written


def test_records_are_stored_as_plain_json(tmp_path):
    import numpy as np
    record = _verdict(1.0, "r", "a", "02_identities", "test_identity1", "identity1", 1.0, False,
                      "transposed")
    record.update(points=np.float64(0.0), passed=np.bool_(False), reason="first line\nsecond line")
    records.append_verdicts(str(tmp_path), [record])
    with open(records.verdicts_path(str(tmp_path))) as fh:
        stored = json.loads(fh.read())
    assert stored["passed"] is False and stored["points"] == 0.0
    assert stored["reason"] == "first line"
    assert records.read_verdicts(str(tmp_path)) == [stored]


def test_same_time_later_line_wins(tmp_path):
    base = _verdict(5.0, "r", "a", "x", "g", "identity1", 1.0, False, "negated")
    records.append_verdicts(str(tmp_path), [base, dict(base, mistake="transposed")])
    assert [v["mistake"] for v in records.read_verdicts(str(tmp_path))] == ["transposed"]


def test_cli_lists_report():
    from nnlab.grading.cli import build_parser
    help_text = build_parser().format_help()
    assert re.search(r"\breport\b", help_text)
