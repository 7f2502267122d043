"""Where the course hub keeps things, and how each place is made and protected.

====================================  =====================  ===============================
place                                 owner, mode            holds
====================================  =====================  ===============================
``state_dir`` (/srv/nnlab/hub)        root, 0700             hub database, cookie secret,
                                                             proxy token, passwords, logs
``share_dir`` (/srv/nnlab/share)      root, 0755             the single-user Jupyter config
                                                             of students and instructors
``exchange`` (/srv/nbgrader/exchange) root, 1777             nbgrader's exchange (below)
``~<instructor>/course``              instructor, 0700       the nbgrader course: lessons,
                                                             gradebook, submissions
``~<student>``                        student, 0700          the student's work
====================================  =====================  ===============================

The exchange follows nbgrader's documentation: its root is writable by everyone (plus the
sticky bit, so nobody removes what another made); the course folder in it is created by the
instructor's first release, with nbgrader's own modes: ``outbound`` 0755 (everyone fetches),
``inbound`` 2733 (everyone submits, nobody but the instructor lists), ``feedback`` 0711
(nobody lists; a student fetches only the files named by the hash of their own submission).
"""
from __future__ import annotations

import os
import pwd
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .roster import Person

COURSE_CONFIG_NOTE = """
# --- On the course hub ------------------------------------------------------------------
# Written by `nnlab hub`: the lessons are copied into source/, the exchange is shared.
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
"""


def make_private_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    return path


def prepare_exchange(exchange: Path) -> Path:
    """Create the exchange root (world-writable, sticky); its parents are 0755."""
    for parent in reversed(exchange.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o1777)
    return exchange


def student_edition(target: Path) -> Path | None:
    """The nnlab that students' servers import: a directory to put first on their PYTHONPATH.

    The students' copy of nnlab withholds the reference answers of the graded exercises.
    This is the one place where that edition is plugged into the hub: it is written into
    `target` (as `target/nnlab`, rebuilt on every start, readable by everyone) and `target`
    is returned.  The grading sandbox shows kernels the same edition, so a student's server
    and the grader run the same code.
    """
    from nnlab.grading import edition

    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o755)
    edition.build(str(target))
    return target


def course_dir(owner: Person) -> Path:
    return Path(pwd.getpwnam(owner.username).pw_dir) / "course"


def prepare_course(owner: Person, lessons: Path, course_config: Path, course_id: str,
                   exchange: Path) -> Path:
    """The instructor's nbgrader course in ``~owner/course`` (0700, owned by them).

    An existing course is left as it is (it holds the gradebook and the students' work);
    a new one gets the lessons in ``source/`` and the repository's grading configuration.
    """
    entry = pwd.getpwnam(owner.username)
    root = course_dir(owner)
    if not (root / "nbgrader_config.py").exists():
        if not course_config.is_file():
            raise FileNotFoundError(f"{course_config}: the course's nbgrader_config.py is missing")
        if not lessons.is_dir():
            raise FileNotFoundError(f"{lessons}: no lesson folder to copy into the course")
        root.mkdir(exist_ok=True)
        shutil.copytree(lessons, root / "source", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        text = course_config.read_text()
        text += COURSE_CONFIG_NOTE.format(course_id=course_id, exchange=str(exchange))
        (root / "nbgrader_config.py").write_text(text)
    for path in [root, *root.rglob("*")]:
        os.lchown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o700)
    return root


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, 0o644)


def write_user_config(share_dir: Path, course_id: str, exchange: Path) -> dict[str, Path]:
    """The Jupyter config directories of the two roles (JUPYTER_CONFIG_PATH of their servers).

    Both know the course and the exchange.  Instructors find their course in ``~/course``
    (Formgrader); students do not get Formgrader, the course list or the assignment creator.
    """
    share_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(share_dir, 0o755)
    common = ("c = get_config()  # noqa: F821\n"
              f"c.CourseDirectory.course_id = {course_id!r}\n"
              f"c.Exchange.root = {str(exchange)!r}\n")
    dirs = {}
    for role in ("student", "instructor"):
        folder = share_dir / "jupyter" / role
        folder.mkdir(parents=True, exist_ok=True)
        for path in (share_dir / "jupyter", folder):
            os.chmod(path, 0o755)
        text = "# Written by `nnlab hub`.\nimport os\n" + common
        if role == "instructor":
            text += 'c.CourseDirectory.root = os.path.expanduser("~/course")\n'
        _write(folder / "nbgrader_config.py", text)
        dirs[role] = folder
    student = dirs["student"]
    _write(student / "jupyter_server_config.json",
           '{"ServerApp": {"jpserver_extensions": {\n'
           '  "nbgrader.server_extensions.formgrader": false,\n'
           '  "nbgrader.server_extensions.course_list": false}}}\n')
    _write(student / "labconfig" / "page_config.json",
           '{"disabledExtensions": {\n'
           '  "@jupyter/nbgrader:formgrader": true,\n'
           '  "@jupyter/nbgrader:course-list": true,\n'
           '  "@jupyter/nbgrader:create-assignment": true}}\n')
    os.chmod(student / "labconfig", 0o755)
    return dirs


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)
