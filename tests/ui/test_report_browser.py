"""The class report as an instructor opens it: Debian's Chromium, straight from the file.

The synthetic class of tests/test_report.py (known mistake counts, hostile student ids) is
reported; the page must render with every figure loaded, no script run, and the mistakes
list first.  A full-page screenshot goes to tests/artifacts/class-report.png.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ARTIFACTS = TESTS / "artifacts"   # git-ignored
sys.path.insert(0, str(TESTS))

from test_report import EXPECTED, HOSTILE, HOSTILE_REASON, write_course  # noqa: E402

from nnlab.grading.course import Course  # noqa: E402
from nnlab.grading.report import write_report  # noqa: E402


def test_report_renders_in_chromium(page, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    root = write_course(str(tmp_path / "course"))
    out = tmp_path / "report" / "report.html"
    result = write_report(Course(root), str(out))
    assert len(result["figures"]) == 4

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")

    # Every figure is decoded by the browser (a broken or blocked image has naturalWidth 0).
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) == 4 and all(done and width > 100 for done, width in sizes), sizes

    # The mistakes to re-teach come first on the page, the most common at the top.
    headings = page.locator("h2").all_inner_texts()
    assert headings[0].startswith("What to re-teach")
    first = page.locator("ol.reteach li").first
    assert first.get_attribute("data-mistake") == "transposed"
    assert "14 students" in first.inner_text()
    shown = {(li.get_attribute("data-exercise"), li.get_attribute("data-mistake")):
             int(li.get_attribute("data-students")) for li in page.locator("ol.reteach li").all()}
    assert shown == EXPECTED

    # The hostile id is text on the page, not markup: no script element exists, none ran.
    assert page.locator("script").count() == 0
    assert dialogs == []
    assert page.get_by_text(HOSTILE, exact=True).count() >= 1
    assert page.get_by_text(HOSTILE_REASON).count() >= 1
    assert not page.console.errors, page.console.errors

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "class-report.png"), full_page=True)
