"""binder/ says what we mean: repo2docker reads it as intended (no container engine needed).

`jupyter-repo2docker --no-build --debug` inspects the repository exactly as Binder does and
prints the Dockerfile it would build, without building.  The run of binder/postBuild itself
(install, release of the student versions, JupyterLab opening on lesson 00) is checked in
tests/ui/test_binder_start.py.
"""
import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LESSON_00_STUDENT = "autograder/release/00_start_here/00_start_here.ipynb"


def binder_requirements() -> dict:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line.split("#")[0].strip()) for line in lines
            if line.split("#")[0].strip()]
    return {r.name.lower(): r.specifier for r in reqs}


def repo2docker_command():
    exe = Path(sys.executable).with_name("jupyter-repo2docker")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-repo2docker")
    return [found] if found else None


@pytest.fixture(scope="module")
def dockerfile():
    """The Dockerfile repo2docker would build from this repository, and its log."""
    command = repo2docker_command()
    if command is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker)")
    result = subprocess.run(
        command + ["--no-build", "--no-run", "--debug", "--user-name", "jovyan",
                   "--user-id", "1000", str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, result.stderr


def test_repo2docker_uses_the_binder_folder(dockerfile):
    text, log = dockerfile
    # the Python buildpack, on the Python of binder/runtime.txt
    assert "Building conda environment for python=3.11" in log, log[-2000:]
    # the dependency list, then the build script, in that order
    install = text.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    post_build = text.index("RUN ./binder/postBuild")
    assert install < post_build
    # binder/ overrides the root: repo2docker does not `pip install .` the pyproject itself;
    # that is postBuild's job, after the pinned dependencies are in.
    assert not re.search(r"pip install --no-cache-dir \.\s*$", text, re.MULTILINE)
    assert "environment.yml" not in text


def test_jupyterlab_4_and_ipywidgets_8_are_pinned():
    specs = binder_requirements()
    assert "4.6.6" in specs["jupyterlab"] and "3.6.0" not in specs["jupyterlab"]
    assert "5.0.0" not in specs["jupyterlab"]
    assert "8.1.9" in specs["ipywidgets"] and "7.7.5" not in specs["ipywidgets"]
    assert "9.0.0" not in specs["ipywidgets"]


def test_requirements_are_plain():
    # one requirement per line: no local paths, options or URLs, so tools can compare lists
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert not line.startswith(("-", ".", "/")) and "://" not in line, line
            Requirement(line)


def test_post_build_is_strict_and_executable():
    script = BINDER / "postBuild"
    lines = [ln.strip() for ln in script.read_text().splitlines()]
    assert lines[0].startswith("#!") and "bash" in lines[0]
    commands = [ln for ln in lines[1:] if ln and not ln.startswith("#")]
    assert commands[0].startswith("set -e"), "postBuild must stop at the first failing step"
    assert script.stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(script)], check=True)
    body = "\n".join(commands)
    assert "pip install" in body and "nnlab release" in body
    assert body.index("pip install") < body.index("nnlab release")
    assert "binder/workspace.json" in body


def test_workspace_opens_the_student_version_of_lesson_00():
    workspace = json.loads((BINDER / "workspace.json").read_text())
    assert workspace["metadata"]["id"] == "default"   # the workspace /lab opens
    main = workspace["data"]["layout-restorer:data"]["main"]
    assert main["current"] == f"notebook:{LESSON_00_STUDENT}"
    assert workspace["data"][f"notebook:{LESSON_00_STUDENT}"]["data"]["path"] == LESSON_00_STUDENT
    # the release step writes there: course root autograder/, one folder per lesson master
    assert (ROOT / "notebooks/00_start_here/00_start_here.ipynb").exists()
    assert (ROOT / "autograder/nbgrader_config.py").exists()


def test_runtime_is_a_supported_python():
    version = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", version), version
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert version.split("-")[1] in SpecifierSet(requires.group(1))
