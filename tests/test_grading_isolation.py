"""One submission cannot hurt another: processes, disk, memory and CPU are bounded per
submission, even when the grader runs as root, and a limit that cannot be applied is reported.

The kernel tests start a sandboxed kernel exactly as the grader does and run hostile code in
it; the last test grades an honest notebook with ``-j 2`` next to a CPU hog, through nbgrader.
Like the other grading tests they need bubblewrap; the isolation itself needs root (to drop
the kernel to its own uid, mount its tmpfs and create cgroups), as a grading server runs.
"""

import json
import os
import subprocess
import time

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_core.utils import run_sync

from grading_support import grade_class, max_score
from nnlab.grading import synthetic
from nnlab.grading.sandbox import Sandbox, SandboxedKernelManager, release_workdir

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="per-submission isolation is applied by a root grader")


class Kernel:
    """A kernel started like the grader starts one: private workdir, sandbox, limits."""

    def __init__(self, sandbox, sandboxed=True):
        self.private = sandbox.make_workdir(prefix="nnlab-test-")
        self.workdir = os.path.join(self.private, "work")
        conndir = os.path.join(self.private, "conn1")
        os.mkdir(self.workdir)
        os.mkdir(conndir, 0o700)
        self.km = SandboxedKernelManager(sandbox, self.workdir, conndir, sandboxed=sandboxed)
        run_sync(self.km.start_kernel)()
        self.kc = BlockingKernelClient(connection_file=self.km.connection_file)
        self.kc.load_connection_file()
        self.kc.start_channels(hb=False)  # a busy machine delays heartbeats, not the kernel
        deadline = time.monotonic() + 120
        while True:
            try:
                self.kc.kernel_info(reply=True, timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline or not run_sync(self.km.is_alive)():
                    raise

    def run(self, code, timeout=120):
        """stdout of ``code``, and the name of the error it raised (or None)."""
        reply = {"out": "", "error": None}

        def hook(msg):
            if msg["msg_type"] == "stream":
                reply["out"] += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                reply["error"] = msg["content"]["ename"]

        try:
            self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        except TimeoutError:
            if run_sync(self.km.is_alive)():
                raise
            reply["error"] = "KernelDied"
        return reply

    def stop(self):
        """What the grader does when a notebook ends."""
        self.kc.stop_channels()
        run_sync(self.km.shutdown_kernel)(now=True)
        release_workdir(self.private)


@pytest.fixture
def start_kernel():
    started = []

    def start(sandbox=None, sandboxed=True):
        kernel = Kernel(sandbox or Sandbox(), sandboxed=sandboxed)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.stop()


FORK_2000 = """
import os, time
forked, error = 0, None
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        forked += 1
except OSError as exc:
    error = type(exc).__name__
print(forked, error)
"""


@needs_root
@pytest.mark.parametrize("cgroup", ["auto", "off"])
def test_a_fork_bomb_is_stopped_by_the_process_limit_even_for_a_root_grader(start_kernel, cgroup):
    # With cgroups off, the kernel's own uid (RLIMIT_NPROC) must hold on its own.
    kernel = start_kernel(Sandbox(cgroup=cgroup, max_processes=256))
    forked, error = kernel.run(FORK_2000)["out"].split()
    assert int(forked) < 256 and error == "BlockingIOError", (forked, error)


@needs_root
def test_two_gib_of_writes_are_stopped_by_the_disk_quota(start_kernel):
    # Many files, each below the per-file limit: only a total quota stops this.
    kernel = start_kernel(Sandbox(disk_mb=256, tmp_mb=64, max_file_mb=64))
    written = kernel.run("""
import os
chunk = b"x" * 2**20
written = {}
for folder in (".", "/tmp"):
    written[folder] = 0
    try:
        for i in range(32):
            with open(os.path.join(folder, f"fill{i}.bin"), "wb") as fh:
                for _ in range(64):
                    fh.write(chunk)
                    written[folder] += 1
    except OSError as exc:
        written[folder + " error"] = exc.errno
print(__import__("json").dumps(written))
""")
    written = json.loads(written["out"])
    assert written["."] <= 256 and written[". error"] == 28, written       # ENOSPC
    assert written["/tmp"] <= 64 and written["/tmp error"] == 28, written
    assert written["."] + written["/tmp"] < 2048


@needs_root
def test_a_memory_hog_spread_over_processes_is_stopped(start_kernel):
    # Each child stays far below RLIMIT_AS; together they hold 3 GB unless the cgroup stops them.
    kernel = start_kernel(Sandbox(memory_mb=1536))
    result = kernel.run("""
import os, select, time
r, w = os.pipe()
children = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        hog = b"x" * (600 * 2**20)
        os.write(w, b"1")
        time.sleep(30)
        os._exit(0)
    children.append(pid)
time.sleep(8)
alive = [pid for pid in children if os.waitpid(pid, os.WNOHANG) == (0, 0)]
reported = 0
while select.select([r], [], [], 0)[0]:
    reported += len(os.read(r, 64))
for pid in alive:
    os.kill(pid, 9)
print(len(alive), reported)
""")
    if result["error"] is None:
        alive, reported = map(int, result["out"].split())
        assert alive * 600 <= 1536, (alive, reported)
    else:  # the kernel itself was the one the limit stopped
        assert result["error"] == "KernelDied", result


SETSID_LOOPS = """
import os
for _ in range(20):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sh", ["sh", "-c", "while :; do :; done", "{marker}"])
        os._exit(0)
print("started")
"""


def _survivors(marker):
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


@needs_root
@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
def test_setsid_busy_loops_do_not_survive_their_notebook(sandboxed, tmp_path):
    # Unsandboxed there is no PID namespace: only the kernel's cgroup finds the detached loops.
    marker = f"nnlab-loop-{os.getpid()}-{int(sandboxed)}"
    kernel = Kernel(Sandbox(allow_unsandboxed=True), sandboxed=sandboxed)
    try:
        assert kernel.run(SETSID_LOOPS.format(marker=marker))["out"].strip() == "started"
        deadline = time.monotonic() + 10
        while len(_survivors(marker)) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_survivors(marker)) == 20
    finally:
        kernel.stop()
    deadline = time.monotonic() + 5
    while _survivors(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _survivors(marker)
    for pid in left:
        os.kill(pid, 9)
    assert not left, f"{len(left)} busy loops outlived their notebook"


def test_a_limit_that_cannot_be_applied_is_reported(tmp_path):
    not_a_cgroup = tmp_path / "cgroup-root"
    not_a_cgroup.write_text("")                       # a file: nothing can be created under it
    problems = Sandbox(cgroup="v1", cgroup_root=str(not_a_cgroup)).limit_problems()
    assert any(p.startswith("CPU share not bounded") and str(not_a_cgroup) in p for p in problems), problems
    assert any(p.startswith("total memory not bounded") for p in problems), problems
    assert any(p.startswith("process count not bounded by a cgroup") for p in problems), problems

    fake_v2 = tmp_path / "unified"                    # a v2 parent that delegates only 'memory'
    fake_v2.mkdir()
    (fake_v2 / "cgroup.controllers").write_text("memory\n")
    (fake_v2 / "cgroup.subtree_control").write_text("")
    problems = Sandbox(cgroup="auto", cgroup_root=str(fake_v2)).limit_problems()
    assert any("'cpu' is not delegated" in p for p in problems), problems
    assert any("'pids' is not delegated" in p for p in problems), problems

    assert "cgroups are off" in " ".join(Sandbox(cgroup="off").limit_problems())
    if os.geteuid() == 0:
        assert "RLIMIT_NPROC is not enforced for root" in " ".join(
            Sandbox(separate_uids=False).limit_problems())
        assert "disk_mb = 0" in " ".join(Sandbox(disk_mb=0).limit_problems())


@needs_root
def test_an_unapplied_limit_reaches_the_grading_record(start_kernel, tmp_path):
    # The grade still happens (the kernel starts without cgroups) and the record says why not.
    missing = str(tmp_path / "no-such-cgroup-root")
    sandbox = Sandbox(cgroup="v1", cgroup_root=missing)
    kernel = start_kernel(sandbox)
    assert kernel.run("print(6 * 7)")["out"].strip() == "42"
    assert kernel.km._cgroup_joins == []
    assert all(missing in p for p in sandbox.limit_problems()) and sandbox.limit_problems()


HOG = """

import os as _os, time as _time
_children = []
for _ in range(150):
    _pid = _os.fork()
    if _pid == 0:
        _os.setsid()
        _end = _time.time() + 40
        while _time.time() < _end:
            pass
        _os._exit(0)
    _children.append(_pid)
for _pid in _children:
    _os.waitpid(_pid, 0)
"""


@needs_root
def test_an_honest_notebook_beside_a_cpu_hog_gets_full_marks(tmp_path):
    lesson = "01_jacobians"

    def build(root, folder):
        master = synthetic.read_notebook(os.path.join(root, "notebooks"), lesson)
        release = synthetic.read_notebook(os.path.join(root, "autograder", "release"), lesson)
        synthetic.write(folder, "honest", lesson, synthetic.correct(master, release))
        answers = synthetic.correct_answers(master)
        first = next(iter(answers))
        answers[first] += HOG
        synthetic.write(folder, "a_hog", lesson, synthetic.fill(release, answers))

    graded = grade_class(str(tmp_path), [lesson], "\nc.Execute.timeout = 60\n", build)
    assert graded["rows"][("honest", lesson)]["status"] == "graded", graded["grade"].stderr
    honest = sum(v for (s, a, _), v in graded["scores"].items() if s == "honest")
    assert honest == max_score(lesson), (honest, graded["grade"].stdout, graded["grade"].stderr)
    with open(os.path.join(graded["course"], ".grading", "status.json")) as fh:
        status = json.dumps(json.load(fh))
    assert "limit not applied" not in status, status

