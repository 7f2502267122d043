"""The nbgrader course: where it lives, its configuration, its assignments.

The course root is ``autograder/`` (``--course DIR`` points elsewhere). Its
``nbgrader_config.py`` sets ``CourseDirectory.source_directory = "../notebooks"``, so the
source step reads the lesson masters in place: one assignment per lesson folder,
``notebooks/<assignment>/<assignment>.ipynb``.
"""

import logging
import os
import sqlite3

from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from .events import STATE_DIR


class CourseError(Exception):
    """A problem the instructor must fix; printed as one line."""


def find_root(course=None):
    """The course root: ``course`` if given, else ./autograder, else the current directory."""
    candidates = [course] if course else ["autograder", "."]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "nbgrader_config.py")):
            return os.path.abspath(candidate)
    if course:
        raise CourseError(f"no nbgrader_config.py in {course}")
    raise CourseError("no course here: run from the repository root (with autograder/nbgrader_config.py) "
                      "or pass --course DIR")


class Course:
    """One nbgrader course, opened through nbgrader's own API and configuration."""

    def __init__(self, course=None, log=None):
        self.root = find_root(course)
        self.log = log or logging.getLogger("nnlab.grading")
        try:
            self.config = PyFileConfigLoader("nbgrader_config.py", path=self.root).load_config()
        except Exception as exc:
            raise CourseError(f"cannot load {self.root}/nbgrader_config.py: {exc}") from None
        self.config.CourseDirectory.root = self.root
        if "root" not in self.config.get("Exchange", {}):
            # nbgrader's API probes its exchange on start-up; give it a harmless place to look.
            self.config.Exchange.root = os.path.join(self.root, STATE_DIR, "exchange")
        self.coursedir = CourseDirectory(config=self.config, log=self.log)
        self.state_dir = os.path.join(self.root, STATE_DIR)
        os.makedirs(os.path.join(self.state_dir, "exchange"), exist_ok=True)

    # --- paths ----------------------------------------------------------------------------------

    def step_dir(self, step):
        """The folder of an nbgrader step (source, release, submitted, autograded, feedback)."""
        name = getattr(self.coursedir, f"{step}_directory")
        return os.path.normpath(os.path.join(self.root, name))

    @property
    def source_dir(self):
        return self.step_dir("source")

    @property
    def db_path(self):
        url = self.coursedir.db_url
        if not url.startswith("sqlite:///"):
            raise CourseError(f"only SQLite gradebooks are supported; db_url is {url}")
        return url[len("sqlite:///"):]

    def assignments(self):
        """Assignment ids: the lesson folders of the source directory that hold a notebook."""
        if not os.path.isdir(self.source_dir):
            raise CourseError(f"source directory {self.source_dir} does not exist")
        found = []
        for name in sorted(os.listdir(self.source_dir)):
            folder = os.path.join(self.source_dir, name)
            if os.path.isdir(folder) and any(f.endswith(".ipynb") for f in os.listdir(folder)):
                found.append(name)
        return found

    def api(self):
        """nbgrader's own API on this course (converters log to our logger)."""
        return NbGraderAPI(self.coursedir, config=self.config, log=self.log)

    def released_assignments(self):
        """Assignments present in the gradebook (run ``nnlab release`` first)."""
        if not os.path.exists(self.db_path):
            return set()
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as db:
            try:
                return {row[0] for row in db.execute("SELECT name FROM assignment")}
            except sqlite3.DatabaseError:
                return set()

    def snapshot_gradebook(self, dest):
        """A consistent copy of the gradebook (SQLite's online backup), for read-only use by workers."""
        with sqlite3.connect(self.db_path) as src, sqlite3.connect(dest) as dst:
            src.backup(dst)
        return dest
