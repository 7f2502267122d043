"""A throwaway course hub on this machine: free loopback ports, temporary folders, and
accounts named ``nnlabt-<run>-...`` that are removed again (the browser test and the load
benchmark run on one).

    with TrialHub.start(students=2) as hub:
        student = hub.students[0]
        hub.url, hub.passwords[student]        # log in as the student in a browser
        hub.spawn(student)                     # or start their server through the REST API
        hub.server("GET", student, "assignments?course_id=nnlab")
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import accounts, environment, run
from .config import HubSettings
from .roster import read_roster

REPO = Path(__file__).resolve().parents[2]
PREFIX = "nnlabt-"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HTTPFailure(RuntimeError):
    def __init__(self, status: int, url: str, body: str):
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.status = status


def request(method: str, url: str, token: str | None = None, body=None, timeout: float = 60):
    """(status, decoded JSON or text) of one HTTP request; raises HTTPFailure on >= 400."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        raise HTTPFailure(error.code, url, error.read().decode(errors="replace")) from None
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw


@dataclass
class TrialHub:
    base: Path
    settings: HubSettings
    passwords: dict[str, str]
    processes: run.Processes | None = None
    service_token: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    # --- set-up and tear-down ---------------------------------------------------------------

    @classmethod
    def start(cls, students: int = 2, lessons: Path = REPO / "notebooks",
              course_config: Path = REPO / "autograder" / "nbgrader_config.py",
              proxy: str | None = None) -> "TrialHub":
        accounts.require_root("a trial hub")
        tag = secrets.token_hex(2)
        base = Path(tempfile.mkdtemp(prefix="nnlab-hub-"))
        os.chmod(base, 0o755)
        roster_csv = base / "roster.csv"
        with open(roster_csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["student_id", "name"])
            for i in range(1, students + 1):
                writer.writerow([f"{PREFIX}{tag}-s{i:02d}", f"Student {i}"])
        roster = read_roster(roster_csv, [f"{PREFIX}{tag}-teach"])
        service_token = secrets.token_hex(32)
        settings = HubSettings(
            state_dir=str(base / "state"), share_dir=str(base / "share"),
            exchange=str(base / "exchange"),
            students=[p.username for p in roster.students],
            instructors=[p.username for p in roster.instructors],
            python_bin=str(environment.ensure(REPO)),
            port=free_port(), hub_port=free_port(), proxy_api_port=free_port(),
            api_tokens={"nnlab-automation": service_token})
        hub = cls(base, settings, {}, service_token=service_token)
        try:
            hub.passwords = run.prepare(settings, roster, lessons, course_config)
            hub.proxy = run.find_proxy(proxy)
            hub.processes = run.start(settings, hub.proxy)
        except BaseException:
            hub.close()
            raise
        return hub

    def restart_hub(self, kill: bool = True) -> float:
        """Kill the hub (SIGKILL, as a crash would) and start it again; the proxy stays.
        Returns the seconds until the hub answered again."""
        hub = self.processes.hub
        if kill:
            hub.kill()
        else:
            hub.terminate()
        hub.wait(timeout=30)
        began = time.monotonic()
        self.processes.hub = run.start_hub(self.settings)
        run.wait_for(self.settings.url + "/hub/api/", self.processes.hub,
                     Path(self.settings.state_dir) / "jupyterhub.log")
        return time.monotonic() - began

    def close(self) -> None:
        """Stop every server, the hub and the proxy; remove the accounts and the folders."""
        if self.processes is not None:
            def stop(name):
                try:
                    self.api("DELETE", f"/users/{name}/server", timeout=30)
                except Exception:
                    pass  # not running, or the hub is gone: removing the account ends it
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(stop, self.settings.students + self.settings.instructors))
            run.stop_process(self.processes.hub)
            run.stop_process(self.processes.proxy)
        for name in self.settings.students + self.settings.instructors:
            accounts.remove_account(name)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- who is who -------------------------------------------------------------------------

    @property
    def students(self) -> list[str]:
        return self.settings.students

    @property
    def instructor(self) -> str:
        return self.settings.instructors[0]

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def course_dir(self) -> Path:
        return Path(pwd.getpwnam(self.instructor).pw_dir) / "course"

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    # --- the hub's REST API -----------------------------------------------------------------

    def api(self, method: str, path: str, body=None, token: str | None = None, timeout: float = 60):
        return request(method, f"{self.url}/hub/api{path}", token or self.service_token, body, timeout)[1]

    def user_token(self, user: str) -> str:
        """An API token of `user` (made by the course's automation service)."""
        if user not in self.tokens:
            reply = self.api("POST", f"/users/{user}/tokens", {"note": "load test", "expires_in": 3600})
            self.tokens[user] = reply["token"]
        return self.tokens[user]

    def spawn(self, user: str, timeout: float = 180) -> dict:
        """Start `user`'s server through the hub and wait until it is ready."""
        token = self.user_token(user)
        try:
            self.api("POST", f"/users/{user}/server", token=token)
        except HTTPFailure as failure:
            if failure.status != 400:  # 400: already running
                raise
        deadline = time.monotonic() + timeout
        while True:
            model = self.api("GET", f"/users/{user}", token=token)
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user}'s server was not ready within {timeout:.0f} s")
            time.sleep(0.5)

    def server(self, method: str, user: str, path: str, body=None, timeout: float = 120):
        """A request to `user`'s own server, through the proxy, with `user`'s token."""
        return request(method, f"{self.url}/user/{user}/{path.lstrip('/')}", self.user_token(user),
                       body, timeout)[1]

    # --- as a user on the machine -----------------------------------------------------------

    def run_as(self, user: str, command: list[str], cwd: Path | None = None, timeout: float = 900):
        """Run `command` as `user`, with their role's environment (as in their terminal)."""
        from .config import role_environment
        env = {"HOME": str(self.home(user)), "USER": user, "LANG": "C.UTF-8",
               **role_environment(self.settings, user)}
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i",
                               *[f"{k}={v}" for k, v in env.items()], *command],
                              cwd=cwd or self.home(user), capture_output=True, text=True,
                              timeout=timeout, check=False)


# --- lesson 01 as the trial course's assignment ---------------------------------------------

LESSON = "01_jacobians"
COURSE_ID = "nnlab"

# Two students' answers to the exercise `dg_dx` of lesson 01: right, and with the Jacobian
# transposed (a mistake the check names).
DG_DX_RIGHT = '''def dg_dx(x):
    """Jacobian of g(f(x)) at a scalar x, numerator layout, shape (2, 1)."""
    y1, y2 = x**2, np.sin(x)
    J_f = np.array([[2 * x], [np.cos(x)]])
    J_g = np.array([[y2, y1], [1.0, np.exp(y2)]])
    return J_g @ J_f
'''
DG_DX_TRANSPOSED = DG_DX_RIGHT.replace("return J_g @ J_f", "return (J_g @ J_f).T")


def answer(notebook: dict, grade_id: str, source: str) -> dict:
    """`notebook` (nbformat JSON) with the solution cell `grade_id` replaced by `source`."""
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
            return notebook
    raise KeyError(f"no cell with grade_id {grade_id!r} in the notebook")


def instructor_release(hub: TrialHub, assignment: str = LESSON) -> None:
    """As the instructor, in a shell: generate the student version and put it in the exchange."""
    course = hub.course_dir
    bin_dir = Path(hub.settings.python_bin)
    for command in ([str(bin_dir / "nnlab"), "release", assignment, "--course", str(course)],
                    [str(bin_dir / "nbgrader"), "release_assignment", assignment, "--force"]):
        done = hub.run_as(hub.instructor, command, cwd=course)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def instructor_collect(hub: TrialHub, assignment: str = LESSON) -> subprocess.CompletedProcess:
    """As the instructor: nbgrader collect (the latest submission of every student)."""
    done = hub.run_as(hub.instructor, [str(Path(hub.settings.python_bin) / "nbgrader"), "collect",
                                       assignment, "--update"], cwd=hub.course_dir)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader collect failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done
