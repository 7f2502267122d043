"""Why a submission got its grade: notes written by the grading steps, read by the CLI.

Steps run inside nbgrader's converter, whose working directory is the course root, so the
notes go to ``<course>/.grading/events.jsonl``, one JSON object a line.
"""

import json
import os
import time

STATE_DIR = ".grading"
EVENTS_FILE = "events.jsonl"

#: Set in parallel workers: the parent records everything once, when it writes the gradebook.
MUTED = False


def events_path(root=None):
    return os.path.join(root or os.getcwd(), STATE_DIR, EVENTS_FILE)


def emit(student, assignment, notebook, message, kind="note", root=None):
    """Append one note about (student, assignment, notebook)."""
    if MUTED:
        return
    path = events_path(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    record = {"time": time.time(), "student": student, "assignment": assignment,
              "notebook": notebook, "kind": kind, "message": message}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_from(path, offset):
    """Notes appended after byte ``offset``; returns (records, new_offset)."""
    if not os.path.exists(path):
        return [], offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    records = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, offset + len(data)
