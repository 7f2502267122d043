"""JupyterHub configuration of the course hub, from one settings file.

``nnlab hub`` writes ``<state_dir>/settings.json`` and a two-line ``jupyterhub_config.py``
that calls :func:`configure`; the same function is what the tests load with another
spawner.  The choices, each for a reason:

- **Login**: JupyterHub's default PAM authenticator: each person's own system password.
  (The shared-password authenticator would let any student log in *as any other*.)
  Only the roster may log in; instructors are hub admins.
- **Servers**: ``LocalProcessSpawner`` runs each server as its user's own account, so file
  permissions separate the students (see :mod:`nnlab.hub.layout`).
- **Restarts**: the proxy runs as its own process and the hub neither starts nor stops it,
  and ``cleanup_servers = False``: a hub restart (or crash) leaves the proxy, every
  student's server and every file in place; the hub finds them again in its SQLite state.
- **Network**: the proxy, the hub and every server listen on ``ip`` (127.0.0.1 by default).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONFIG_FILE = """\
# Written by `nnlab hub` from settings.json next to this file; run `nnlab hub` again to change it.
from nnlab.hub.config import configure, load_settings

configure(c, load_settings({settings!r}))  # noqa: F821
{extra}"""


@dataclass
class HubSettings:
    state_dir: str                      # root-only: database, secrets, passwords, logs
    share_dir: str                      # world-readable: the single-user Jupyter config
    exchange: str                       # nbgrader's exchange root
    students: list[str]
    instructors: list[str]
    python_bin: str                     # bin/ of the environment that has nnlab + Jupyter
    ip: str = "127.0.0.1"
    port: int = 8000                    # the proxy: what people open in the browser
    hub_port: int = 8081                # the hub's own (internal) port
    proxy_api_port: int = 8001
    course_id: str = "nnlab"
    student_pythonpath: str | None = None   # the student edition of nnlab, when there is one
    api_tokens: dict[str, str] = field(default_factory=dict)  # service name -> token (admin)
    log_level: str = "INFO"
    extra_config: str | None = None     # a jupyterhub_config.py of the site's own, loaded last

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def proxy_api_url(self) -> str:
        return f"http://{self.ip}:{self.proxy_api_port}"

    @property
    def hub_url(self) -> str:
        return f"http://{self.ip}:{self.hub_port}"

    def save(self) -> Path:
        path = Path(self.state_dir) / "settings.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=1)
        return path

    def write_config(self) -> Path:
        settings = self.save()
        path = Path(self.state_dir) / "jupyterhub_config.py"
        extra = (f"\n# The site's own settings (--extra-config), loaded last.\n"
                 f"load_subconfig({self.extra_config!r})  # noqa: F821\n") if self.extra_config else ""
        path.write_text(CONFIG_FILE.format(settings=str(settings), extra=extra))
        os.chmod(path, 0o600)
        return path


def load_settings(path: str | os.PathLike) -> HubSettings:
    data = json.loads(Path(path).read_text())
    known = HubSettings.__dataclass_fields__
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{path}: unknown settings {unknown}")
    return HubSettings(**data)


def role_environment(settings: HubSettings, username: str) -> dict[str, str]:
    """The environment a user's server starts with: the course's Python first on PATH,
    the role's Jupyter config, and (for students) the student edition of nnlab."""
    role = "instructor" if username in settings.instructors else "student"
    env = {
        "PATH": os.pathsep.join([settings.python_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "JUPYTER_CONFIG_PATH": str(Path(settings.share_dir) / "jupyter" / role),
        "NNLAB_ROLE": role,
        # Kernels run single-threaded BLAS, as in grading: many students share the cores.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    if role == "student" and settings.student_pythonpath:
        env["PYTHONPATH"] = settings.student_pythonpath
    return env


def configure(c, settings: HubSettings) -> None:
    """Set the traits of JupyterHub's config object `c` for the course in `settings`."""
    state = Path(settings.state_dir)
    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = settings.ip
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.log_level = settings.log_level

    # The proxy is started by `nnlab hub` beside the hub, never by the hub: it outlives hub restarts.
    c.JupyterHub.cleanup_servers = False
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = settings.proxy_api_url
    # auth_token: read by JupyterHub from the CONFIGPROXY_AUTH_TOKEN environment variable.

    c.JupyterHub.authenticator_class = "pam"
    c.Authenticator.allowed_users = set(settings.students) | set(settings.instructors)
    c.Authenticator.admin_users = set(settings.instructors)
    c.PAMAuthenticator.open_sessions = False

    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(Path(settings.python_bin) / "jupyterhub-singleuser")]
    c.Spawner.ip = settings.ip
    c.Spawner.notebook_dir = "~"
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120
    c.Spawner.mem_limit = "2G"   # advisory with local processes; enforced on Kubernetes

    def pre_spawn_hook(spawner):
        # a new dict: the configured one is shared by every spawner
        spawner.environment = {**spawner.environment,
                               **role_environment(settings, spawner.user.name)}

    c.Spawner.pre_spawn_hook = pre_spawn_hook

    if settings.api_tokens:
        c.JupyterHub.services = [{"name": name, "api_token": token}
                                 for name, token in sorted(settings.api_tokens.items())]
        c.JupyterHub.load_roles = [{
            "name": "course-automation",
            "description": "scripts of the course (the load benchmark): manage users, "
                           "servers and tokens",
            "scopes": ["admin:users", "admin:servers", "tokens", "list:users"],
            "services": sorted(settings.api_tokens),
        }]
