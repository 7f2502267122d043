"""System accounts for the course: one per person, each with a private home and password.

JupyterHub's ``LocalProcessSpawner`` runs every user's server as that user's own Unix
account, so the kernel's file permissions are what keep one student out of another's work:
each home directory is ``0700``.  The hub's default authenticator (PAM) checks the account's
own password, so each person logs in with a password that is theirs alone.

Everything here runs as root (``useradd``, ``chpasswd``, ``userdel``).
"""
from __future__ import annotations

import csv
import os
import pwd
import secrets
import subprocess
from pathlib import Path

from .roster import Person


class AccountError(RuntimeError):
    """A system account could not be made or changed."""


def _run(command: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AccountError(f"{' '.join(command[:2])} ... failed: {result.stderr.strip() or result.returncode}")


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise AccountError(f"{what} needs root (system accounts, the exchange and the spawner "
                           "switch users); run it with sudo")


def exists(username: str) -> bool:
    try:
        pwd.getpwnam(username)
        return True
    except KeyError:
        return False


def home_of(username: str) -> Path:
    return Path(pwd.getpwnam(username).pw_dir)


def ensure_account(person: Person) -> bool:
    """Create the account of `person` if missing; make its home 0700.  True if it was created."""
    created = False
    if not exists(person.username):
        comment = person.name.replace(":", " ").replace(",", " ")
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", comment,
              person.username])
        created = True
    home = home_of(person.username)
    if not home.is_dir():
        entry = pwd.getpwnam(person.username)
        home.mkdir(parents=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)
    return created


def set_password(username: str, password: str) -> None:
    _run(["chpasswd"], stdin=f"{username}:{password}\n")


def new_password() -> str:
    """A password to hand out: 12 characters, easy to read aloud (no 0/O, 1/l/I)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def read_passwords(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        return {row["username"]: row["password"] for row in csv.DictReader(handle)}


def write_passwords(path: Path, people: list[Person], passwords: dict[str, str]) -> None:
    """username,name,role,password for the instructor to hand out; readable by root only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", "name", "role", "password"])
        for person in people:
            if person.username in passwords:
                writer.writerow([person.username, person.name, person.role, passwords[person.username]])
    os.chmod(path, 0o600)


def provision(people: list[Person], passwords_file: Path, reset: bool = False) -> dict[str, str]:
    """Make every account and give each new one a password of its own.

    Instructors join the group that may read the whole nnlab package (the answer key).
    Passwords already handed out (in `passwords_file`) are kept, unless `reset`.  An account
    that existed before and has no entry in the file keeps the password it has.
    Returns {username: password} of the passwords in the file.
    """
    require_root("creating the course accounts")
    from .environment import INSTRUCTORS_GROUP, ensure_group
    ensure_group(INSTRUCTORS_GROUP)
    known = {} if reset else read_passwords(passwords_file)
    for person in people:
        created = ensure_account(person)
        if person.role == "instructor":
            _run(["usermod", "--append", "--groups", INSTRUCTORS_GROUP, person.username])
        if created or reset or person.username in known:
            password = known.get(person.username) or new_password()
            set_password(person.username, password)
            known[person.username] = password
    write_passwords(passwords_file, people, known)
    return known


def remove_account(username: str) -> None:
    """Delete the account and its home (used to clean up test accounts)."""
    if exists(username):
        uid = pwd.getpwnam(username).pw_uid
        for pid in processes_of(uid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        _run(["userdel", "--remove", "--force", username])


def processes_of(uid: int) -> list[int]:
    """Process ids owned by `uid` (its single-user server and kernels)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids
