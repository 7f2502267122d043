"""What a kernel sends the grader is bounded before the grader holds it in memory."""
import contextlib
import resource
import time
from queue import Empty

from jupyter_core.utils import run_sync

from nnlab.grading.sandbox import Sandbox, SandboxedKernelManager


def _run(kc, code, timeout=120):
    """The shell reply's status of one execution (the kernel's output channel may be cut)."""
    msg_id = kc.execute(code)
    while True:
        reply = run_sync(kc.get_shell_msg)(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]["status"]


def _drain(kc, seconds):
    """Read the kernel's output channel, as the grader does, for a while; the largest message."""
    largest, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = run_sync(kc.get_iopub_msg)(timeout=0.5)
        except Empty:
            continue
        largest = max(largest, len(msg["content"].get("text", "")))
    return largest


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def sandboxed_client(tmp_path, **limits):
    """A sandboxed kernel and the client the grader would use, ready; stopped afterwards."""
    workdir, conndir = tmp_path / "work", tmp_path / "conn"
    workdir.mkdir()
    conndir.mkdir()
    km = SandboxedKernelManager(Sandbox(**limits), str(workdir), str(conndir))
    run_sync(km.start_kernel)()
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=120)
        yield kc
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def test_a_huge_output_message_never_reaches_the_grader(tmp_path):
    with sandboxed_client(tmp_path, max_message_mb=4) as kc:
        before = _peak_mib()
        # 256 MiB in one message: held by the grader, its peak memory would grow by as much.
        assert _run(kc, "import sys\nsys.stdout.write('x' * (256 * 2**20))\nsys.stdout.flush()") == "ok"
        largest = _drain(kc, 15)
        assert _run(kc, "x = 1") == "ok"  # and the kernel still answers the grader
        assert largest <= 4 * 2**20
        assert _peak_mib() - before < 64


def test_output_nobody_reads_is_bounded_too(tmp_path):
    """While the grader waits for answers it reads no output: a kernel that prints message
    after message (each under the size limit) cannot pile them up in the grader's memory."""
    with sandboxed_client(tmp_path, max_message_mb=4, max_queued_messages=8) as kc:
        before = _peak_mib()
        # 100 messages of 3 MiB: 300 MiB if the grader kept them all.
        code = ("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (3 * 2**20))\n"
                "    sys.stdout.flush()\n")
        assert _run(kc, code) == "ok"
        time.sleep(5)  # let zmq take in whatever it is going to take in
        assert _run(kc, "x = 1") == "ok"
        assert _peak_mib() - before < 100
