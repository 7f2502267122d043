"""``nnlab hub``: set up the course on this machine and run its hub.

    nnlab hub --roster students.csv --instructor teacher [--port 8000] [--ip 127.0.0.1]

Run as root from the repository root.  It creates the accounts (passwords in
``<state>/passwords.csv``), the exchange, the instructor's course and the single-user
configuration, then starts the proxy and the hub and waits; Ctrl-C stops both (the
students' servers keep running, as on a hub restart).
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import accounts, environment, layout
from .config import HubSettings
from .roster import read_roster

PROXY = "configurable-http-proxy"
# Where `make hub` (npm install --prefix deploy/proxy) puts the proxy.
PROXY_PACKAGE = Path("deploy") / "proxy"


class HubError(RuntimeError):
    """One line for the instructor."""


def find_proxy(explicit: str | None = None) -> str:
    """The configurable-http-proxy executable: --proxy, else the project's node_modules, else PATH."""
    if explicit:
        candidates = [explicit]
    else:
        candidates = [str(PROXY_PACKAGE / "node_modules" / ".bin" / PROXY),
                      str(Path(__file__).resolve().parents[2] / PROXY_PACKAGE / "node_modules" / ".bin" / PROXY),
                      shutil.which(PROXY)]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    raise HubError(f"{explicit or PROXY} not found: run `npm install --prefix {PROXY_PACKAGE}` "
                   "(make hub does) or pass --proxy PATH")


def secret_file(path: Path) -> str:
    """A token kept in a root-only file, made once: restarts reuse it."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def prepare(settings: HubSettings, roster, lessons: Path, course_config: Path,
            reset_passwords: bool = False) -> dict[str, str]:
    """Accounts, exchange, course, single-user config and hub config.  Returns the passwords."""
    accounts.require_root("nnlab hub")
    state = layout.make_private_dir(Path(settings.state_dir))
    passwords = accounts.provision(list(roster.people), state / "passwords.csv", reset_passwords)
    layout.prepare_exchange(Path(settings.exchange))
    layout.prepare_course(roster.course_owner, lessons, course_config, settings.course_id,
                          Path(settings.exchange))
    layout.write_user_config(Path(settings.share_dir), settings.course_id, Path(settings.exchange))
    edition = layout.student_edition(Path(settings.share_dir) / "student-edition")
    settings.student_pythonpath = str(edition) if edition else None
    settings.write_config()
    return passwords


@dataclass
class Processes:
    proxy: subprocess.Popen
    hub: subprocess.Popen


def _env(settings: HubSettings) -> dict[str, str]:
    env = dict(os.environ)
    env["CONFIGPROXY_AUTH_TOKEN"] = secret_file(Path(settings.state_dir) / "proxy_token")
    env["PATH"] = os.pathsep.join([settings.python_bin, env.get("PATH", "")])
    return env


def start_proxy(settings: HubSettings, proxy: str) -> subprocess.Popen:
    """configurable-http-proxy on settings.ip, routing to the hub by default.
    Its token travels in the environment, never on the command line."""
    log = open(Path(settings.state_dir) / "proxy.log", "ab")
    command = [proxy, "--ip", settings.ip, "--port", str(settings.port),
               "--api-ip", settings.ip, "--api-port", str(settings.proxy_api_port),
               "--default-target", settings.hub_url,
               "--error-target", f"{settings.hub_url}/hub/error"]
    return subprocess.Popen(command, env=_env(settings), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_hub(settings: HubSettings) -> subprocess.Popen:
    """The hub, in its own session (the servers it spawns are not its process group's)."""
    state = Path(settings.state_dir)
    log = open(state / "jupyterhub.log", "ab")
    command = [str(Path(settings.python_bin) / "jupyterhub"), "-f", str(state / "jupyterhub_config.py")]
    return subprocess.Popen(command, cwd=state, env=_env(settings), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise HubError(f"{process.args[0]} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return  # it answers (a 503 is the proxy saying the hub is not there yet)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise HubError(f"{url} did not answer within {timeout:.0f} s (log: {log})")
        time.sleep(0.3)


def start(settings: HubSettings, proxy: str) -> Processes:
    """Start the proxy, then the hub; return when the hub answers through the proxy."""
    state = Path(settings.state_dir)
    proxy_process = start_proxy(settings, proxy)
    try:
        wait_for(settings.proxy_api_url + "/api/routes", proxy_process, state / "proxy.log", 60)
        hub = start_hub(settings)
        wait_for(settings.url + "/hub/api/", hub, state / "jupyterhub.log")
    except BaseException:
        stop_process(proxy_process)
        if "hub" in locals():
            stop_process(hub)
        raise
    return Processes(proxy_process, hub)


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def add_parser(sub) -> argparse.ArgumentParser:
    """The `hub` subcommand of the `nnlab` command."""
    p = sub.add_parser("hub", help="set up the course on this machine and run its JupyterHub (root)")
    p.add_argument("--roster", required=True, help="CSV with student_id,name columns")
    p.add_argument("--instructor", action="append", required=True,
                   help="login name of an instructor (repeatable; the first owns the course)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="the hub's public port (default 8000)")
    p.add_argument("--hub-port", type=int, default=8081, help="the hub's internal port")
    p.add_argument("--proxy-api-port", type=int, default=8001, help="the proxy's API port")
    p.add_argument("--state", default="/srv/nnlab/hub", help="hub state (root only)")
    p.add_argument("--share", default="/srv/nnlab/share", help="single-user configuration")
    p.add_argument("--exchange", default="/srv/nbgrader/exchange", help="nbgrader exchange root")
    p.add_argument("--lessons", default="notebooks", help="lesson masters to copy into the course")
    p.add_argument("--course-config", default="autograder/nbgrader_config.py",
                   help="grading configuration to copy into the course")
    p.add_argument("--env", default=str(environment.DEFAULT),
                   help="the single-user environment, built from this repository if needed")
    p.add_argument("--extra-config", help="a jupyterhub_config.py of your own, loaded after the "
                   "course's (another login, say)")
    p.add_argument("--proxy", help="configurable-http-proxy executable")
    p.add_argument("--reset-passwords", action="store_true", help="give everyone a new password")
    p.add_argument("--setup-only", action="store_true", help="prepare everything, start nothing")
    p.set_defaults(func=cmd_hub)
    return p


def cmd_hub(args) -> int:
    try:
        roster = read_roster(args.roster, args.instructor)
        proxy = find_proxy(args.proxy)
        accounts.require_root("nnlab hub")
        python_bin = environment.ensure(Path("."), Path(args.env))
        settings = HubSettings(
            state_dir=os.path.abspath(args.state), share_dir=os.path.abspath(args.share),
            exchange=os.path.abspath(args.exchange),
            students=[p.username for p in roster.students],
            instructors=[p.username for p in roster.instructors],
            extra_config=os.path.abspath(args.extra_config) if args.extra_config else None,
            python_bin=str(python_bin), ip=args.ip, port=args.port, hub_port=args.hub_port, proxy_api_port=args.proxy_api_port)
        prepare(settings, roster, Path(args.lessons), Path(args.course_config), args.reset_passwords)
    except (HubError, accounts.AccountError, environment.SingleUserEnvError, ValueError,
            FileNotFoundError) as exc:
        print(f"nnlab: error: {exc}", file=sys.stderr)
        return 1
    passwords = Path(settings.state_dir) / "passwords.csv"
    if environment.everyone_can_read(Path(args.lessons)):
        print(f"nnlab: warning: {os.path.abspath(args.lessons)} (the lesson masters, with their "
              "solutions) is readable by every account on this machine, students included: "
              "`chmod o-rwx` the repository", file=sys.stderr)
    print(f"{len(roster.students)} student(s), instructor(s): {', '.join(settings.instructors)}; "
          f"passwords in {passwords}")
    if args.setup_only:
        return 0
    try:
        processes = start(settings, proxy)
    except HubError as exc:
        print(f"nnlab: error: {exc}", file=sys.stderr)
        return 1
    print(f"course hub at {settings.url}  (logs in {settings.state_dir}; Ctrl-C stops it)", flush=True)
    stopping = []
    # Ctrl-C and SIGTERM both end the loop below (a background start may have SIGINT ignored).
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        while not stopping:
            if processes.hub.poll() is not None or processes.proxy.poll() is not None:
                print("nnlab: error: the hub or its proxy stopped; see the logs in "
                      f"{settings.state_dir}", file=sys.stderr)
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (make and the terminal both pass one on) must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_process(processes.hub)
        stop_process(processes.proxy)
        print("course hub stopped; the users' servers keep running, and the next start finds them")
    return 0
