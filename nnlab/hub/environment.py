"""The single-user environment: the Python that every student's and instructor's server runs.

Servers run as the users' own accounts, so their Python must be readable by everyone.
A development virtualenv often is not (its interpreter may live in root's home), so the
hub gets an environment of its own, built from the project: a venv from a Python that every
account can run, with nnlab and its dependencies installed (not editable: the users' servers
never read the repository).  It is rebuilt only when the project's files change.
"""
from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT = Path("/srv/nnlab/env")
STAMP = ".nnlab-installed"
# May read the whole nnlab package (the answer key included); the instructors are in it.
INSTRUCTORS_GROUP = "nnlab-instructors"


class SingleUserEnvError(RuntimeError):
    """The single-user environment could not be built."""


def _everyone_can_run(path: Path) -> bool:
    """True if any account can execute `path` (every folder on the way is o+x)."""
    real = Path(os.path.realpath(path))
    if not real.exists() or not os.stat(real).st_mode & 0o001:
        return False
    return all(os.stat(parent).st_mode & 0o001 for parent in real.parents)


def everyone_can_read(folder: Path) -> bool:
    """True if any account can list `folder` (it and every folder above are o+x, it is o+r)."""
    real = Path(os.path.realpath(folder))
    if not real.is_dir() or (os.stat(real).st_mode & 0o005) != 0o005:
        return False
    return all(os.stat(parent).st_mode & 0o001 for parent in real.parents)


def base_python() -> str:
    """A Python every account can run: this one's base interpreter, or the system's python3."""
    for candidate in (getattr(sys, "_base_executable", None), sys.executable,
                      shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if candidate and _everyone_can_run(Path(candidate)):
            return candidate
    raise SingleUserEnvError("no Python that every account can run was found "
                            "(install python3 system-wide, e.g. apt-get install python3-venv)")


def project_fingerprint(project: Path) -> str:
    """A hash of what the environment is built from: pyproject.toml and nnlab's sources."""
    digest = hashlib.sha256()
    files = [project / "pyproject.toml"] + sorted((project / "nnlab").rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(project)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure(project: Path, env: Path = DEFAULT, log=print) -> Path:
    """Build (or refresh) the environment at `env` from the project at `project`.

    Returns the environment's bin/ folder.  The first build downloads the dependencies
    (a few minutes); later calls reinstall only nnlab, and only when its files changed.
    """
    project = project.resolve()
    if not (project / "pyproject.toml").is_file():
        raise SingleUserEnvError(f"{project}: no pyproject.toml (run from the repository root)")
    for parent in reversed(env.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
    # One build at a time: a hub and a test may ask at once.
    with open(env.parent / f".{env.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(project, env, log)


def _ensure(project: Path, env: Path, log) -> Path:
    python = env / "bin" / "python"
    stamp = env / STAMP
    wanted = project_fingerprint(project)
    if stamp.is_file() and stamp.read_text().strip() == wanted and python.exists():
        return env / "bin"
    if not python.exists():
        log(f"building the single-user environment in {env} (first time: a few minutes)")
        _run([base_python(), "-m", "venv", str(env)])
    # A copy of the project, so that pip's build leaves nothing in the repository.
    build = env / ".build"
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(project, build, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "*.egg-info", "__pycache__", "autograder",
        "notebooks", "tests", "bench", ".hypothesis", ".pytest_cache"))
    try:
        _run([str(python), "-m", "pip", "install", "--quiet", f"{build}[hub]"])
        _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
              str(build)])
    finally:
        shutil.rmtree(build, ignore_errors=True)
    for path in [env, *env.rglob("*")]:   # readable by every account, writable by root only
        if not path.is_symlink():
            mode = os.stat(path).st_mode
            os.chmod(path, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & ~0o022)
    protect_answer_key(python)
    stamp.write_text(wanted + "\n")
    return env / "bin"


def protect_answer_key(python: Path) -> Path:
    """Make the installed nnlab (which holds the graded exercises' reference answers)
    readable by the instructors' group only.

    Students' servers import the student edition from their PYTHONPATH; without this, the
    whole package would still lie readable in the environment's site-packages.
    """
    group = ensure_group(INSTRUCTORS_GROUP)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    package = Path(site) / "nnlab"
    os.chown(package, 0, group)
    os.chmod(package, 0o750)
    return package


def ensure_group(name: str) -> int:
    """The gid of group `name`, created if missing."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", "--force", name])
        return grp.getgrnam(name).gr_gid


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SingleUserEnvError(f"{' '.join(command[:4])} ... failed:\n{result.stderr[-2000:]}")
