"""The grader's building blocks, without nbgrader: the kernel jail and the value channel.

These tests need bubblewrap (Debian: apt-get install bubblewrap); they fail, not skip,
without it, because grading refuses to run student code unsandboxed by default.
"""

import json
import os
import sys

import numpy as np
import pytest
from jupyter_client import BlockingKernelClient
from jupyter_core.utils import run_sync

from nnlab.grading import probe
from nnlab.grading.execute import sandbox_status
from nnlab.grading.sandbox import Sandbox, SandboxedKernelManager, SandboxUnavailable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bwrap_is_available():
    assert Sandbox().available() is None, "install bubblewrap: grading needs it"


def test_unsandboxed_needs_explicit_consent():
    sandbox = Sandbox(bwrap="no-such-bwrap-binary")
    with pytest.raises(SandboxUnavailable, match="not found"):
        sandbox_status(sandbox)
    allowed = Sandbox(bwrap="no-such-bwrap-binary", allow_unsandboxed=True)
    assert sandbox_status(allowed) == (False, "'no-such-bwrap-binary' not found (install the bubblewrap package)")


def test_sandbox_refuses_to_bind_a_forbidden_path():
    sandbox = Sandbox(extra_ro_binds=[REPO], forbidden=[os.path.join(REPO, "notebooks")])
    with pytest.raises(SandboxUnavailable, match="refusing to bind"):
        sandbox.ro_paths()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A sandboxed kernel, as the grader starts it, with a secret file next to its workdir."""
    base = tmp_path_factory.mktemp("jail")
    workdir, conndir = base / "work", base / "conn"
    workdir.mkdir()
    conndir.mkdir()
    (workdir / "data.txt").write_text("the submission's own file")
    (base / "secret.txt").write_text("solutions")
    km = SandboxedKernelManager(Sandbox(), str(workdir), str(conndir))
    run_sync(km.start_kernel)()
    kc = BlockingKernelClient(connection_file=km.connection_file)
    kc.load_connection_file()
    kc.start_channels()
    for _ in range(30):  # a heartbeat-less client: wait for the first kernel_info reply
        try:
            kc.kernel_info(reply=True, timeout=2)
            break
        except Exception:
            continue
    yield kc, base
    kc.stop_channels()
    run_sync(km.shutdown_kernel)(now=True)


def _run(kc, code):
    reply = {"out": "", "error": None}

    def hook(msg):
        if msg["msg_type"] == "stream":
            reply["out"] += msg["content"]["text"]
        elif msg["msg_type"] == "error":
            reply["error"] = msg["content"]["ename"]

    kc.execute_interactive(code, output_hook=hook, timeout=60)
    return reply


def test_kernel_sees_only_its_workdir(kernel):
    kc, base = kernel
    listing = json.loads(_run(kc, "import os, json; print(json.dumps({'cwd': os.getcwd(), "
                                  "'files': sorted(os.listdir('.')), 'up': sorted(os.listdir('..'))}))")["out"])
    assert listing["cwd"] == str(base / "work")
    assert "data.txt" in listing["files"]
    assert "secret.txt" not in listing["up"]          # the grader's files around it are not there
    for path in (str(base / "secret.txt"), os.path.join(REPO, "notebooks"), os.path.join(REPO, "autograder"),
                 os.path.join(REPO, "pyproject.toml")):
        result = _run(kc, f"open({path!r}).read()")
        assert result["error"] in ("FileNotFoundError", "IsADirectoryError", "PermissionError"), path
        assert result["error"] != "IsADirectoryError" or not os.path.isdir(path), path


def test_kernel_has_no_network_and_no_privileges(kernel):
    kc, _ = kernel
    net = _run(kc, "import socket\ns = socket.socket(); s.settimeout(3)\ns.connect(('1.1.1.1', 80))")
    assert net["error"] in ("OSError", "ConnectionRefusedError", "TimeoutError", "gaierror")
    caps = _run(kc, "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])")
    assert int(caps["out"].strip(), 16) == 0
    ro = _run(kc, f"open({os.path.join(sys.prefix, 'evil.txt')!r}, 'w')")
    assert ro["error"] in ("OSError", "PermissionError")


def test_memory_limit_stops_a_runaway_allocation(kernel):
    kc, _ = kernel
    result = _run(kc, "x = bytearray(8 * 2**30)")
    assert result["error"] == "MemoryError"


def test_values_cross_as_plain_data_only():
    array = np.arange(6.0).reshape(2, 3)
    encoded = {"__tuple__": [{"__ndarray__": ["<f8", [2, 3], __import__("base64").b64encode(array.tobytes()).decode()]},
                             1.5, {"__dict__": [["k", None]]}]}
    decoded = probe.decode(encoded)
    assert np.array_equal(decoded[0], array) and decoded[1:] == (1.5, {"k": None})
    with pytest.raises(ValueError):
        probe.decode({"__ndarray__": ["|O", [1], ""]})                  # no object arrays
    with pytest.raises(ValueError):
        probe.decode({"__ndarray__": ["<f8", [4], "AAAA"]})             # size must match shape
    with pytest.raises(ValueError):
        probe.decode({"__pickle__": "gASV"})                           # nothing else is accepted
    assert repr(probe.decode({"__opaque__": "Tensor"})) == "<Tensor object>"


def test_test_cells_are_read_as_literal_calls():
    checks = probe.find_checks('check_exercise("identity5", dJ_dW_Wx)\n'
                               '### BEGIN HIDDEN TESTS\ncheck_exercise("identity5", dJ_dW_Wx, seed=7, cases=20)\n')
    assert [(c.exercise_id, c.expr, c.kwargs) for c in checks] == [
        ("identity5", "dJ_dW_Wx", {}), ("identity5", "dJ_dW_Wx", {"seed": 7, "cases": 20})]
    with pytest.raises(probe.Unverifiable):
        probe.find_checks("check_exercise(name, f)")
    with pytest.raises(probe.Unverifiable):
        probe.find_checks("check_exercise('softmax', f, seed=make_seed())")


def test_the_inputs_of_every_exercise_travel_to_the_kernel_as_plain_pickles():
    """The grader sends (expr, spec, inputs): nothing in them may need the catalogue to unpickle
    (the kernel's student edition has none), and f' of identity 4 arrives as a callable."""
    import pickle
    from nnlab.exercises import EXERCISES, build_cases
    for exercise_id in EXERCISES:
        cases = build_cases(exercise_id, 0, 2)
        blob = pickle.dumps(("f", cases.spec, cases.inputs), protocol=4)
        assert b"nnlab.exercises" not in blob, exercise_id
        _, spec, inputs = pickle.loads(blob)
        assert spec == cases.spec and len(inputs) == 2
    f_prime, x = build_cases("identity4", 0, 1).inputs[0]
    assert np.allclose(pickle.loads(pickle.dumps(f_prime))(x), f_prime(x))


def test_secret_seed_depends_on_the_submission(tmp_path):
    secret = probe.course_secret(str(tmp_path))
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    assert probe.course_secret(str(tmp_path)) == secret
    seeds = {probe.secret_seed(secret, s, "01_jacobians", "01_jacobians", "test_dg_dx") for s in "abc"}
    assert len(seeds) == 3
