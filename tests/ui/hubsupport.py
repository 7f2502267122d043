"""Browser steps on the course hub, as a student or an instructor does them (Playwright).

Used by test_hub_cycle.py; every step leaves a screenshot in tests/artifacts/hub-cycle/.
"""
from __future__ import annotations

import json
import os
import pwd
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "tests" / "artifacts" / "hub-cycle"

# Every cell stays in the page, no news or update toasts over the screenshots: the user's own
# JupyterLab settings, as anyone may set them.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def write_lab_settings(user: str) -> None:
    entry = pwd.getpwnam(user)
    base = Path(entry.pw_dir) / ".jupyter" / "lab" / "user-settings"
    for name, value in LAB_SETTINGS.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for path in [Path(entry.pw_dir) / ".jupyter", *(Path(entry.pw_dir) / ".jupyter").rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def log_in(page, hub, user: str) -> None:
    """The hub's login form; returns when the user's JupyterLab has loaded."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.passwords[user])
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{re.escape(user)}/lab"), timeout=180_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    page.wait_for_selector(".jp-LauncherCard, .jp-Launcher", timeout=120_000)


def open_assignment_list(page):
    """Nbgrader > Assignment List; returns the panel."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.wait_for()
    return panel


def assignment_row(panel, section: str, assignment: str):
    """The row of `assignment` in the panel's `section` (released/fetched/submitted)."""
    return panel.locator(f"#{section}_assignments_list .list_item", has_text=assignment).first


def formgrader_row(page, assignment: str):
    return page.locator("tr", has=page.locator("td.name", has_text=assignment)).first


def close_modal(page) -> str:
    """Wait for Formgrader's result dialog, close it, return its text; fail on an error dialog."""
    modal = page.locator("#success-modal, #error-modal").first
    modal.wait_for(timeout=180_000)
    page.wait_for_timeout(300)  # the dialog fades in
    text = modal.inner_text()
    failed = modal.get_attribute("id") == "error-modal"
    modal.locator(".modal-footer button").first.click()
    modal.wait_for(state="detached")
    assert not failed, text
    return text


def write_answer(page, source: str) -> None:
    """Replace the first solution cell (the one that raises NotImplementedError) and save."""
    cell = page.locator(".jp-CodeCell", has=page.locator(".cm-content", has_text="NotImplementedError")).first
    cell.scroll_into_view_if_needed()
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    save(page)


def save(page, attempts: int = 6) -> None:
    """Save the current notebook until it stays clean: a kernel that finishes starting just
    after a save changes the notebook's metadata and marks it dirty again."""
    dirty = ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"
    for _ in range(attempts):
        page.keyboard.press("Control+s")
        try:
            page.wait_for_selector(dirty, state="detached", timeout=10_000)
        except Exception:
            continue
        page.wait_for_timeout(1_000)
        if page.locator(dirty).count() == 0:
            return
    raise AssertionError(f"the notebook stayed unsaved after {attempts} saves")
