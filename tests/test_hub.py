"""The course hub's parts: roster, configuration, accounts, the exchange and the course folder.

The account and permission tests need root (they make throwaway accounts nnlabt-*, removed
at the end); the rest run anywhere.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from nnlab.hub import accounts, layout
from nnlab.hub.config import HubSettings, configure, load_settings, role_environment
from nnlab.hub.roster import Person, RosterError, read_roster

REPO = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="makes system accounts: run as root")


def write(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- roster -----------------------------------------------------------------------------------

def test_roster_reads_students_and_instructors(tmp_path):
    path = write(tmp_path, "\ufeffstudent_id,name,email\ns001,Ada Lovelace,a@x\n\ns002,,b@x\n")
    roster = read_roster(path, ["teacher", "assistant"])
    assert [p.username for p in roster.students] == ["s001", "s002"]
    assert roster.students[0].name == "Ada Lovelace"
    assert roster.students[1].name == "s002"          # no name: the id stands in
    assert roster.course_owner == Person("teacher", "teacher", "instructor")
    assert roster.usernames == ["teacher", "assistant", "s001", "s002"]


@pytest.mark.parametrize("text, instructors, message", [
    ("id,name\ns001,A\n", ["t"], "'student_id' and 'name'"),
    ("student_id,name\nS001,A\n", ["t"], "'S001' is not a valid login name"),
    ("student_id,name\ns 01,A\n", ["t"], "roster.csv:2"),
    ("student_id,name\ns001,A\ns001,B\n", ["t"], "listed twice (first on line 2)"),
    ("student_id,name\n", ["t"], "no students"),
    ("student_id,name\ns001,A\n", [], "at least one instructor"),
    ("student_id,name\ns001,A\n", ["s001"], "also a student"),
    ("student_id,name\nroot,A\n", ["t"], "reserved"),
])
def test_roster_problems_are_named(tmp_path, text, instructors, message):
    with pytest.raises(RosterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_roster(write(tmp_path, text), instructors)


def test_missing_roster_file_is_named(tmp_path):
    with pytest.raises(RosterError, match="no such roster file"):
        read_roster(tmp_path / "absent.csv", ["t"])


# --- configuration ----------------------------------------------------------------------------

def settings_in(tmp_path, **extra):
    return HubSettings(state_dir=str(tmp_path), share_dir=str(tmp_path / "share"),
                       exchange="/srv/nbgrader/exchange", students=["s001", "s002"],
                       instructors=["teacher"], python_bin="/srv/nnlab/env/bin", **extra)


def test_generated_config_round_trips_and_loads(tmp_path):
    settings = settings_in(tmp_path, student_pythonpath="/srv/nnlab/share/student-edition")
    config_file = settings.write_config()
    assert stat.S_IMODE(os.stat(tmp_path / "settings.json").st_mode) == 0o600
    assert load_settings(tmp_path / "settings.json") == settings
    # JupyterHub's own loader, as `jupyterhub -f` reads it
    from traitlets.config.loader import PyFileConfigLoader
    c = PyFileConfigLoader(config_file.name, path=str(tmp_path)).load_config()
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.Authenticator.allowed_users == {"s001", "s002", "teacher"}
    assert c.Authenticator.admin_users == {"teacher"}
    assert c.JupyterHub.cleanup_servers is False
    assert c.ConfigurableHTTPProxy.should_start is False
    assert {c.JupyterHub.ip, c.JupyterHub.hub_ip, c.Spawner.ip} == {"127.0.0.1"}
    assert c.Spawner.cmd == ["/srv/nnlab/env/bin/jupyterhub-singleuser"]


def test_extra_config_is_loaded_last(tmp_path):
    extra = write(tmp_path, "c.JupyterHub.authenticator_class = 'shared-password'\n", "site.py")
    settings = settings_in(tmp_path, extra_config=str(extra))
    settings.write_config()
    from traitlets.config.loader import PyFileConfigLoader
    c = PyFileConfigLoader("jupyterhub_config.py", path=str(tmp_path)).load_config()
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.JupyterHub.cleanup_servers is False   # the course's settings are still there


def test_unknown_setting_is_refused(tmp_path):
    path = write(tmp_path, '{"state_dir": "/x", "prot": 1}', "settings.json")
    with pytest.raises(ValueError, match=r"unknown settings \['prot'\]"):
        load_settings(path)


def test_roles_get_their_own_environment(tmp_path):
    settings = settings_in(tmp_path, student_pythonpath="/srv/nnlab/share/student-edition")
    student, teacher = role_environment(settings, "s001"), role_environment(settings, "teacher")
    assert student["JUPYTER_CONFIG_PATH"].endswith("/jupyter/student")
    assert teacher["JUPYTER_CONFIG_PATH"].endswith("/jupyter/instructor")
    assert student["PYTHONPATH"] == "/srv/nnlab/share/student-edition"
    assert "PYTHONPATH" not in teacher              # instructors import the whole package
    assert student["PATH"].split(os.pathsep)[0] == "/srv/nnlab/env/bin"


def test_pre_spawn_hook_does_not_leak_between_users(tmp_path):
    from jupyterhub.spawner import LocalProcessSpawner
    c = Config()
    configure(c, settings_in(tmp_path))

    class User:
        def __init__(self, name):
            self.name = name
    first = LocalProcessSpawner(config=c, user=User("s001"))
    second = LocalProcessSpawner(config=c, user=User("teacher"))
    c.Spawner.pre_spawn_hook(first)
    c.Spawner.pre_spawn_hook(second)
    assert first.environment["NNLAB_ROLE"] == "student"
    assert second.environment["NNLAB_ROLE"] == "instructor"


def test_user_config_hides_formgrader_from_students(tmp_path):
    dirs = layout.write_user_config(tmp_path / "share", "nnlab", Path("/srv/nbgrader/exchange"))
    student = (dirs["student"] / "jupyter_server_config.json").read_text()
    assert '"nbgrader.server_extensions.formgrader": false' in student
    assert not (dirs["instructor"] / "jupyter_server_config.json").exists()
    assert 'expanduser("~/course")' in (dirs["instructor"] / "nbgrader_config.py").read_text()
    for path in [tmp_path / "share", *(tmp_path / "share").rglob("*")]:
        assert os.stat(path).st_mode & 0o004, path   # every account reads it


def test_readable_by_everyone_follows_every_folder_up(tmp_path):
    from nnlab.hub.environment import everyone_can_read
    outer = Path(tempfile.mkdtemp(prefix="nnlab-perm-"))
    try:
        inner = outer / "lessons"
        inner.mkdir()
        os.chmod(outer, 0o755)
        os.chmod(inner, 0o755)
        assert everyone_can_read(inner)
        os.chmod(outer, 0o750)        # a closed folder above is enough
        assert not everyone_can_read(inner)
        os.chmod(outer, 0o755)
        os.chmod(inner, 0o711)
        assert not everyone_can_read(inner)
    finally:
        shutil.rmtree(outer)


def test_missing_proxy_says_how_to_install_it(tmp_path):
    from nnlab.hub.run import HubError, find_proxy
    with pytest.raises(HubError, match="npm install --prefix deploy/proxy"):
        find_proxy(str(tmp_path / "configurable-http-proxy"))


def test_nnlab_hub_reports_a_bad_roster_in_one_line(tmp_path):
    roster = write(tmp_path, "student_id,name\nBad Id,A\n")
    done = subprocess.run([sys.executable, "-m", "nnlab.grading.cli", "hub", "--roster", str(roster),
                           "--instructor", "teacher", "--setup-only"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("nnlab: error:") and "'Bad Id'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- accounts, exchange, course (root) --------------------------------------------------------

@pytest.fixture
def people():
    tag = secrets.token_hex(2)
    made = [Person(f"nnlabt-{tag}-teach", "Teacher", "instructor"),
            Person(f"nnlabt-{tag}-s01", "Student One", "student")]
    yield made
    for person in made:
        accounts.remove_account(person.username)


@needs_root
def test_accounts_have_private_homes_and_their_own_passwords(tmp_path, people):
    pamela = pytest.importorskip("pamela")
    passwords = accounts.provision(people, tmp_path / "passwords.csv")
    assert stat.S_IMODE(os.stat(tmp_path / "passwords.csv").st_mode) == 0o600
    teacher, student = people
    assert passwords[teacher.username] != passwords[student.username]
    for person in people:
        assert stat.S_IMODE(os.stat(accounts.home_of(person.username)).st_mode) == 0o700
        pamela.authenticate(person.username, passwords[person.username], service="login")
    with pytest.raises(pamela.PAMError):  # one student's password is not another's
        pamela.authenticate(student.username, passwords[teacher.username], service="login")
    import grp
    assert teacher.username in grp.getgrnam("nnlab-instructors").gr_mem   # reads the answer key
    assert student.username not in grp.getgrnam("nnlab-instructors").gr_mem
    # A second run keeps the passwords that were handed out.
    assert accounts.provision(people, tmp_path / "passwords.csv") == passwords


@needs_root
def test_exchange_and_course_permissions(tmp_path, people):
    teacher, student = people
    accounts.provision(people, tmp_path / "passwords.csv")
    public = Path(tempfile.mkdtemp(prefix="nnlab-exchange-"))  # pytest's tmp_path is 0700
    os.chmod(public, 0o755)
    exchange = layout.prepare_exchange(public / "srv" / "exchange")
    assert stat.S_IMODE(os.stat(exchange).st_mode) == 0o1777
    course = layout.prepare_course(teacher, REPO / "notebooks", REPO / "autograder" / "nbgrader_config.py",
                                   "nnlab", exchange)
    info = os.stat(course)
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == pwd.getpwnam(teacher.username).pw_uid
    assert (course / "source" / "01_jacobians" / "01_jacobians.ipynb").is_file()
    config = (course / "nbgrader_config.py").read_text()
    assert 'c.CourseDirectory.source_directory = "source"' in config
    assert f"c.Exchange.root = {str(exchange)!r}" in config
    # The student cannot look into the course nor the teacher's home; the exchange they can use.
    for target, allowed in ((course, False), (accounts.home_of(teacher.username), False),
                            (exchange, True)):
        done = subprocess.run(["runuser", "-u", student.username, "--", "ls", str(target)],
                              capture_output=True, text=True, check=False)
        assert (done.returncode == 0) == allowed, (target, done.stderr)
    # An existing course (gradebook, submissions) is never overwritten.
    (course / "nbgrader_config.py").write_text("# the instructor's own\n")
    layout.prepare_course(teacher, REPO / "notebooks", REPO / "autograder" / "nbgrader_config.py",
                          "nnlab", exchange)
    assert (course / "nbgrader_config.py").read_text() == "# the instructor's own\n"
    shutil.rmtree(public)
