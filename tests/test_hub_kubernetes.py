"""deploy/config.yaml (Zero to JupyterHub) and the generated hub configuration load with
KubeSpawner, and a broken setting fails.

z2jh turns its values into JupyterHub configuration; `load_z2jh` does the same for the keys
this course uses (and refuses any other key, so that a typo cannot slip through unchecked).
Then every configured class is instantiated from that configuration, which is where
traitlets rejects a value of the wrong kind, and KubeSpawner builds the pod of a student.
"""
from __future__ import annotations

import asyncio
import copy
import importlib
from pathlib import Path

import pytest
import yaml
from traitlets import TraitError
from traitlets.config import Config

kubespawner = pytest.importorskip("kubespawner", reason="pip install jupyterhub-kubespawner")
from jupyterhub.app import JupyterHub  # noqa: E402
from jupyterhub.auth import Authenticator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VALUES = REPO / "deploy" / "config.yaml"


class ConfigProblem(ValueError):
    """A setting z2jh or JupyterHub would reject or ignore."""


# singleuser.<key> -> how z2jh sets KubeSpawner (the subset the course uses).
def _image(c, v):
    c.KubeSpawner.image = f"{v['name']}:{v['tag']}"


def _resources(kind):
    def apply(c, v):
        prefix = "cpu" if kind == "cpu" else "mem"
        for key, value in v.items():
            if key not in ("guarantee", "limit"):
                raise ConfigProblem(f"singleuser.{kind}.{key} is not a setting")
            setattr(c.KubeSpawner, f"{prefix}_{key}", value)
    return apply


def _storage(c, v):
    known = {"type", "capacity", "homeMountPath", "extraVolumes", "extraVolumeMounts"}
    if set(v) - known:
        raise ConfigProblem(f"singleuser.storage: unknown {sorted(set(v) - known)}")
    if v.get("type") != "dynamic":
        raise ConfigProblem("singleuser.storage.type must be 'dynamic' (one volume per person)")
    c.KubeSpawner.storage_pvc_ensure = True
    c.KubeSpawner.pvc_name_template = "claim-{username}"
    c.KubeSpawner.storage_capacity = v["capacity"]
    c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-{username}"}},
                             *v.get("extraVolumes", [])]
    c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": v.get("homeMountPath", "/home/jovyan")},
                                   *v.get("extraVolumeMounts", [])]


def _extra_files(c, v):
    for name, spec in v.items():
        if not str(spec.get("mountPath", "")).startswith("/"):
            raise ConfigProblem(f"singleuser.extraFiles.{name}: mountPath must be absolute")
        given = [k for k in ("data", "stringData", "binaryData") if k in spec]
        if len(given) != 1 or set(spec) - {"mountPath", "data", "stringData", "binaryData", "mode"}:
            raise ConfigProblem(f"singleuser.extraFiles.{name}: needs mountPath and exactly one "
                                f"of data/stringData/binaryData, has {sorted(spec)}")


SINGLEUSER = {
    "image": _image,
    "cmd": lambda c, v: setattr(c.KubeSpawner, "cmd", [v] if isinstance(v, str) else v),
    "defaultUrl": lambda c, v: setattr(c.KubeSpawner, "default_url", v),
    "cpu": _resources("cpu"),
    "memory": _resources("memory"),
    "extraEnv": lambda c, v: setattr(c.KubeSpawner, "environment", v),
    "storage": _storage,
    "extraFiles": _extra_files,
}
TOP_LEVEL = {"hub", "singleuser", "cull", "proxy"}


def load_z2jh(values: dict) -> Config:
    """The JupyterHub configuration z2jh builds from `values`, with KubeSpawner."""
    unknown = set(values) - TOP_LEVEL
    if unknown:
        raise ConfigProblem(f"unknown top-level keys {sorted(unknown)}")
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    hub = values.get("hub", {})
    if set(hub) - {"config", "extraConfig"}:
        raise ConfigProblem(f"hub: unknown {sorted(set(hub) - {'config', 'extraConfig'})}")
    c.merge(Config(copy.deepcopy(hub.get("config", {}))))
    for key, value in values.get("singleuser", {}).items():
        if key not in SINGLEUSER:
            raise ConfigProblem(f"singleuser.{key} is not a setting this course uses")
        SINGLEUSER[key](c, value)
    for name, source in sorted(hub.get("extraConfig", {}).items()):
        exec(compile(source, f"hub.extraConfig.{name}", "exec"), {"c": c, "get_config": lambda: c})
    cull = values.get("cull", {})
    if set(cull) - {"enabled", "timeout"} or not isinstance(cull.get("timeout", 0), int):
        raise ConfigProblem(f"cull: {cull}")
    return c


def import_class(name: str):
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(module), cls)


CLASSES = {"JupyterHub": JupyterHub, "Authenticator": Authenticator,
           "KubeSpawner": kubespawner.KubeSpawner}


class MockUser:
    def __init__(self, name, id):
        self.name, self.id, self.url = name, id, f"/user/{name}/"
        self.escaped_name = name


def check(c: Config) -> dict:
    """Instantiate every configured class from `c`; return a student's pod manifest."""
    authenticator = import_class(c.JupyterHub.authenticator_class)
    classes = {**CLASSES, authenticator.__name__: authenticator}
    for section in c:
        if section not in classes:
            raise ConfigProblem(f"{section}: not a class of this hub")
        settable = set(classes[section].class_trait_names(config=True))
        unknown = set(c[section]) - settable
        if unknown:
            raise ConfigProblem(f"{section} has no setting {sorted(unknown)}")
    JupyterHub(config=c)
    authenticator(config=c)
    return pod_of(c, "s001", 7)[1]


def pod_of(c: Config, name: str, user_id: int):
    """(spawner, pod manifest) of user `name`, as KubeSpawner would start it (no cluster call)."""
    async def build():
        spawner = kubespawner.KubeSpawner(config=c, _mock=True, user=MockUser(name, user_id))
        hook = c.KubeSpawner.get("pre_spawn_hook") or c.Spawner.get("pre_spawn_hook")
        if hook:
            hook(spawner)
        return spawner, await spawner.get_pod_manifest()
    return asyncio.run(build())


@pytest.fixture(autouse=True)
def kubeconfig(tmp_path, monkeypatch):
    """KubeSpawner reads a kube config when it is made; this one names a cluster that is never
    contacted (building a pod manifest needs no API call)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "offline",
        "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "nobody"}}],
        "users": [{"name": "nobody", "user": {"token": "unused"}}]}))
    from kubernetes_asyncio.config import kube_config
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))


@pytest.fixture
def values():
    return yaml.safe_load(VALUES.read_text())


def test_config_yaml_loads_with_kubespawner(values):
    pod = check(load_z2jh(values))
    container = pod.spec.containers[0]
    assert container.image == "registry.example.edu/nnlab-singleuser:2026.12"
    # each person runs as their own uid, so the exchange's modes separate the students
    assert pod.spec.security_context["fsGroup"] == 100
    assert container.security_context["runAsUser"] == 100007
    mounts = {m.mount_path for m in container.volume_mounts}
    assert {"/home/jovyan", "/srv/nbgrader/exchange"} <= mounts
    env = {e.name: e.value for e in container.env}
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/nnlab/jupyter/student"
    assert env["OPENBLAS_NUM_THREADS"] == "1"


def test_instructor_gets_the_instructor_config(values):
    spawner, _ = pod_of(load_z2jh(values), "teacher", 1)
    assert spawner.environment["JUPYTER_CONFIG_PATH"] == "/etc/nnlab/jupyter/instructor"


@pytest.mark.parametrize("break_it, complaint", [
    (lambda v: v["singleuser"]["memory"].update(limit="lots"), TraitError),
    (lambda v: v["hub"]["config"]["JupyterHub"].update(cleanup_server=False), ConfigProblem),
    (lambda v: v["singleuser"].update(memroy={"limit": "1G"}), ConfigProblem),
    (lambda v: v["hub"]["config"]["JupyterHub"].update(
        authenticator_class="ltiauthenticator.lti13.auth.LTI31Authenticator"), AttributeError),
    (lambda v: v["hub"]["config"]["LTI13Authenticator"].update(uri_scheme="ftp"), TraitError),
    (lambda v: v["singleuser"]["cpu"].update(limit="one"), TraitError),
    (lambda v: v["singleuser"]["storage"].update(type="none"), ConfigProblem),
], ids=["memory-limit", "unknown-hub-setting", "singleuser-typo", "authenticator-class",
        "lti-scheme", "cpu-limit", "no-home-volumes"])
def test_a_broken_copy_fails(values, break_it, complaint):
    broken = copy.deepcopy(values)
    break_it(broken)
    with pytest.raises(complaint):
        check(load_z2jh(broken))


def test_generated_hub_config_loads_with_kubespawner(tmp_path):
    """The configuration `nnlab hub` writes, with KubeSpawner in place of local processes."""
    from nnlab.hub.config import HubSettings, configure, load_settings
    settings = HubSettings(state_dir=str(tmp_path), share_dir=str(tmp_path / "share"),
                           exchange="/srv/nbgrader/exchange", students=["s001", "s002"],
                           instructors=["teacher"], python_bin="/srv/nnlab/env/bin")
    settings.write_config()
    c = Config()
    configure(c, load_settings(tmp_path / "settings.json"))
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    for key, value in c.Spawner.items():
        if key not in kubespawner.KubeSpawner.class_trait_names(config=True):
            raise ConfigProblem(f"Spawner.{key} is not a KubeSpawner setting")
    JupyterHub(config=c)
    _, pod = pod_of(c, "s001", 3)
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["JUPYTER_CONFIG_PATH"].endswith("/jupyter/student")
    assert pod.spec.containers[0].resources.limits["memory"] == 2 * 1024**3

    c.Spawner.mem_limit = "two gigs"
    with pytest.raises(TraitError):
        pod_of(c, "s001", 3)
