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

When the grader runs as root, each submission is also isolated from the others:

- the kernel runs under an unprivileged uid of its own worker slot (from ``uid_base``), so
  ``RLIMIT_NPROC`` is enforced and one slot's processes never count against another's;
- the private directory is a tmpfs of ``disk_mb`` (and ``/tmp`` inside one of ``tmp_mb``), so
  the total the kernel can write is bounded;
- cgroups (v2, or the v1 ``cpu``/``memory``/``pids`` hierarchies) give each kernel one CPU's
  worth of time (``cpus``) and a memory and process budget; when the notebook ends every
  process in the kernel's group is killed, however it detached itself.

A limit that cannot be applied on this host is reported (:func:`limit_problems`), never
skipped silently. Every knob is a trait of :class:`Sandbox`, set in
``autograder/nbgrader_config.py`` as ``c.Sandbox.<name> = ...``; hardening is a configuration
change.
"""

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Enum, Float, Instance, Integer, List, Unicode
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


# --- host-side isolation: mounts, worker slots, cgroups -------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 2, 4, 32, 4096, 16384
_MNT_DETACH = 2

#: Mount source of every private-directory tmpfs; the grader's pid follows, to sweep leftovers.
_TMPFS_SOURCE = "nnlab-work-"
_VIEW_PREFIX = "nnlab-view-"
_CGROUP_PREFIX = "nnlab-"


def _is_root():
    return os.geteuid() == 0


def _mount(source, target, fstype, flags, data=None):
    def b(x):
        return None if x is None else os.fsencode(x)
    if _LIBC.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _umount(target):
    _LIBC.umount2(os.fsencode(target), _MNT_DETACH)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mounts():
    """[(mount point, source)] of this mount namespace."""
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if len(fields) > 4 and len(tail) > 1:
                    found.append((fields[4].replace("\\040", " "), tail[1]))
    except OSError:
        pass
    return found


def _owner_pid(name, prefix):
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    digits = rest.split("-")[0]
    return int(digits) if digits.isdigit() else None


def sweep_leftovers():
    """Unmount private directories and views left by grader processes that died (kill -9)."""
    if not _is_root():
        return
    for point, source in _mounts():
        base = os.path.basename(point)
        pid = _owner_pid(source, _TMPFS_SOURCE) or _owner_pid(base, _VIEW_PREFIX)
        if pid is None and _VIEW_PREFIX in point:
            pid = _owner_pid(os.path.basename(os.path.dirname(point)), _VIEW_PREFIX)
        if pid is not None and not _pid_alive(pid):
            _umount(point)
            _rmdir(point)  # the empty mount point of a private directory
    for path in _leftover_views():
        pid = _owner_pid(os.path.basename(path), _VIEW_PREFIX)
        if pid is not None and not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _leftover_views():
    tmp = tempfile.gettempdir()
    try:
        return [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith(_VIEW_PREFIX)]
    except OSError:
        return []


def release_workdir(private):
    """Remove a directory made by :meth:`Sandbox.make_workdir` (unmounting its tmpfs first)."""
    if not private:
        return
    if os.path.ismount(private):
        _umount(private)
    shutil.rmtree(private, ignore_errors=True)


def _process_state():
    """State that belongs to this process (a forked worker starts its own)."""
    if _STATE.get("pid") != os.getpid():
        _STATE.clear()
        _STATE.update(pid=os.getpid(), slot=None, lock=None, parity=0, views={}, cgroups={})
    return _STATE


_STATE = {}


def _slot(slots):
    """This process's worker slot: a number no other grading process on the machine holds."""
    state = _process_state()
    if state["slot"] is not None:
        return state["slot"]
    lockdir = os.path.join(tempfile.gettempdir(), "nnlab-sandbox-slots")
    try:
        os.mkdir(lockdir, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(lockdir)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{lockdir} is not a private directory of the grader")
    for slot in range(slots):
        fd = os.open(os.path.join(lockdir, f"slot-{slot}"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        state.update(slot=slot, lock=fd)  # held until this process exits
        return slot
    raise SandboxUnavailable(f"all {slots} worker slots (Sandbox.uid_slots) are in use")


def _processes_of(uid):
    """Live (not zombie) processes of ``uid``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    with open(os.path.join(entry.path, "stat"), "rb") as fh:
                        state = fh.read().rpartition(b")")[2].split()[0]
                    if state not in (b"Z", b"X"):
                        found.append(int(entry.name))
    return found


def _clear_uid(uid, timeout=5.0):
    """Before a kernel uid is used again: the uid belongs to this worker slot alone and its
    previous kernel has ended, so a process still running under it (a fork bomb being torn
    down) is a leftover that would count against the new kernel's RLIMIT_NPROC. (The sandbox's
    own init, a zombie until the system reaps it, is no threat and is not waited for.)"""
    deadline = time.monotonic() + timeout
    while True:
        left = _processes_of(uid)
        if not left or time.monotonic() > deadline:
            return
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _reachable(path, uid):
    """Whether ``uid`` (with no groups) can walk down to ``path``."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            info = os.stat(parent)
        except OSError:
            return False
        bit = stat.S_IXUSR if info.st_uid == uid else stat.S_IXOTH
        if not info.st_mode & bit:
            return False
        if parent == os.path.dirname(parent):
            return True
        parent = os.path.dirname(parent)


def _view(path, writable=False):
    """A path the kernel's uid can reach that shows ``path`` (a bind mount made once per process,
    read-only unless ``writable``), for paths under a private directory (a Python under /root)."""
    state = _process_state()
    if (path, writable) in state["views"]:
        return state["views"][(path, writable)]
    if "view_dir" not in state:
        state["view_dir"] = tempfile.mkdtemp(prefix=f"{_VIEW_PREFIX}{os.getpid()}-")
        os.chmod(state["view_dir"], 0o711)
        _at_exit(_drop_views, os.getpid())
    target = os.path.join(state["view_dir"], str(len(state["views"])))
    if os.path.isdir(path):
        os.mkdir(target, 0o755)
    else:
        open(target, "w").close()
    _mount(path, target, None, _MS_BIND | _MS_REC)
    _mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NODEV | (0 if writable else _MS_RDONLY))
    state["views"][(path, writable)] = target
    return target


def _drop_views(pid):
    state = _STATE
    if state.get("pid") != pid or "view_dir" not in state:
        return
    for target in state["views"].values():
        _umount(target)
    shutil.rmtree(state.pop("view_dir"), ignore_errors=True)
    state["views"] = {}


def _chown_tree(top, uid):
    """lchown ``top`` and everything under it to ``uid``, through directory fds: a link or a
    directory swapped for a link is never followed out of ``top``."""
    def walk(fd):
        for entry in os.scandir(fd):
            os.chown(entry.name, uid, uid, dir_fd=fd, follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                try:
                    child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:
                    continue
                try:
                    walk(child)
                finally:
                    os.close(child)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, uid)
        walk(fd)
    finally:
        os.close(fd)


def _at_exit(function, *args):
    """Run at the end of this process, pool workers included (they skip atexit hooks), after
    the kernel started ahead of time is stopped (see :mod:`nnlab.grading.parallel`)."""
    from multiprocessing.util import Finalize
    Finalize(None, function, args=args, exitpriority=5)


def _write(path, value):
    with open(path, "w") as fh:
        fh.write(value)


class CgroupUnavailable(Exception):
    """A controller, or the right to use it, is missing; the message says which and why."""


class Cgroups:
    """The cgroups of one grading process (one worker slot).

    ``<parent>/nnlab-<pid>-<n>`` is the worker's group. Each kernel gets a child ``k<N>`` with
    its CPU quota (``cpus`` cores), memory and process limits; at the end of its notebook every
    process in it is killed and the group removed. (The quota is per kernel, so the kernel that
    boots for the next notebook, with no student code in it yet, may use an idle core.)
    ``dirs`` maps each controller to the worker's group in that controller's hierarchy (v1:
    one hierarchy per controller; v2: the same directory for all).
    """

    def __init__(self, version, dirs, limits):
        self.version, self.dirs, self.limits = version, dirs, limits

    # -- set-up ----------------------------------------------------------------------------

    @classmethod
    def open(cls, sandbox):
        """(Cgroups or None, [problem, ...]) for this process, created on first use."""
        wanted = {}
        if sandbox.cpus > 0:
            wanted["cpu"] = sandbox.cpus
        if sandbox.memory_mb > 0:
            wanted["memory"] = sandbox.memory_mb * 2**20
        if sandbox.max_processes > 0:
            wanted["pids"] = sandbox.max_processes
        key = (sandbox.cgroup, sandbox.cgroup_root, tuple(sorted(wanted.items())))
        state = _process_state()
        if key not in state["cgroups"]:
            # One worker group per configuration (tests start kernels of several in one process).
            name = f"{_CGROUP_PREFIX}{os.getpid()}-{len(state['cgroups'])}"
            state["cgroups"][key] = cls._create(sandbox, wanted, name)
        return state["cgroups"][key]

    @classmethod
    def _create(cls, sandbox, wanted, name):
        if not wanted:
            return None, []
        if sandbox.cgroup == "off":
            return None, [_LOST[c] + " (cgroups are off: c.Sandbox.cgroup = 'off')" for c in wanted]
        root = sandbox.cgroup_root or "/sys/fs/cgroup"
        version = sandbox.cgroup
        if version == "auto":
            if os.path.exists(os.path.join(root, "cgroup.controllers")):
                version = "v2"
            elif any(os.path.isdir(os.path.join(root, c)) for c in wanted):
                version = "v1"
            else:
                return None, [_LOST[c] + f" (no cgroup hierarchy at {root})" for c in wanted]
        try:
            sweep_cgroups(version, root, sandbox.cgroup_root)
        except OSError:
            pass
        if version == "v2":
            dirs, problems = cls._create_v2(root, sandbox.cgroup_root, wanted, name)
        else:
            dirs, problems = cls._create_v1(root, sandbox.cgroup_root, wanted, name)
        if not dirs:
            return None, problems
        group = cls(version, dirs, {c: v for c, v in wanted.items() if c in dirs})
        _at_exit(group.remove, os.getpid())
        return group, problems

    @staticmethod
    def _create_v1(root, explicit, wanted, name):
        dirs, problems = {}, []
        for controller, value in wanted.items():
            mount = os.path.join(root, controller)
            try:
                parent = mount if explicit else os.path.join(mount, _own_cgroup(controller).lstrip("/"))
                if not os.path.exists(os.path.join(parent, "cgroup.procs")):
                    raise CgroupUnavailable(f"no cgroup v1 '{controller}' hierarchy at {mount}")
                group = os.path.join(parent, name)
                os.makedirs(group, exist_ok=True)
                dirs[controller] = group
            except (OSError, ValueError, CgroupUnavailable) as exc:
                problems.append(f"{_LOST[controller]} ({_why(exc)})")
        return dirs, problems

    @staticmethod
    def _create_v2(root, explicit, wanted, name):
        try:
            parent = root if explicit else os.path.join(root, _own_cgroup("").lstrip("/"))
            available = set(open(os.path.join(parent, "cgroup.controllers")).read().split())
        except (OSError, CgroupUnavailable) as exc:
            return {}, [f"{_LOST[c]} ({_why(exc)})" for c in wanted]
        problems = [f"{_LOST[c]} (controller '{c}' is not delegated to {parent}; "
                    f"it has: {' '.join(sorted(available)) or 'none'})" for c in wanted if c not in available]
        usable = [c for c in wanted if c in available]
        if not usable:
            return {}, problems
        group = os.path.join(parent, name)
        try:
            _enable_v2(parent, usable)
            os.makedirs(group, exist_ok=True)
            _write(os.path.join(group, "cgroup.subtree_control"), " ".join("+" + c for c in usable))
        except (OSError, CgroupUnavailable) as exc:
            _rmdir(group)
            return {}, problems + [f"{_LOST[c]} ({_why(exc)})" for c in usable]
        return {c: group for c in usable}, problems

    # -- kernels ---------------------------------------------------------------------------

    def new_kernel(self):
        """A fresh group for one kernel: [cgroup.procs path to join, ...]."""
        state = _process_state()
        state["kernels"] = state.get("kernels", 0) + 1
        name = f"k{state['kernels']}"
        joins = []
        made = []
        try:
            for controller, group in self.dirs.items():
                path = os.path.join(group, name)
                if path not in made:
                    os.mkdir(path)
                    made.append(path)
                    if self.version == "v1" or controller == next(iter(self.dirs)):
                        joins.append(os.path.join(path, "cgroup.procs"))
                if controller == "cpu":
                    self._cpu(path)
                elif controller == "memory":
                    self._memory(path)
                elif controller == "pids":
                    _write(os.path.join(path, "pids.max"), str(self.limits["pids"]))
        except OSError:
            for path in made:
                _rmdir(path)
            raise
        return joins

    def _cpu(self, path):
        cores = self.limits["cpu"]
        if self.version == "v2":
            _write(os.path.join(path, "cpu.max"), f"{max(1000, int(cores * 100000))} 100000")
        else:
            period = int(open(os.path.join(path, "cpu.cfs_period_us")).read())
            _write(os.path.join(path, "cpu.cfs_quota_us"), str(max(1000, int(cores * period))))

    def _memory(self, path):
        limit = str(self.limits["memory"])
        if self.version == "v2":
            _write(os.path.join(path, "memory.max"), limit)
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                _write(os.path.join(path, "memory.swap.max"), "0")
        else:
            _write(os.path.join(path, "memory.limit_in_bytes"), limit)
            if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                _write(os.path.join(path, "memory.memsw.limit_in_bytes"), limit)

    @staticmethod
    def kill(joins):
        """Kill every process of a kernel's group and remove the group."""
        groups = [os.path.dirname(p) for p in joins]
        if not groups:
            return
        if os.path.exists(os.path.join(groups[0], "cgroup.kill")):
            with contextlib.suppress(OSError):
                _write(os.path.join(groups[0], "cgroup.kill"), "1")
        deadline = time.monotonic() + 5.0
        while True:
            pids = set()
            for group in groups:
                pids |= _procs(group)
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        for group in groups:
            for _ in range(100):
                if _rmdir(group) or not os.path.exists(group):
                    break
                time.sleep(0.005)

    def remove(self, pid=None):
        if pid is not None and pid != os.getpid():
            return
        for group in set(self.dirs.values()):
            _remove_tree(group)


_LOST = {
    "cpu": "CPU share not bounded: a worker's kernel may take every core",
    "memory": "total memory not bounded: each process is held to RLIMIT_AS only",
    "pids": "process count not bounded by a cgroup: RLIMIT_NPROC only",
}


def _why(exc):
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def _own_cgroup(controller):
    """This process's cgroup path in ``controller``'s hierarchy ("" = the v2 unified one)."""
    with open("/proc/self/cgroup", encoding="utf-8") as fh:
        for line in fh:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller == "" and names == "") or controller in names.split(","):
                return path
    raise CgroupUnavailable(f"this process is in no '{controller or 'unified'}' cgroup")


def _enable_v2(parent, controllers):
    control = os.path.join(parent, "cgroup.subtree_control")
    enabled = set(open(control).read().split())
    missing = [c for c in controllers if c not in enabled]
    if not missing:
        return
    try:
        _write(control, " ".join("+" + c for c in missing))
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        # "No internal processes": a cgroup holding processes cannot hand controllers to
        # children. If the grader is alone in it (a delegated scope), it steps into a leaf.
        if _procs(parent) - {os.getpid()}:
            raise CgroupUnavailable(
                f"{parent} holds other processes, so it cannot delegate controllers; run the "
                f"grader in a cgroup of its own (systemd-run --scope -p Delegate=yes ...)") from exc
        leaf = os.path.join(parent, f"{_CGROUP_PREFIX}grader-{os.getpid()}")
        os.makedirs(leaf, exist_ok=True)
        _write(os.path.join(leaf, "cgroup.procs"), "0")
        _write(control, " ".join("+" + c for c in missing))


def _procs(group):
    try:
        with open(os.path.join(group, "cgroup.procs")) as fh:
            return {int(x) for x in fh.read().split()}
    except (OSError, ValueError):
        return set()


def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def _remove_tree(group):
    """Remove a worker's group and its kernel groups, killing anything left in them."""
    try:
        children = [os.path.join(group, n) for n in os.listdir(group)
                    if os.path.isdir(os.path.join(group, n))]
    except OSError:
        return
    for child in children:
        Cgroups.kill([os.path.join(child, "cgroup.procs")])
    _rmdir(group)


def sweep_cgroups(version, root, explicit):
    """Remove the groups of grader processes that died without cleaning up."""
    parents = []
    if version == "v2":
        parents.append(root if explicit else os.path.join(root, _own_cgroup("").lstrip("/")))
    else:
        for controller in ("cpu", "memory", "pids"):
            mount = os.path.join(root, controller)
            if os.path.isdir(mount):
                try:
                    parents.append(mount if explicit else os.path.join(mount, _own_cgroup(controller).lstrip("/")))
                except (OSError, CgroupUnavailable):
                    continue
    for parent in parents:
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            pid = _owner_pid(name, _CGROUP_PREFIX)
            if pid is not None and pid != os.getpid() and not _pid_alive(pid):
                _remove_tree(os.path.join(parent, name))


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
    max_message_mb = Integer(
        16, help="Largest message the grader accepts from a kernel, MiB (0 = no limit); an output "
                 "is cut at SandboxedExecute.max_output_bytes long before.").tag(config=True)
    max_queued_messages = Integer(
        32, help="Messages from a kernel the grader holds unread at most (zmq's receive "
                 "high-water mark); with max_message_mb this bounds the memory a kernel can make "
                 "the grader hold.").tag(config=True)
    package_sources = Dict(
        {}, help="Directories shown in place of a package's own ({name: directory}); the grader "
                 "shows the student edition of nnlab, without the answer key, this way.").tag(config=True)
    packages = List(
        ["nnlab"], help="Packages whose directory is bound read-only (editable installs live outside the venv)."
    ).tag(config=True)
    share_net = Bool(False, help="Give the kernel the network (off: its own empty network namespace).").tag(config=True)
    uid = Integer(1000, help="User id inside the sandbox (a user namespace: no capabilities).").tag(config=True)
    memory_mb = Integer(
        3072, help="Memory of one kernel, MiB: RLIMIT_AS of each process and, with cgroups, the "
                   "total of the kernel and everything it started; 0 = none.").tag(config=True)
    max_processes = Integer(
        256, help="Processes of one kernel: RLIMIT_NPROC of its uid and, with cgroups, pids.max.").tag(config=True)
    max_file_mb = Integer(64, help="Largest file the kernel may write (RLIMIT_FSIZE), MiB.").tag(config=True)
    max_open_files = Integer(256, help="RLIMIT_NOFILE for the kernel.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU time of one kernel (RLIMIT_CPU), seconds; 0 = none.").tag(config=True)
    tmp_mb = Integer(256, help="Size of the kernel's private /tmp (tmpfs), MiB.").tag(config=True)
    disk_mb = Integer(
        512, help="Total size of the private working directory (a tmpfs mounted by the grader; "
                  "needs root), MiB; 0 = unbounded.").tag(config=True)
    cpus = Float(
        1.0, help="CPU time one kernel and everything it started may use, in cores (a cgroup CPU "
                  "quota); 0 = no quota.").tag(config=True)
    cgroup = Enum(
        ["auto", "v2", "v1", "off"], default_value="auto",
        help="Which cgroup hierarchy bounds CPU, memory and processes: 'auto' uses v2 when "
             "<cgroup_root>/cgroup.controllers exists, else the v1 cpu/memory/pids hierarchies.",
    ).tag(config=True)
    cgroup_root = Unicode(
        "", help="Where the grader creates its cgroups. v2: a (delegated) cgroup directory; v1: a "
                 "directory holding the cpu/, memory/ and pids/ hierarchies. Default: the "
                 "grader's own cgroup under /sys/fs/cgroup.").tag(config=True)
    separate_uids = Bool(
        True, help="When the grader runs as root, run each worker's kernels under an unprivileged "
                   "uid of their own (uid_base + 2 * slot + 0 or 1), so that RLIMIT_NPROC holds and "
                   "one worker's processes never count against another's.").tag(config=True)
    uid_base = Integer(
        2_000_000_000, help="First host uid (and gid) for kernels; uid_slots * 2 uids from here are "
                            "used. Pick a range no account and no subuid range uses.").tag(config=True)
    uid_slots = Integer(64, help="Grading processes that may run at once on this machine.").tag(config=True)
    workdir_root = Unicode(
        "", help="Where private working directories are created (default: the system temp dir)."
    ).tag(config=True)
    env = Dict(
        {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
         "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
         "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8"},
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

    # --- isolation of one submission from the others ------------------------------------------

    def drops_privileges(self):
        """Whether kernels run under a uid of their worker slot (root grader, bwrap on)."""
        return self.enabled and self.separate_uids and _is_root()

    def limit_problems(self, sandboxed=True):
        """One line per limit that cannot be applied on this host (empty when all hold);
        ``sandboxed=False``: for kernels run without bwrap (which keep the grader's uid)."""
        problems = list(Cgroups.open(self)[1])
        if _is_root():
            if not sandboxed:
                problems.append("unsandboxed kernels run as root: RLIMIT_NPROC is not enforced for root")
            elif not self.separate_uids:
                problems.append("kernels run as root (c.Sandbox.separate_uids = False): RLIMIT_NPROC "
                                "is not enforced for root")
            if not self.disk_mb:
                problems.append("total disk use of the working directory not bounded "
                                "(c.Sandbox.disk_mb = 0): per file only (RLIMIT_FSIZE)")
        else:
            if self.disk_mb:
                problems.append("total disk use of the working directory not bounded (mounting its "
                                "tmpfs needs root): per file only (RLIMIT_FSIZE)")
        if self.enabled and not self.tmp_mb:
            problems.append("the kernel's /tmp is not bounded (c.Sandbox.tmp_mb = 0)")
        return problems

    def make_workdir(self, prefix="nnlab-kernel-"):
        """A fresh private directory: a tmpfs of ``disk_mb`` when the grader is root (0711 so
        that the kernel's uid can reach the folders handed to it, and nothing else)."""
        _process_state()
        if "swept" not in _STATE:
            _STATE["swept"] = True
            sweep_leftovers()
        private = tempfile.mkdtemp(prefix=prefix, dir=self.workdir_root or None)
        if _is_root() and self.disk_mb:
            try:
                _mount(f"{_TMPFS_SOURCE}{os.getpid()}", private, "tmpfs", _MS_NOSUID | _MS_NODEV,
                       f"size={self.disk_mb * 2**20},nr_inodes=65536,mode=0700")
            except OSError:
                pass  # reported by limit_problems() as unbounded disk use
        if self.drops_privileges():
            os.chmod(private, 0o711)
            if not _reachable(private, -1):
                release_workdir(private)
                raise SandboxUnavailable(
                    f"the kernel's uid cannot reach {private}: set c.Sandbox.workdir_root to a "
                    f"directory every user may traverse")
        return private

    def kernel_uid(self, workdir):
        """The uid the kernel of ``workdir`` runs as (None: the grader's own). A workdir still
        owned by the grader gets the next uid of this worker's pair; a fresh kernel for the same
        notebook keeps the uid of the one it replaces."""
        if not self.drops_privileges():
            return None
        owner = os.lstat(workdir).st_uid
        if owner != os.geteuid():
            return owner
        state = _process_state()
        uid = self.uid_base + 2 * _slot(self.uid_slots) + state["parity"]
        state["parity"] ^= 1
        _clear_uid(uid)
        os.lchown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        return uid

    def hand_over(self, workdir):
        """Give the kernel's uid the files the grader put in ``workdir`` (links are never
        followed); returns that uid, or None when kernels run as the grader."""
        uid = self.kernel_uid(workdir)
        if uid is None:
            return None
        _chown_tree(workdir, uid)
        return uid

    def enter(self, joins, uid):
        """Runs in the child between fork and exec (as root): join the kernel's cgroups, set the
        limits, then become ``uid``. Everything bwrap starts inherits all three."""
        for path in joins:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        self.set_limits()
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

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
        drop = self.drops_privileges()

        def source(path, writable=False):
            # bwrap runs as the kernel's uid: a path it cannot reach is shown through a view.
            return _view(path, writable) if drop and not _reachable(path, -1) else path
        for path in self.ro_paths():
            args += ["--ro-bind", source(path), path]
        for name, replacement in self.package_sources.items():
            args += ["--ro-bind", source(replacement), _package_dir(name)]
        for path in (workdir, *rw):
            args += ["--bind", source(path, writable=True), path]
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
    background = Bool(False, help="Booting ahead of its notebook: a low CPU weight until used.")

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

    def client(self, **kwargs):
        """A client whose sockets refuse oversized messages.

        The grader's memory is not the student's: a message larger than max_message_mb (one
        huge print) makes zmq drop it, and that output connection with it, instead of holding
        it. The notebook's later outputs are then lost; the grader's own calls use the shell
        channel.
        """
        context = zmq.asyncio.Context()
        if self.sandbox.max_message_mb:
            context.setsockopt(zmq.MAXMSGSIZE, self.sandbox.max_message_mb * 2**20)
        # Messages nobody has read yet are bounded too: beyond this many, new output is dropped.
        context.setsockopt(zmq.RCVHWM, self.sandbox.max_queued_messages)
        client = super().client(context=context, **kwargs)
        client._created_context = True  # closed with the client's channels
        return client

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
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        uid = None
        if self.sandboxed:
            uid = self.sandbox.hand_over(self.workdir)
            if uid is not None:  # the kernel reads its connection file and makes its sockets here
                os.lchown(self.conndir, uid, uid)
                os.lchown(self.connection_file, uid, uid)
        else:
            kw["env"] = self.sandbox.unsandboxed_env(self.workdir)
        group = Cgroups.open(self.sandbox)[0]
        try:
            self._cgroup_joins = group.new_kernel() if group else []
        except OSError as exc:  # the worker's group went away: the rlimits still hold
            self.log.warning("kernel started without its cgroup: %s", exc)
            self._cgroup_joins = []
        if self.background:
            self.set_background(True)
        kw["preexec_fn"] = lambda: self.sandbox.enter(self._cgroup_joins, uid)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        except Exception:
            self.kill_processes()
            raise

    async def _async_cleanup_resources(self, restart=False):
        # Whatever the kernel started (setsid, double forks) dies with it, then the group goes.
        self.kill_processes()
        await super()._async_cleanup_resources(restart=restart)

    def set_background(self, background):
        """A kernel booting ahead of its notebook yields the CPU to the one being graded."""
        self.background = background
        for join in getattr(self, "_cgroup_joins", []):
            group = os.path.dirname(join)
            for name, low, normal in (("cpu.shares", 64, 1024), ("cpu.weight", 5, 100)):
                path = os.path.join(group, name)
                if os.path.exists(path):
                    with contextlib.suppress(OSError):
                        _write(path, str(low if background else normal))

    def kill_processes(self):
        """Kill every process of this kernel's cgroup and remove it (no-op without cgroups)."""
        joins, self._cgroup_joins = getattr(self, "_cgroup_joins", []), []
        Cgroups.kill(joins)
