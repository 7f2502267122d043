"""The class list: who may log in to the course hub, and who teaches.

The roster is a CSV file with a header ``student_id,name`` (more columns are ignored);
instructors are named on the command line.  Every id becomes a login name and a system
account, so it must be a valid Linux user name.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

# What useradd accepts on every distribution, lower case so that logins are not case games.
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
RESERVED = {"root", "daemon", "bin", "sys", "nobody", "admin", "jupyterhub", "www-data"}


class RosterError(ValueError):
    """A problem in the class list, named with its file and line."""


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    role: str  # "student" or "instructor"


@dataclass(frozen=True)
class Roster:
    students: tuple[Person, ...]
    instructors: tuple[Person, ...]

    @property
    def people(self) -> tuple[Person, ...]:
        return self.instructors + self.students

    @property
    def usernames(self) -> list[str]:
        return [p.username for p in self.people]

    @property
    def course_owner(self) -> Person:
        """The first instructor: the course directory lives in their home."""
        return self.instructors[0]


def check_username(name: str, where: str) -> str:
    """`name` if it is a usable login name, else a RosterError that says why."""
    if not USERNAME.match(name):
        raise RosterError(f"{where}: {name!r} is not a valid login name (lower-case letters, "
                          "digits, '_' and '-', starting with a letter or '_', at most 32)")
    if name in RESERVED:
        raise RosterError(f"{where}: {name!r} is a reserved system name")
    return name


def read_roster(csv_path: str | Path, instructors: list[str] | tuple[str, ...]) -> Roster:
    """Read ``student_id,name`` rows from `csv_path`; `instructors` are login names.

    Raises RosterError for a missing column, a bad or duplicate id, an empty roster, no
    instructor, or an instructor who is also listed as a student.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise RosterError(f"{path}: no such roster file")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "student_id" not in header or "name" not in header:
            raise RosterError(f"{path}: the header must have 'student_id' and 'name' columns; "
                              f"it has {reader.fieldnames}")
        reader.fieldnames = header
        students, seen = [], {}
        for line, row in enumerate(reader, start=2):
            raw = (row.get("student_id") or "").strip()
            if not raw and not any((v or "").strip() for v in row.values()):
                continue  # a blank line
            where = f"{path}:{line}"
            username = check_username(raw, where)
            if username in seen:
                raise RosterError(f"{where}: {username!r} is listed twice (first on line {seen[username]})")
            seen[username] = line
            students.append(Person(username, (row.get("name") or "").strip() or username, "student"))
    if not students:
        raise RosterError(f"{path}: no students listed")
    if not instructors:
        raise RosterError("at least one instructor is needed (--instructor NAME)")
    teachers = []
    for name in instructors:
        username = check_username(name.strip(), "--instructor")
        if username in seen:
            raise RosterError(f"instructor {username!r} is also a student in {path} (line {seen[username]})")
        if username not in [t.username for t in teachers]:
            teachers.append(Person(username, username, "instructor"))
    return Roster(tuple(students), tuple(teachers))
