"""pyproject.toml, environment.yml and binder/ must declare the same dependencies."""
import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def parse(requirement):
    """'ipywidgets>=8,<9' -> ('ipywidgets', frozenset({'>=8', '<9'}))."""
    name, spec = _REQ.match(requirement.split(";")[0].split("#")[0]).groups()
    parts = frozenset(p.replace(" ", "") for p in spec.split(",") if p.strip())
    return name.lower().replace("_", "-"), parts


def pyproject_requirements():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    runtime = dict(parse(r) for r in project["dependencies"])
    test = dict(parse(r) for r in project["optional-dependencies"]["test"])
    return runtime, test


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for item in env["dependencies"]:
        if isinstance(item, str):
            name, spec = parse(item)
            if name not in ("python", "pip"):
                out[name] = spec
    return out


def test_environment_yml_matches_pyproject():
    runtime, test = pyproject_requirements()
    conda = conda_requirements()
    expected = {**runtime, **test}
    missing = sorted(set(expected) - set(conda))
    extra = sorted(set(conda) - set(expected))
    assert not missing, f"environment.yml lacks {missing}, declared in pyproject.toml"
    assert not extra, f"environment.yml lists {extra}, which pyproject.toml does not declare"
    for name, spec in expected.items():
        assert conda[name] == spec, (
            f"{name}: pyproject.toml says {sorted(spec)}, environment.yml says {sorted(conda[name])}")


def binder_requirements():
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return dict(parse(line) for line in lines if line.split("#")[0].strip())


def test_binder_installs_the_runtime_dependencies():
    runtime, _ = pyproject_requirements()
    binder = binder_requirements()
    assert binder == runtime, (
        f"binder/requirements.txt {sorted((k, sorted(v)) for k, v in binder.items())} differs from "
        f"pyproject.toml {sorted((k, sorted(v)) for k, v in runtime.items())}")


def test_binder_pins_jupyterlab_4_and_ipywidgets_8():
    binder = binder_requirements()
    assert binder["jupyterlab"] == {">=4", "<5"}
    assert binder["ipywidgets"] == {">=8", "<9"}


def test_python_floor_matches():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pins == ["python" + data["project"]["requires-python"]]


def test_environment_yml_installs_the_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip
