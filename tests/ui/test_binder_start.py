"""What Binder builds and shows: binder/postBuild run on a copy of the repository, then the
result served by JupyterLab and opened in Chromium at /lab, as a Binder link opens it."""
from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LESSON_00_STUDENT = "autograder/release/00_start_here/00_start_here.ipynb"
LESSON_00_MASTER = "notebooks/00_start_here/00_start_here.ipynb"


def test_post_build_releases_student_versions(binder_build):
    root = binder_build.root
    masters = sorted(root.glob("notebooks/*/*.ipynb"))
    assert masters
    for master in masters:
        lesson = master.parent.name
        student = root / "autograder" / "release" / lesson / master.name
        assert student.exists(), f"postBuild did not release {lesson}"
        text = student.read_text()
        assert "### BEGIN SOLUTION" not in text, f"{student} still holds a solution"
        assert "### BEGIN SOLUTION" in master.read_text() or lesson.startswith("00")
    # nnlab was installed into the image's Python, not just importable from the checkout
    where = subprocess.run([str(binder_build.python), "-c", "import nnlab.widgets, nnlab; "
                            "print(nnlab.__file__)"], cwd="/", capture_output=True, text=True,
                           check=True).stdout
    assert "site-packages" in where, where
    workspaces = list((binder_build.home / ".jupyter/lab/workspaces").glob("*"))
    assert len(workspaces) == 1 and LESSON_00_STUDENT in workspaces[0].read_text()


def test_binder_opens_lesson_00_student_version(browser, binder_build, lab_server):
    server = lab_server(binder_build.root, binder_build.home / "lab-state", "binder-lab",
                        workspace=binder_build.home / ".jupyter/lab/workspaces")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.page_url("lab"))    # Binder's landing URL, no file named
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    tab.filter(has_text="00_start_here.ipynb").wait_for()
    # the student version: the file browser shows where it lives, its cells hold no solution
    crumbs = page.locator(".jp-FileBrowser .jp-BreadCrumbs")
    crumbs.filter(has_text="autograder/release").wait_for()
    notebook = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    notebook.locator(".jp-CodeCell").first.wait_for()
    assert "BEGIN SOLUTION" not in notebook.inner_text()
    page.screenshot(path=str(ARTIFACTS / "binder-start.png"))
    # the instructor masters are still there for self-learners
    with urllib.request.urlopen(server.page_url(f"api/contents/{LESSON_00_MASTER}"
                                                "?content=0")) as response:
        assert json.load(response)["type"] == "notebook"
    context.close()
