"""The grade sheet: one row per student and assignment, with the reason when it is not a plain grade.

Student ids, assignment names and reasons (which quote file names) come from what students
hand in, so every such cell is made safe to open in a spreadsheet (OWASP's CSV-injection
advice): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'``, line breaks and tabs inside a cell become spaces, and a formula character that
follows a separator or a quote inside a cell is escaped the same way.
"""

import csv
import json
import os
import re

from nbgrader.api import Gradebook

from .events import STATE_DIR

STATUS_FILE = "status.json"
COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "reason"]
#: The columns whose text a student controls.
STUDENT_TEXT = ("student_id", "assignment", "reason")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EMBEDDED = re.compile(r"""([,;|"'])(\s*)([=+\-@])""")


def spreadsheet_safe(text):
    """``text`` as a cell no spreadsheet reads as a formula (OWASP CSV-injection escaping)."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")  # undecodable file names
    lead = "'" if text.startswith(FORMULA_START) or text.lstrip().startswith(FORMULA_START) else ""
    text = re.sub(r"[\t\r\n]+", " ", text)
    text = _EMBEDDED.sub(r"\1\2'\3", text)
    return lead + text


def status_path(root):
    return os.path.join(root, STATE_DIR, STATUS_FILE)


def load_status(root):
    try:
        with open(status_path(root), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save_status(root, results):
    """Merge {(student, assignment): status} into .grading/status.json (latest run wins)."""
    status = load_status(root)
    for (student, assignment), entry in results.items():
        entry = {k: v for k, v in entry.items() if k != "timings"}
        status[f"{student}/{assignment}"] = entry
    path = status_path(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(status, fh, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _fmt(value):
    return f"{float(value):g}"


def rows(course, assignments=None):
    """Rows for every submission in the gradebook, plus submissions that could not be graded."""
    status = load_status(course.root)
    out, seen = [], set()
    if os.path.exists(course.db_path):
        with Gradebook(course.coursedir.db_url) as gb:
            for assignment in gb.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for submission in assignment.submissions:
                    student = submission.student.id
                    entry = status.get(f"{student}/{assignment.name}", {})
                    penalty = submission.late_submission_penalty or 0
                    failed = entry.get("status") == "failed"
                    reason = "; ".join([entry.get("reason", "")] + [
                        n for n in entry.get("notes", []) if n not in entry.get("reason", "")]).strip("; ")
                    if penalty:
                        reason = "; ".join(filter(None, [reason, f"late penalty {_fmt(penalty)}"]))
                    out.append({"student_id": student, "assignment": assignment.name,
                                "score": "0" if failed else _fmt(submission.score - penalty),
                                "max_score": _fmt(assignment.max_score),
                                "status": entry.get("status", "graded"), "reason": reason})
                    seen.add((student, assignment.name))
    for key, entry in sorted(status.items()):
        student, assignment = key.split("/", 1)
        if (student, assignment) in seen or (assignments and assignment not in assignments):
            continue
        out.append({"student_id": student, "assignment": assignment, "score": "0", "max_score": "",
                    "status": entry.get("status", "skipped"),
                    "reason": "; ".join(filter(None, [entry.get("reason", "")] + entry.get("notes", [])))})
    out.sort(key=lambda r: (r["student_id"], r["assignment"]))
    return out


def write_csv(course, path, assignments=None):
    data = rows(course, assignments)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: spreadsheet_safe(v) if k in STUDENT_TEXT else v for k, v in r.items()}
                         for r in data)
    return data


def gradebook_rows(db_url):
    """Every grade in the gradebook as plain tuples, sorted: for comparing two gradebooks."""
    out = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        out.append((submission.student.id, assignment.name, notebook.name, grade.name,
                                    grade.auto_score, grade.manual_score, grade.needs_manual_grade,
                                    grade.max_score))
    return sorted(out)
