"""The whole course cycle through the hub, in Chromium, as its users do it.

1. The instructor logs in, opens Formgrader, generates and releases lesson 01.
2. Two students log in, find lesson 01 in the Assignments panel, fetch it, write `dg_dx`
   (one right, one with the Jacobian transposed), validate and submit.
3. The instructor collects in Formgrader, grades with `nnlab grade` (sandboxed) and
   `nnlab feedback` in a shell, and releases the feedback in Formgrader.
4. Each student fetches the feedback and reads their score; the one who transposed also
   reads the hint that names the mistake.
5. A student cannot reach the other student's server or files, the feedback of the other, or
   the instructor's course; their Python imports the student edition of nnlab.

The hub runs on free loopback ports with throwaway accounts (nnlabt-*), removed at the end.
Screenshots of every step: tests/artifacts/hub-cycle/.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hubsupport import (assignment_row, close_modal, formgrader_row, log_in, open_assignment_list,
                        shot, write_answer, write_lab_settings)

REPO = Path(__file__).resolve().parents[2]
LESSON = "01_jacobians"

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="the course hub makes system accounts: run as root")


def ensure_proxy() -> None:
    """configurable-http-proxy from the project's package.json (as `make hub` installs it)."""
    proxy = REPO / "deploy" / "proxy"
    if (proxy / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed; the hub's proxy comes from npm")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(proxy)],
                   check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def course_hub(browser):
    from nnlab.hub.trial import TrialHub
    ensure_proxy()
    hub = TrialHub.start(students=2)
    try:
        for user in hub.students + [hub.instructor]:
            write_lab_settings(user)
        yield hub
    finally:
        hub.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def feedback_files(hub, user: str) -> list[Path]:
    return sorted((hub.home(user) / LESSON / "feedback").rglob(f"{LESSON}.html"))


def test_course_cycle_through_the_hub(course_hub, browser):
    from nnlab.hub.trial import DG_DX_RIGHT, DG_DX_TRANSPOSED
    hub = course_hub
    right, wrong = hub.students
    answers = {right: DG_DX_RIGHT, wrong: DG_DX_TRANSPOSED}

    # 1. The instructor releases lesson 01 from Formgrader.
    teacher_context, teacher = new_page(browser)
    log_in(teacher, hub, hub.instructor)
    shot(teacher, "01-instructor-lab")
    teacher.goto(f"{hub.url}/user/{hub.instructor}/formgrader/manage_assignments")
    row = formgrader_row(teacher, LESSON)
    row.wait_for()
    row.locator("td.assign a").click()                       # generate the student version
    assert "Successfully created the student version" in close_modal(teacher)
    formgrader_row(teacher, LESSON).locator("td.release a").click()
    close_modal(teacher)
    formgrader_row(teacher, LESSON).locator("td.status", has_text="released").wait_for()
    shot(teacher, "02-formgrader-released")
    outbound = hub.base / "exchange" / "nnlab" / "outbound" / LESSON / f"{LESSON}.ipynb"
    assert outbound.is_file()

    # 2. Each student fetches, answers, validates and submits.
    students = {}
    for user in hub.students:
        context, page = new_page(browser)
        students[user] = (context, page)
        log_in(page, hub, user)
        panel = open_assignment_list(page)
        released = assignment_row(panel, "released", LESSON)
        released.wait_for()
        shot(page, f"03-{user}-assignment-list")
        released.locator("button", has_text="Fetch").click()
        fetched = assignment_row(panel, "fetched", LESSON)
        fetched.wait_for()
        page.goto(f"{hub.url}/user/{user}/lab/tree/{LESSON}/{LESSON}.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        write_answer(page, answers[user])
        shot(page, f"04-{user}-answer")
        page.locator(".validate-button button, button.validate-button, .validate-button").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=300_000)
        dialog.locator(".jp-Dialog-content").wait_for()
        page.wait_for_function("!document.querySelector('.jp-Dialog')?.innerText.includes('Validating')",
                               timeout=300_000)
        verdict = dialog.inner_text()
        shot(page, f"05-{user}-validated")
        if user == right:
            assert "Success" in verdict, verdict
        else:
            assert "Success" not in verdict, verdict
        dialog.locator(".jp-Dialog-button").last.click()
        panel = open_assignment_list(page)
        assignment_row(panel, "fetched", LESSON).locator("button", has_text="Submit").click()
        assignment_row(panel, "submitted", LESSON).wait_for(timeout=60_000)
        shot(page, f"06-{user}-submitted")

    # 3. The instructor collects (Formgrader), grades and writes feedback (shell), releases it.
    teacher.goto(f"{hub.url}/user/{hub.instructor}/formgrader/manage_assignments")
    formgrader_row(teacher, LESSON).locator("td.collect a").click()
    close_modal(teacher)
    shot(teacher, "07-formgrader-collected")
    nnlab = str(Path(hub.settings.python_bin) / "nnlab")
    course = str(hub.course_dir)
    graded = hub.run_as(hub.instructor, [nnlab, "grade", "--course", course, "--no-progress"])
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "WITHOUT a sandbox" not in graded.stderr
    assert "graded 2 submission(s): 2 graded" in graded.stdout, graded.stdout
    written = hub.run_as(hub.instructor, [nnlab, "feedback", LESSON, "--course", course])
    assert written.returncode == 0, written.stdout + written.stderr
    teacher.reload()
    formgrader_row(teacher, LESSON).locator("td.release-feedback a").click()
    close_modal(teacher)
    shot(teacher, "08-formgrader-feedback-released")

    # 4. Each student fetches the feedback and reads the score (and the hint).
    scores = {}
    for user, (context, page) in students.items():
        page.goto(f"{hub.url}/user/{user}/lab")
        panel = open_assignment_list(page)
        submitted = assignment_row(panel, "submitted", LESSON)
        submitted.locator("button", has_text="Fetch Feedback").click()
        submitted.locator("a", has_text="view feedback").wait_for(timeout=60_000)
        shot(page, f"09-{user}-feedback-fetched")
        files = feedback_files(hub, user)
        assert len(files) == 1, files
        relative = files[0].relative_to(hub.home(user))
        page.goto(f"{hub.url}/user/{user}/files/{relative}")
        text = page.locator("body").inner_text()
        shot(page, f"10-{user}-feedback")
        scores[user] = text
    assert "2.0 / 2.0" in scores[right] or "2 / 2" in scores[right], scores[right][:2000]
    assert "0.0 / 2.0" in scores[wrong] or "0 / 2" in scores[wrong], scores[wrong][:2000]
    assert "Rows of a Jacobian index the outputs" in scores[wrong], scores[wrong][:3000]
    assert "Rows of a Jacobian index the outputs" not in scores[right]

    # 5. What one student cannot reach.
    context, page = students[wrong]
    for target in (f"/user/{right}/lab", f"/user/{right}/files/{LESSON}/{LESSON}.ipynb",
                   f"/user/{hub.instructor}/formgrader", f"/user/{hub.instructor}/tree/course"):
        response = page.goto(hub.url + target)
        assert response.status == 403, (target, response.status)
    shot(page, "11-other-server-forbidden")
    response = page.goto(f"{hub.url}/user/{wrong}/formgrader")
    assert response.status == 404  # students' servers have no Formgrader
    site = subprocess.run([str(Path(hub.settings.python_bin) / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    other_feedback = feedback_files(hub, right)[0]
    exchange_feedback = hub.base / "exchange" / "nnlab" / "feedback"
    for command in (["cat", str(other_feedback)],
                    ["ls", str(hub.home(right))],
                    ["ls", str(exchange_feedback)],
                    ["ls", str(hub.course_dir)],
                    ["cat", str(hub.course_dir / "gradebook.db")],
                    ["ls", str(hub.base / "exchange" / "nnlab" / "inbound")],
                    ["cat", f"{site}/nnlab/chainrule.py"]):        # the answer key
        done = hub.run_as(wrong, command)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, done)
    # A student's Python imports the student edition: the graded exercise's reference answer
    # is withheld there, while the instructor's is the whole package.
    python = str(Path(hub.settings.python_bin) / "python")
    probe = "import nnlab, nnlab.chainrule as c; print(nnlab.__file__); c.dg_dx(0.5)"
    as_student = hub.run_as(wrong, [python, "-c", probe])
    assert "student-edition" in as_student.stdout and as_student.returncode != 0, as_student
    as_teacher = hub.run_as(hub.instructor, [python, "-c", probe])
    assert "student-edition" not in as_teacher.stdout and as_teacher.returncode == 0, as_teacher
    # The student's own feedback fetch brings only their own file, never the other's.
    assert all(right not in p.read_text() for p in feedback_files(hub, wrong))

    for context, _ in students.values():
        context.close()
    teacher_context.close()
