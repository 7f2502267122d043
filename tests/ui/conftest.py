"""Real-browser fixtures: a JupyterLab server on 127.0.0.1 and Debian's Chromium, headless.

The browser tests fail, naming what to install, when Chromium or Playwright is missing (`make
test` installs Debian's Chromium with apt-get); NNLAB_SKIP_BROWSER=1 skips them on request,
and pytest's summary line says so.  Playwright drives the
system Chromium through executable_path; its own browser downloads are never used.

The server is isolated from the user's Jupyter state: settings, workspaces, checkpoints,
runtime files and the nbgrader exchange live in a temporary directory, nbgrader's course
under tests/artifacts/.  Autosave is off, so running a lesson in the browser never writes
outputs into the repository's notebooks.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"

# --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
# The rest keep a headless run quiet and offline: no GPU, first-run UI, updates or sync.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Path of the real Chromium binary (not the /usr/bin/chromium shell wrapper), or None.

    NNLAB_CHROMIUM overrides the search.  Otherwise Debian's package is asked where it put
    the binary, with the usual location as a fallback.
    """
    override = os.environ.get("NNLAB_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    candidates = []
    try:
        listing = subprocess.run(["dpkg", "-L", "chromium"], capture_output=True, text=True,
                                 timeout=30, check=False)
        candidates += [line for line in listing.stdout.splitlines()
                       if line.endswith("lib/chromium/chromium")]
    except (OSError, subprocess.TimeoutExpired):
        pass
    candidates.append("/usr/lib/chromium/chromium")
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@dataclass
class LabServer:
    url: str          # http://127.0.0.1:<port>
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def page_url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}/{path}{sep}token={self.token}"


def start_lab(root: Path, home: Path, name: str, workspace: Path | None = None) -> LabServer:
    """Start `jupyter lab` serving `root`; its private state goes under `home`."""
    settings = home / "settings"
    # No autosave: running cells must not write outputs into the repository's notebooks.
    write_json(settings / "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings",
               {"autosave": False})
    # No news, no update check: the test runs offline and toasts would cover the screenshots.
    write_json(settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    # Every cell stays in the DOM, so the test can read every prompt and output.
    write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
               {"windowingMode": "none"})
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    exchange = home / "exchange"
    exchange.mkdir(exist_ok=True)
    # nbgrader's panels need an exchange and a course directory.  The formgrader insists on a
    # course inside the server's root, so a throwaway one goes under tests/artifacts/
    # (git-ignored); it reads the lesson masters as its source, as autograder/ does.
    course = ARTIFACTS / f"{name}-course"
    shutil.rmtree(course, ignore_errors=True)
    course.mkdir(parents=True)
    (config / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.source_directory = {str(REPO / 'notebooks')!r}\n"
        "c.CourseDirectory.course_id = 'nnlab'\n")

    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspace or home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("JUPYTER_TOKEN", None)
    # As in an activated environment: nbgrader's gradebook runs the `alembic` script by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
    command += [
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        # checkpoints (made when a notebook is opened) go to our temp dir, not next to lessons
        f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log, process)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n"
                               + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(server.page_url("api/status"), timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop_lab(server)
            raise RuntimeError("jupyter lab did not answer within 120 s:\n"
                               + log.read_text(errors="replace")[-3000:])
        time.sleep(0.5)


def stop_lab(server: LabServer) -> None:
    """Stop the server we started (and the kernels it started, in its own session)."""
    process = server.process
    if process.poll() is None:
        process.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the session we created
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if os.environ.get("NNLAB_SKIP_BROWSER") == "1":
        pytest.skip("NNLAB_SKIP_BROWSER=1: browser tests (Chromium) skipped on request")
    path = find_chromium()
    if path is None:
        pytest.fail("Chromium is not installed: the browser tests need it (Debian: apt-get install -y "
                    "chromium, or run `make test`); NNLAB_SKIP_BROWSER=1 skips them", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is not installed: the browser tests need it (pip install -e '.[test]', "
                    "or run `make test`); NNLAB_SKIP_BROWSER=1 skips them", pytrace=False)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def lab_server():
    """start(root, home, name, workspace=None) -> LabServer, stopped when the test ends."""
    started = []

    def start(*args, **kwargs) -> LabServer:
        server = start_lab(*args, **kwargs)
        started.append(server)
        return server
    yield start
    for server in started:
        stop_lab(server)


@pytest.fixture(scope="session")
def lab(browser, tmp_path_factory):
    """JupyterLab serving the repository (the lessons as a student or teacher opens them)."""
    server = start_lab(REPO, tmp_path_factory.mktemp("lab-home"), "jupyter-lab")
    yield server
    stop_lab(server)


@dataclass
class Console:
    errors: list
    messages: list

    def problems(self, *words: str) -> list:
        """Console errors, page errors and messages that mention any of `words`."""
        lowered = [w.lower() for w in words]
        return [m for m in self.errors + self.messages if any(w in m.lower() for w in lowered)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, so `page` can tell a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):
    """A fresh browser tab; console output and uncaught page errors are recorded.
    When the test fails, a screenshot of the tab and its console go to tests/artifacts/."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    console = Console(errors=[], messages=[])

    def on_console(message):
        text = f"[{message.type}] {message.text}"
        console.messages.append(text)
        if message.type == "error":
            console.errors.append(text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: console.errors.append(f"[pageerror] {error}"))
    tab.console = console
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        stem = ARTIFACTS / f"{request.node.name}-failure"
        try:
            tab.screenshot(path=f"{stem}.png", full_page=True)
        except Exception:  # a crashed tab has nothing left to show
            pass
        stem.with_suffix(".console.txt").write_text("\n".join(console.messages + console.errors))
    context.close()


@dataclass
class BinderBuild:
    root: Path        # a copy of the repository, as Binder checks it out, after postBuild
    home: Path        # the notebook user's home: ~/.jupyter/lab/workspaces is in here
    python: Path      # the interpreter postBuild installed nnlab into
    log: Path


def package_index() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/")


def index_reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/setuptools/", timeout=15):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def binder_build(tmp_path_factory) -> BinderBuild:
    """Run binder/postBuild as repo2docker would, on a copy of the repository.

    The copy holds what a commit would (git's tracked and unignored files).  A fresh venv
    stands for the image's Python: it sees the already installed dependencies (the image got
    them from binder/requirements.txt) through a .pth file, so postBuild's own `pip install .`
    really builds and installs nnlab there, with build isolation as on Binder, without
    touching the development environment.
    """
    if not index_reachable(package_index()):
        pytest.skip("postBuild builds nnlab with pip's build isolation, which needs the "
                    f"package index ({package_index()}), as on Binder; it is not reachable")
    base = tmp_path_factory.mktemp("binder")
    root, home = base / "repo", base / "home"
    home.mkdir()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    deps = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "image_dependencies.pth").write_text(deps.stdout.strip() + "\n")

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "PIP_NO_INDEX", "PYTHONPATH"))}
    env.update({
        "HOME": str(home),
        "VIRTUAL_ENV": str(venv),
        # the image's environment first, then the development tools (jupyter) it also has
        "PATH": os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent),
                                 env.get("PATH", "")]),
    })
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "binder-postBuild.log"
    with open(log, "wb") as out:
        result = subprocess.run([str(root / "binder" / "postBuild")], cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT, timeout=1200)
    assert result.returncode == 0, ("binder/postBuild failed:\n"
                                    + log.read_text(errors="replace")[-4000:])
    return BinderBuild(root=root, home=home, python=python, log=log)
