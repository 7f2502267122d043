"""The jail in which a student's kernel runs.

A kernel is started as ``bwrap ... python -m ipykernel_launcher -f kernel.json``:

- its filesystem holds the system directories, the Python installation, the ``nnlab``
  package (all read-only) and one private working directory with that submission's files;
  the course (lesson masters, gradebook, other students) does not exist in it;
- it has no network, its own PID/IPC/UTS namespaces, no capabilities, and dies with the grader;
- it talks to the grader over jupyter_client's ``ipc`` transport: Unix sockets in the private
  directory, so no TCP port is opened;
- resource limits (address space, processes, file size, CPU time, open files) are set with
  ``setrlimit`` before ``bwrap`` starts and are inherited by everything inside.

Every knob is a trait of :class:`Sandbox`, set in ``autograder/nbgrader_config.py`` as
``c.Sandbox.<name> = ...``; hardening is a configuration change.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Instance, Integer, List, Unicode
from traitlets.config import Configurable


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces on this machine."""


def _package_dir(name):
    """The directory of an importable package (regular, or namespace as editable installs may be)."""
    module = __import__(name)
    if getattr(module, "__file__", None):
        return os.path.dirname(os.path.realpath(module.__file__))
    dirs = [p for p in getattr(module, "__path__", []) if os.path.isdir(p)]
    if not dirs:
        raise SandboxUnavailable(f"cannot locate the {name} package")
    return os.path.realpath(dirs[0])


class Sandbox(Configurable):
    """Settings of the kernel jail (``c.Sandbox.*`` in nbgrader_config.py)."""

    enabled = Bool(True, help="Run student kernels inside bubblewrap.").tag(config=True)
    allow_unsandboxed = Bool(
        False,
        help="If bwrap is unavailable, run kernels without a sandbox (logged loudly) "
             "instead of refusing to grade.",
    ).tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)
    python = Unicode(sys.executable, help="Python that runs the kernel (needs ipykernel).").tag(config=True)
    system_ro_binds = List(
        ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin",
         "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
         "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"],
        help="System paths visible read-only (missing ones are skipped, symlinks kept as symlinks).",
    ).tag(config=True)
    extra_ro_binds = List(
        [], help="More read-only paths for the kernel (data sets, other packages)."
    ).tag(config=True)
    packages = List(
        ["nnlab"], help="Packages whose directory is bound read-only (editable installs live outside the venv)."
    ).tag(config=True)
    share_net = Bool(False, help="Give the kernel the network (off: its own empty network namespace).").tag(config=True)
    uid = Integer(1000, help="User id inside the sandbox (a user namespace: no capabilities).").tag(config=True)
    memory_mb = Integer(3072, help="Address-space limit of the kernel (RLIMIT_AS), MiB; 0 = none.").tag(config=True)
    max_processes = Integer(
        256, help="RLIMIT_NPROC: processes of the grading user (not enforced for root).").tag(config=True)
    max_file_mb = Integer(64, help="Largest file the kernel may write (RLIMIT_FSIZE), MiB.").tag(config=True)
    max_open_files = Integer(256, help="RLIMIT_NOFILE for the kernel.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU time of one kernel (RLIMIT_CPU), seconds; 0 = none.").tag(config=True)
    tmp_mb = Integer(256, help="Size of the kernel's private /tmp (tmpfs), MiB.").tag(config=True)
    workdir_root = Unicode(
        "", help="Where private working directories are created (default: the system temp dir)."
    ).tag(config=True)
    env = Dict(
        {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
         "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
         "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde"},
        help="Environment of the kernel (everything else is cleared).",
    ).tag(config=True)
    preload = List(
        ["numpy", "matplotlib.pyplot", "nnlab.feedback"],
        help="Modules the kernel imports while it boots, before any student code (no names are "
             "bound: the notebook's own imports then find them loaded).",
    ).tag(config=True)
    forbidden = List(
        [], help="Paths that must never be visible in the sandbox (the course adds its root and notebooks/)."
    ).tag(config=True)

    def available(self):
        """Return None if bwrap works here, else a one-line reason."""
        exe = shutil.which(self.bwrap)
        if exe is None:
            return f"'{self.bwrap}' not found (install the bubblewrap package)"
        probe = [exe, "--unshare-all", "--unshare-user", "--die-with-parent",
                 "--ro-bind", "/", "/", "true"]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap failed to start: {exc}"
        if done.returncode != 0:
            return "bwrap cannot create namespaces here: " + (done.stderr.strip().splitlines() or ["?"])[-1]
        return None

    def ro_paths(self):
        """Read-only binds besides the system ones: the interpreter, the venv, the packages."""
        paths = [os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
                 os.path.realpath(os.path.dirname(os.path.dirname(os.path.realpath(self.python))))]
        paths += [_package_dir(name) for name in self.packages]
        paths += [os.path.realpath(p) for p in self.extra_ro_binds]
        unique = []
        for path in paths:
            if path not in unique and os.path.exists(path):
                unique.append(path)
        for path in unique:
            for secret in self.forbidden:
                secret = os.path.realpath(secret)
                if secret == path or secret.startswith(path + os.sep):
                    raise SandboxUnavailable(f"refusing to bind {path}: it contains {secret}")
        return unique

    def make_workdir(self, prefix="nnlab-kernel-"):
        """A fresh private directory (0700)."""
        return tempfile.mkdtemp(prefix=prefix, dir=self.workdir_root or None)

    def command(self, kernel_cmd, workdir, rw=()):
        """The bwrap command line that runs ``kernel_cmd`` in ``workdir``; ``workdir`` and the
        directories in ``rw`` (the connection directory) are its only writable places."""
        args = [shutil.which(self.bwrap) or self.bwrap,
                "--unshare-all", "--unshare-user", "--uid", str(self.uid), "--gid", str(self.uid),
                "--disable-userns", "--cap-drop", "ALL",
                "--die-with-parent", "--new-session",
                "--proc", "/proc", "--dev", "/dev",
                "--size", str(self.tmp_mb * 2**20), "--tmpfs", "/tmp"]
        if self.share_net:
            args.append("--share-net")
        for path in self.system_ro_binds:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in self.ro_paths():
            args += ["--ro-bind", path, path]
        for path in (workdir, *rw):
            args += ["--bind", path, path]
        args += ["--chdir", workdir, "--clearenv"]
        env = dict(self.env)
        env.update({
            "HOME": workdir, "TMPDIR": "/tmp",
            "PATH": os.pathsep.join([os.path.dirname(self.python), "/usr/local/bin", "/usr/bin", "/bin"]),
            "MPLCONFIGDIR": os.path.join(workdir, ".config", "matplotlib"),
            "IPYTHONDIR": os.path.join(workdir, ".ipython"),
        })
        for key, value in env.items():
            args += ["--setenv", key, str(value)]
        return args + ["--"] + list(kernel_cmd)

    def unsandboxed_env(self, workdir):
        """Environment for the (explicitly allowed) unsandboxed fallback."""
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "SYSTEMROOT")}
        env.update(self.env)
        env.update({"HOME": workdir, "MPLCONFIGDIR": os.path.join(workdir, ".config", "matplotlib"),
                    "IPYTHONDIR": os.path.join(workdir, ".ipython")})
        return env

    def set_limits(self):
        """Runs in the child between fork and exec: limits inherited by the whole sandbox."""
        mib = 2**20
        limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, self.max_open_files),
                  (resource.RLIMIT_FSIZE, self.max_file_mb * mib)]
        if self.memory_mb:
            limits.append((resource.RLIMIT_AS, self.memory_mb * mib))
        if self.cpu_seconds:
            limits.append((resource.RLIMIT_CPU, self.cpu_seconds))
        if self.max_processes:
            limits.append((resource.RLIMIT_NPROC, self.max_processes))
        for which, value in limits:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel started through :class:`Sandbox`, connected over ``ipc`` sockets in its workdir."""

    sandbox = Instance(Sandbox)
    workdir = Unicode()
    conndir = Unicode()
    sandboxed = Bool(True)

    def __init__(self, sandbox, workdir, conndir, sandboxed=True, **kwargs):
        # The connection file and sockets live in their own fresh directory: the grader never
        # writes into a directory an earlier kernel could have filled with links.
        super().__init__(kernel_name="python3", transport="ipc",
                         ip=os.path.join(conndir, "ipc"),
                         connection_file=os.path.join(conndir, "kernel.json"), **kwargs)
        self.sandbox = sandbox
        self.workdir = workdir
        self.conndir = conndir
        self.sandboxed = sandboxed
        # Interrupts travel as messages: a signal sent to bwrap would not reach the kernel.
        self.kernel_spec.interrupt_mode = "message"

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = [self.sandbox.python, "-m", "ipykernel_launcher", "-f", self.connection_file]
        cmd += list(extra_arguments or [])
        if self.sandbox.preload:
            line = "; ".join(f"__import__({name!r})" for name in self.sandbox.preload)
            cmd.append(f"--IPKernelApp.exec_lines={json.dumps([line])}")
        if not self.sandboxed:
            return cmd
        return self.sandbox.command(cmd, self.workdir, rw=[self.conndir])

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw["cwd"] = self.workdir
        kw["preexec_fn"] = self.sandbox.set_limits
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        if not self.sandboxed:
            kw["env"] = self.sandbox.unsandboxed_env(self.workdir)
        await super()._async_launch_kernel(kernel_cmd, **kw)
