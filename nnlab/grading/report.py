"""The class report: what the class got wrong, lesson by lesson, in one HTML page.

    nnlab report [--course DIR] [-o OUT.html]

It reads the gradebook (scores of every graded cell, through nbgrader's Gradebook API), the
grader's records (``.grading/verdicts.jsonl``: which known mistake each failed cell made,
flags, timings; see :mod:`nnlab.grading.records`) and the grading status
(``.grading/status.json``), and writes one HTML page with PNG figures next to it:

- the mistakes to re-teach, the most common first: for each exercise, each named mistake
  and how many students made it ("outer product reversed: 14 students");
- the score distribution of each lesson;
- the pass rate of each exercise;
- the submissions the grader flagged (reference called or copied, too slow, resource limits,
  late, failed to grade);
- the grading time per notebook.

Only the latest grading of each cell counts. Every string that a student controls (ids,
reasons) is HTML-escaped; the page has no scripts, and its Content-Security-Policy forbids them.
"""

import argparse
import html
import importlib
import math
import os
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from . import records
from .course import Course, CourseError
from .export import load_status

#: Where the catalogue of exercises (id -> title, known mistakes) may live, first found wins:
#: the instructor's per-lesson catalogue, or the older single registry in nnlab.feedback.
CATALOGUES = (("nnlab.exercises", "EXERCISES"), ("nnlab.feedback", "EXERCISES"))

_CHECK_CALL = re.compile(r"""check_exercise\(\s*["']([^"']+)["']""")


# --- the exercise catalogue -----------------------------------------------------------------------

@dataclass(frozen=True)
class ExerciseInfo:
    """What the report needs to know of an exercise: its title and its known mistakes' hints."""

    id: str
    title: str
    hints: dict = field(default_factory=dict)   # mistake name -> one sentence on the fix


def exercise_catalogue():
    """{exercise id: ExerciseInfo} from the course's catalogue; {} if none can be imported.

    The report must not fail because the catalogue moved or one entry is odd: everything
    is read with getattr, and an exercise missing from it is shown by its id.
    """
    for module_name, attribute in CATALOGUES:
        try:
            entries = dict(getattr(importlib.import_module(module_name), attribute))
        except Exception:
            continue
        out = {}
        for key, entry in entries.items():
            try:
                outputs = getattr(entry, "outputs", ()) or ()
                label = getattr(outputs[0], "label", "the answer") if len(outputs) == 1 else "the answer"
                hints = {}
                for name, variant in (getattr(entry, "variants", {}) or {}).items():
                    hint = str(getattr(variant, "hint", "") or "")
                    hints[str(name)] = hint.replace("{label}", str(label))
                out[str(key)] = ExerciseInfo(str(key), str(getattr(entry, "title", key) or key), hints)
            except Exception:
                out[str(key)] = ExerciseInfo(str(key), str(key))
        return out
    return {}


# --- what the report is made of ---------------------------------------------------------------------

@dataclass
class ClassData:
    """Everything read from the course, before any counting."""

    assignments: list = field(default_factory=list)      # in the gradebook's order (lesson order)
    max_scores: dict = field(default_factory=dict)       # assignment -> max score
    scores: dict = field(default_factory=dict)           # assignment -> {student: score}
    cells: dict = field(default_factory=dict)            # (assignment, grade_id) -> {student: passed}
    cell_order: list = field(default_factory=list)       # (assignment, grade_id) in notebook order
    cell_exercises: dict = field(default_factory=dict)   # (assignment, grade_id) -> [exercise ids]
    late: dict = field(default_factory=dict)             # (student, assignment) -> penalty
    verdicts: list = field(default_factory=list)
    notebook_times: list = field(default_factory=list)
    status: dict = field(default_factory=dict)           # "student/assignment" -> status entry


def _grade_passed(grade):
    """True/False for a graded cell, None if it was never scored."""
    if grade.auto_score is None and grade.manual_score is None:
        return None
    return float(grade.score) >= float(grade.max_score) - 1e-9


def read_gradebook(db_url, data):
    """Fill ``data`` with scores and per-cell results from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            name = assignment.name
            data.assignments.append(name)
            data.max_scores[name] = float(assignment.max_score)
            data.scores[name] = {}
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    key = (name, cell.name)
                    data.cell_order.append(key)
                    data.cells.setdefault(key, {})
                    try:
                        source = gb.find_source_cell(cell.name, notebook.name, name).source
                    except Exception:
                        source = ""
                    ids = list(dict.fromkeys(_CHECK_CALL.findall(source or "")))
                    if ids:
                        data.cell_exercises[key] = ids
            for submission in assignment.submissions:
                student = submission.student.id
                graded = False
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        passed = _grade_passed(grade)
                        if passed is not None:
                            graded = True
                            data.cells.setdefault((name, grade.name), {})[student] = passed
                penalty = float(submission.late_submission_penalty or 0)
                if penalty:
                    data.late[(student, name)] = penalty
                if graded:
                    data.scores[name][student] = float(submission.score) - penalty


def read_class(course):
    """A course's gradebook, the grader's records and the grading status, as ClassData."""
    data = ClassData()
    if os.path.exists(course.db_path):
        read_gradebook(course.coursedir.db_url, data)
    data.verdicts = records.read_verdicts(course.root)
    data.notebook_times = records.read_notebook_times(course.root)
    data.status = load_status(course.root)
    # Verdicts fill what the gradebook does not have: cells it does not list, exercise ids.
    for v in data.verdicts:
        key = (v["assignment"], v["grade_id"])
        if v["assignment"] not in data.assignments:
            data.assignments.append(v["assignment"])
        if key not in data.cells:
            data.cell_order.append(key)
            data.cells[key] = {}
        data.cells[key].setdefault(v["student"], v["passed"] and v["points"] >= v["max_points"] - 1e-9)
        if v["exercise"]:
            ids = data.cell_exercises.setdefault(key, [])
            if v["exercise"] not in ids:
                ids.append(v["exercise"])
    return data


# --- counting -----------------------------------------------------------------------------------

@dataclass
class MistakeCount:
    exercise: str
    title: str
    assignment: str
    mistake: str
    students: list          # sorted student ids
    graded: int             # students graded on this exercise
    hint: str

    @property
    def count(self):
        return len(self.students)


@dataclass
class ExerciseSummary:
    id: str
    title: str
    assignment: str
    grade_ids: list
    graded: int
    passed: int
    mistakes: list          # MistakeCount, most common first
    unnamed: int            # students who failed without a recognised mistake
    check_seconds: float | None   # median grading time of one check, from the records

    @property
    def pass_rate(self):
        return self.passed / self.graded if self.graded else None


def summarize_exercises(data, catalogue):
    """One ExerciseSummary per exercise, in lesson order."""
    by_exercise = {}   # exercise id -> [(assignment, grade_id)]
    for key in data.cell_order:
        for exercise in data.cell_exercises.get(key) or [key[1]]:
            by_exercise.setdefault(exercise, [])
            if key not in by_exercise[exercise]:
                by_exercise[exercise].append(key)
    mistakes = defaultdict(lambda: defaultdict(set))   # exercise -> mistake -> {students}
    failed_named = defaultdict(set)
    seconds = defaultdict(list)
    for v in data.verdicts:
        exercise = v["exercise"] or (data.cell_exercises.get((v["assignment"], v["grade_id"]))
                                     or [v["grade_id"]])[0]
        if v["seconds"] is not None:
            seconds[exercise].append(v["seconds"])
        if v["mistake"] and not v["passed"]:
            mistakes[exercise][v["mistake"]].add(v["student"])
            failed_named[exercise].add(v["student"])
    out = []
    for exercise, keys in by_exercise.items():
        info = catalogue.get(exercise) or ExerciseInfo(exercise, exercise)
        results = defaultdict(list)
        for key in keys:
            for student, passed in data.cells.get(key, {}).items():
                results[student].append(passed)
        passed = {s for s, r in results.items() if all(r)}
        failed = set(results) - passed
        # A mistake counts for students whose latest grade of the exercise is a failure.
        counts = []
        for mistake, students in mistakes[exercise].items():
            students = sorted(s for s in students if s in failed or s not in results)
            if students:
                counts.append(MistakeCount(exercise, info.title, keys[0][0], mistake, students,
                                           len(results), info.hints.get(mistake, "")))
        counts.sort(key=lambda m: (-m.count, m.mistake))
        unnamed = len(failed - failed_named[exercise])
        median = statistics.median(seconds[exercise]) if seconds[exercise] else None
        out.append(ExerciseSummary(exercise, info.title, keys[0][0], [k[1] for k in keys],
                                   len(results), len(passed), counts, unnamed, median))
    return out


def ranked_mistakes(exercises):
    """Every (exercise, mistake) with its students, the most common first."""
    order = {e.id: i for i, e in enumerate(exercises)}
    flat = [m for e in exercises for m in e.mistakes]
    flat.sort(key=lambda m: (-m.count, order[m.exercise], m.mistake))
    return flat


@dataclass
class Flagged:
    student: str
    assignment: str
    flags: dict             # flag -> [exercise ids or grade ids]
    notes: list             # lines from the grading status and the gradebook


def flagged_submissions(data):
    """Submissions with a grader flag, a late penalty, or a status other than graded."""
    found = {}

    def entry(student, assignment):
        return found.setdefault((student, assignment), Flagged(student, assignment, {}, []))

    for v in data.verdicts:
        if not v["flags"]:
            continue
        item = entry(v["student"], v["assignment"])
        name = v["exercise"] or v["grade_id"]
        for flag in v["flags"]:
            where = item.flags.setdefault(flag, [])
            if name not in where:
                where.append(name)
        reason = f"{name}: {v['reason'][:200]}" if v["reason"] else ""
        if reason and reason not in item.notes:
            item.notes.append(reason)
    for (student, assignment), penalty in data.late.items():
        item = entry(student, assignment)
        item.flags.setdefault("late", [])
        item.notes.append(f"late penalty {penalty:g} points")
    for key, status in data.status.items():
        if "/" not in key or not isinstance(status, dict):
            continue
        student, assignment = key.split("/", 1)
        state = str(status.get("status", ""))
        reason = str(status.get("reason", "") or "")
        text = " ".join(str(n) for n in status.get("notes", []) or []) + " " + reason
        if state and state != "graded":
            entry(student, assignment).notes.append(f"{state}: {reason}".rstrip(": "))
        if re.search(r"\blate\b", text, re.IGNORECASE):
            item = entry(student, assignment)
            item.flags.setdefault("late", [])
            item.notes.extend(str(n) for n in status.get("notes", []) or []
                              if re.search(r"\blate\b", str(n), re.IGNORECASE) and str(n) not in item.notes)
    return [found[k] for k in sorted(found)]


def notebook_times(data):
    """{assignment: [(seconds, student, notebook)]}, slowest first."""
    out = defaultdict(list)
    for t in data.notebook_times:
        out[t["assignment"]].append((t["seconds"], t["student"], t["notebook"]))
    for times in out.values():
        times.sort(key=lambda item: (-item[0], item[1], item[2]))
    return dict(out)


# --- figures -------------------------------------------------------------------------------------

def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    # No timestamp or version in the PNG: the same class gives the same file.
    figure.savefig(path, format="png", metadata={"Software": None})


def figure_scores(data, path):
    """Histogram of percent scores, one panel per lesson."""
    lessons = [a for a in data.assignments if data.scores.get(a)]
    if not lessons:
        return False
    columns = min(3, len(lessons))
    rows = math.ceil(len(lessons) / columns)
    figure = _figure(4.2 * columns, 2.8 * rows)
    bins = [i * 10 for i in range(11)]
    for i, lesson in enumerate(lessons):
        ax = figure.add_subplot(rows, columns, i + 1)
        top = data.max_scores.get(lesson) or max(data.scores[lesson].values()) or 1.0
        percent = [min(100.0, max(0.0, 100.0 * s / top)) for s in data.scores[lesson].values()]
        ax.hist(percent, bins=bins, color="#4c72b0", edgecolor="white")
        median = statistics.median(percent)
        ax.axvline(median, color="#c44e52", linewidth=1.5)
        ax.set_title(f"{lesson}  (median {median:.0f}%)", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("score (% of max)", fontsize=9)
        ax.set_ylabel("students", fontsize=9)
        ax.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    _save(figure, path)
    return True


def figure_pass_rates(exercises, path):
    """Horizontal bars: pass rate of each exercise, in lesson order."""
    shown = [e for e in exercises if e.graded]
    if not shown:
        return False
    figure = _figure(8, 0.8 + 0.32 * len(shown))
    ax = figure.add_subplot(1, 1, 1)
    names = [e.id for e in shown][::-1]
    rates = [100 * e.pass_rate for e in shown][::-1]
    colours = ["#55a868" if r >= 80 else "#dd8452" if r >= 50 else "#c44e52" for r in rates]
    ax.barh(range(len(names)), rates, color=colours)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed (%)", fontsize=9)
    ax.set_title("Pass rate per exercise", fontsize=10)
    figure.tight_layout()
    _save(figure, path)
    return True


def figure_mistakes(ranked, path, limit=12):
    """Horizontal bars: the most common named mistakes."""
    top = ranked[:limit]
    if not top:
        return False
    figure = _figure(8, 0.8 + 0.36 * len(top))
    ax = figure.add_subplot(1, 1, 1)
    labels = [f"{m.exercise}: {m.mistake}" for m in top][::-1]
    counts = [m.count for m in top][::-1]
    ax.barh(range(len(top)), counts, color="#c44e52")
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("students", fontsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Most common mistakes", fontsize=10)
    figure.tight_layout()
    _save(figure, path)
    return True


def figure_times(times, path):
    """Box plot of grading seconds per notebook, one box per lesson."""
    lessons = [a for a in times if times[a]]
    if not lessons:
        return False
    figure = _figure(max(5, 1.3 * len(lessons) + 2), 3.4)
    ax = figure.add_subplot(1, 1, 1)
    ax.boxplot([[t[0] for t in times[a]] for a in lessons], showfliers=True)
    ax.set_xticks(range(1, len(lessons) + 1))
    ax.set_xticklabels(lessons, fontsize=8, rotation=20, ha="right")
    ax.set_ylabel("seconds per notebook", fontsize=9)
    ax.set_title("Grading time per notebook", fontsize=10)
    figure.tight_layout()
    _save(figure, path)
    return True


# --- the page -------------------------------------------------------------------------------------

def esc(value):
    """Text for HTML: every <, >, &, quote escaped."""
    return html.escape(str(value), quote=True)


def _students(n):
    return f"{n} student" if n == 1 else f"{n} students"


def _percent(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; } th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
ol.reteach li { margin-bottom: 0.6em; } .hint { color: #555; } .muted { color: #777; }
img { max-width: 100%; border: 1px solid #eee; } code { background: #f4f4f4; padding: 0 0.2em; }
ul.mistakes { margin: 0; padding-left: 1.1em; }
details { font-size: 0.9em; color: #555; } summary { cursor: pointer; }
"""

#: No scripts, no remote anything: only images next to the page and the inline style.
_CSP = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'"

FIGURES = ("scores", "pass_rates", "mistakes", "grading_time")


def figure_paths(out_html):
    """{figure name: path} for the PNG files written next to ``out_html``."""
    stem, _ = os.path.splitext(out_html)
    return {name: f"{stem}-{name.replace('_', '-')}.png" for name in FIGURES}


def render(data, exercises, ranked, flagged, times, images, course_name=""):
    """The page as a string. ``images``: {figure name: file name relative to the page}."""
    parts = []
    add = parts.append
    students = sorted({s for a in data.scores.values() for s in a}
                      | {v["student"] for v in data.verdicts})
    submissions = sum(len(a) for a in data.scores.values())
    latest = max([v["time"] for v in data.verdicts] + [t["time"] for t in data.notebook_times],
                 default=None)
    add("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(_CSP)}\">\n"
        f"<title>Class report{(' — ' + esc(course_name)) if course_name else ''}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n")
    add(f"<h1>Class report{(' — ' + esc(course_name)) if course_name else ''}</h1>\n")
    summary = (f"{_students(len(students))}, {submissions} graded submission(s) in "
               f"{len([a for a in data.assignments if data.scores.get(a)])} lesson(s)")
    if latest is not None:
        import datetime
        when = datetime.datetime.fromtimestamp(latest, datetime.timezone.utc)
        summary += f"; latest grading {when:%Y-%m-%d %H:%M} UTC"
    add(f"<p class=\"summary\">{esc(summary)}. Only the latest grading of each cell counts.</p>\n")

    # What to re-teach
    add("<h2 id=\"reteach\">What to re-teach: the most common mistakes</h2>\n")
    if ranked:
        add("<p>Each line is a known mistake the grader recognised, with the number of students "
            "whose latest answer made it. The most common come first.</p>\n<ol class=\"reteach\">\n")
        for m in ranked:
            add(f"<li class=\"mistake\" data-exercise=\"{esc(m.exercise)}\" data-mistake=\"{esc(m.mistake)}\" "
                f"data-students=\"{m.count}\"><strong>{esc(m.title)}</strong> — {esc(m.mistake)}: "
                f"<strong>{_students(m.count)}</strong> "
                f"<span class=\"muted\">({_percent(m.count, m.graded)} of {m.graded} graded)</span>")
            if m.hint:
                add(f"<br><span class=\"hint\">{esc(m.hint)}</span>")
            add(f"<details><summary>who</summary>{esc(', '.join(m.students))}</details>")
            add("</li>\n")
        add("</ol>\n")
        if "mistakes" in images:
            add(f"<p><img src=\"{esc(images['mistakes'])}\" alt=\"bar chart of the most common mistakes\"></p>\n")
    else:
        add("<p>No named mistakes recorded (no grader records yet, or every failure was "
            "one the catalogue does not know).</p>\n")

    # Scores per lesson
    add("<h2 id=\"scores\">Scores per lesson</h2>\n")
    if "scores" in images:
        add(f"<p><img src=\"{esc(images['scores'])}\" alt=\"histograms of the scores per lesson\"></p>\n")
    add("<table class=\"scores\">\n<tr><th>lesson</th><th>submissions</th><th>max</th><th>median</th>"
        "<th>mean</th><th>lowest</th><th>highest</th></tr>\n")
    for lesson in data.assignments:
        values = list(data.scores.get(lesson, {}).values())
        top = data.max_scores.get(lesson)
        if values:
            cells = [len(values), f"{top:g}" if top is not None else "", f"{statistics.median(values):.3g}",
                     f"{statistics.fmean(values):.3g}", f"{min(values):g}", f"{max(values):g}"]
        else:
            cells = [0, f"{top:g}" if top is not None else "", "", "", "", ""]
        add(f"<tr><td>{esc(lesson)}</td>" + "".join(f"<td class=\"num\">{esc(c)}</td>" for c in cells) + "</tr>\n")
    add("</table>\n")

    # Exercises
    add("<h2 id=\"exercises\">Exercises: pass rate and the mistakes made</h2>\n")
    if "pass_rates" in images:
        add(f"<p><img src=\"{esc(images['pass_rates'])}\" alt=\"pass rate per exercise\"></p>\n")
    add("<table class=\"exercises\">\n<tr><th>exercise</th><th>graded</th><th>passed</th>"
        "<th>named mistakes (students)</th><th>other failures</th><th>check time</th></tr>\n")
    for e in exercises:
        rate = "" if e.pass_rate is None else f" ({100 * e.pass_rate:.0f}%)"
        if e.mistakes:
            items = "".join(f"<li>{esc(m.mistake)}: {_students(m.count)}</li>" for m in e.mistakes)
            mistakes = f"<ul class=\"mistakes\">{items}</ul>"
        else:
            mistakes = "<span class=\"muted\">none</span>"
        seconds = "" if e.check_seconds is None else f"{e.check_seconds:.2g} s"
        add(f"<tr class=\"exercise\" data-exercise=\"{esc(e.id)}\" data-graded=\"{e.graded}\" "
            f"data-passed=\"{e.passed}\"><td><strong>{esc(e.title)}</strong><br>"
            f"<span class=\"muted\"><code>{esc(e.id)}</code> · {esc(e.assignment)}</span></td>"
            f"<td class=\"num\">{e.graded}</td><td class=\"num\">{e.passed}{esc(rate)}</td>"
            f"<td>{mistakes}</td><td class=\"num\">{e.unnamed}</td><td class=\"num\">{esc(seconds)}</td></tr>\n")
    add("</table>\n<p class=\"muted\">“Other failures”: students who did not pass and whose answer "
        "matched no known mistake (wrong values, errors, nothing handed in). Check time: median "
        "seconds of the grader's own check of one answer.</p>\n")

    # Flagged submissions
    add("<h2 id=\"flagged\">Flagged submissions</h2>\n")
    if flagged:
        add("<table class=\"flagged\">\n<tr><th>student</th><th>lesson</th><th>flags</th><th>notes</th></tr>\n")
        for f in flagged:
            flags = "; ".join(
                records.FLAGS.get(flag, flag) + (f" ({', '.join(where)})" if where else "")
                for flag, where in sorted(f.flags.items()))
            add(f"<tr class=\"flagged\" data-student=\"{esc(f.student)}\"><td>{esc(f.student)}</td>"
                f"<td>{esc(f.assignment)}</td><td>{esc(flags)}</td><td>{esc('; '.join(f.notes))}</td></tr>\n")
        add("</table>\n")
    else:
        add("<p>None.</p>\n")

    # Grading time
    add("<h2 id=\"time\">Grading time per notebook</h2>\n")
    if times:
        if "grading_time" in images:
            add(f"<p><img src=\"{esc(images['grading_time'])}\" alt=\"grading time per notebook\"></p>\n")
        add("<table class=\"times\">\n<tr><th>lesson</th><th>notebooks</th><th>median</th><th>slowest</th>"
            "<th>slowest student</th></tr>\n")
        for lesson in sorted(times, key=lambda a: (a not in data.assignments,
                                                   data.assignments.index(a) if a in data.assignments else 0, a)):
            values = [t[0] for t in times[lesson]]
            slowest = times[lesson][0]
            add(f"<tr><td>{esc(lesson)}</td><td class=\"num\">{len(values)}</td>"
                f"<td class=\"num\">{statistics.median(values):.1f} s</td>"
                f"<td class=\"num\">{slowest[0]:.1f} s</td><td>{esc(slowest[1])}</td></tr>\n")
        add("</table>\n")
    else:
        add("<p>No timing records yet.</p>\n")
    add("</body>\n</html>\n")
    return "".join(parts)


def write_report(course, out_html):
    """Read the course and write the page and its figures; returns the summary used."""
    data = read_class(course)
    if not data.assignments:
        raise CourseError("nothing to report: no gradebook and no grading records in "
                          f"{course.root} (run `nnlab release` and `nnlab grade` first)")
    catalogue = exercise_catalogue()
    exercises = summarize_exercises(data, catalogue)
    ranked = ranked_mistakes(exercises)
    flagged = flagged_submissions(data)
    times = notebook_times(data)
    folder = os.path.dirname(os.path.abspath(out_html))
    os.makedirs(folder, exist_ok=True)
    paths = figure_paths(os.path.abspath(out_html))
    made = {
        "scores": figure_scores(data, paths["scores"]),
        "pass_rates": figure_pass_rates(exercises, paths["pass_rates"]),
        "mistakes": figure_mistakes(ranked, paths["mistakes"]),
        "grading_time": figure_times(times, paths["grading_time"]),
    }
    images = {}
    for name, ok in made.items():
        if ok:
            images[name] = os.path.basename(paths[name])
        elif os.path.exists(paths[name]):
            os.remove(paths[name])   # a figure left over from an earlier report would mislead
    page = render(data, exercises, ranked, flagged, times, images,
                  course_name=str(getattr(course.coursedir, "course_id", "") or ""))
    with open(out_html + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(page)
    os.replace(out_html + ".tmp", out_html)
    return {"exercises": exercises, "ranked": ranked, "flagged": flagged, "figures": images}


def default_output(course):
    return os.path.join(course.state_dir, "report", "report.html")


def cmd_report(args):
    import sys
    # nbgrader runs the `alembic` script of its own environment when it opens a new gradebook.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    course = Course(args.course)
    out = args.output or default_output(course)
    result = write_report(course, out)
    print(f"wrote {os.path.relpath(out)} ({len(result['figures'])} figure(s), "
          f"{len(result['ranked'])} named mistake(s), {len(result['flagged'])} flagged submission(s))")
    return 0


def add_subcommand(sub, common):
    """Register ``nnlab report`` on the command's subparsers."""
    p = sub.add_parser("report", parents=[common], help="write the class report (HTML + PNG figures)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--output", help="the HTML file to write; figures go next to it "
                   "(default: <course>/.grading/report/report.html)")
    p.set_defaults(func=cmd_report)
    return p
