"""Lesson 04's gradient-descent explorer and nbgrader's panels, in JupyterLab, in Chromium.

What a student does, done by Playwright: open the lesson, run all cells, look at the
explorer, move the learning-rate slider, press Play.  Screenshots of each step are saved
in tests/artifacts/ (git-ignored) for a human to look at.
"""
from __future__ import annotations

import re
import time

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"   # tests/artifacts, git-ignored

LESSON_04 = "notebooks/04_gradient_descent/04_gradient_descent.ipynb"
WIDGET_FAILURES = ("Error displaying widget", "model not found")
SEED_B = "-3.264366355"   # the notes' b after 1000 iterations, as the readout prints it


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll predicate() until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# The notebook on screen.  Other documents may be open in hidden tabs of the same workspace.
NOTEBOOK = ".jp-NotebookPanel:visible"


def open_notebook(page, lab, path: str) -> None:
    """Open `path` in a fresh workspace (?reset: no tabs left over from other tests)."""
    page.goto(lab.page_url(f"lab/tree/{path}?reset"))
    page.locator(NOTEBOOK).filter(has=page.locator(".jp-Cell")).first.wait_for()
    wait_until(lambda: kernel_idle(page), 90, f"the kernel of {path} to start")


def kernel_idle(page) -> bool:
    return page.locator(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']"
                        ).count() > 0


def open_menu(page, menu: str):
    """Open a main-menu menu; returns the locator of its open drop-down."""
    title = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$"))
    dropdown = page.locator(".lm-Menu:visible .lm-Menu-content")
    for _ in range(3):  # a click on an already active menu bar item may close it instead
        title.click()
        try:
            dropdown.first.wait_for(timeout=3_000)
            return dropdown.first
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError(f"the {menu} menu does not open")


def click_menu(page, menu: str, item: str) -> None:
    open_menu(page, menu).locator(".lm-Menu-itemLabel",
                                  has_text=re.compile(f"^{re.escape(item)}$")).click()


def cell_errors(page) -> list[str]:
    """Text of every error output in the open notebook."""
    errors = page.locator(
        f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [text for text in errors.all_inner_texts() if "Error" in text or "Traceback" in text]


def run_all_cells(page, timeout: float = 240) -> None:
    """Run > Run All Cells, then wait until every code cell has an execution count."""
    prompts = page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt")
    # Focus the notebook first, as a reader's click would: the Run menu acts on the
    # notebook that has focus, and right after loading none has.
    page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
    click_menu(page, "Run", "Run All Cells")

    def all_ran():
        if cell_errors(page):
            raise AssertionError("a cell failed:\n" + "\n".join(cell_errors(page))[-3000:])
        texts = prompts.all_inner_texts()
        return texts and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts)
    wait_until(all_ran, timeout, "all cells of the notebook to finish", interval=0.5)
    wait_until(lambda: kernel_idle(page), 60, "the kernel to become idle")


def readout(page) -> str:
    return page.locator(".nnlab-gd-readout").inner_text()


def readout_iteration(page) -> int:
    return int(re.search(r"iteration (\d+)", readout(page)).group(1))


def drag_log_slider_to(page, slider_class: str, exponent: float, lo: float, hi: float) -> None:
    """Drag the handle of a FloatLogSlider to 10**exponent (range 10**lo .. 10**hi), as a
    student would with the mouse: press on the handle, move, release."""
    track = page.locator(f".{slider_class} .noUi-target").bounding_box()
    handle = page.locator(f".{slider_class} .noUi-handle").bounding_box()
    start_x = handle["x"] + handle["width"] / 2
    y = handle["y"] + handle["height"] / 2
    target_x = track["x"] + (exponent - lo) / (hi - lo) * track["width"]
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move((start_x + target_x) / 2, y, steps=5)
    page.mouse.move(target_x, y, steps=5)
    page.mouse.up()


def shot(locator_or_page, name: str) -> None:
    locator_or_page.screenshot(path=str(ARTIFACTS / name))


def test_lesson_04_explorer_in_jupyterlab(lab, page):
    lesson_bytes = (lab.root / LESSON_04).read_bytes()
    open_notebook(page, lab, LESSON_04)
    run_all_cells(page)

    explorer = page.locator(".nnlab-gd-explorer")
    explorer.wait_for(state="visible", timeout=30_000)
    explorer.scroll_into_view_if_needed()
    body = page.locator("body").inner_text()
    for failure in WIDGET_FAILURES:
        assert failure not in body, f"the page shows {failure!r}"
    # the picture arrived and has its fixed size
    image = page.locator(".nnlab-gd-image")
    wait_until(lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), 20,
               "the explorer's picture to load")
    box = image.bounding_box()
    assert box["height"] > 200, box
    wait_until(lambda: SEED_B in readout(page), 20, "the readout of the notes' run")
    shot(explorer, "explorer-1-seed-settings.png")

    # Learning-rate slider: 1e-4 -> 1.5e-4 (still converging): the kernel recomputes the path.
    before = readout(page)
    drag_log_slider_to(page, "nnlab-gd-learning-rate", exponent=-3.82, lo=-6, hi=-3)
    after = wait_until(lambda: readout(page) != before and readout(page), 20,
                       "the readout to change after moving the learning-rate slider")
    assert SEED_B not in after
    assert "1.00e-04" not in after and "learning rate 1." in after, after
    assert "Converges" in after, after
    shot(explorer, "explorer-2-learning-rate-moved.png")

    # Play: the slider is at the last iteration, so Play starts over from 0 and counts up.
    page.locator(".nnlab-gd-play button").first.click()  # first button: play
    first = wait_until(lambda: readout_iteration(page) < 1000 and readout_iteration(page), 10,
                       "Play to restart the iterations", interval=0.05) or 0
    time.sleep(1.0)
    second = readout_iteration(page)
    assert second > first, f"Play did not advance the iteration ({first} -> {second})"
    slider_value = int(page.locator(".nnlab-gd-iteration .widget-readout").inner_text())
    assert slider_value > first, "the iteration slider did not follow Play"
    shot(explorer, "explorer-3-playing.png")
    wait_until(lambda: readout_iteration(page) == 1000, 60, "Play to reach the last iteration")

    # A diverging learning rate: the widget says so.
    drag_log_slider_to(page, "nnlab-gd-learning-rate", exponent=-3.4, lo=-6, hi=-3)
    wait_until(lambda: "Diverges" in readout(page), 20, "the divergence message")
    shot(explorer, "explorer-4-diverging.png")
    shot(page, "lesson-04-page.png")

    body = page.locator("body").inner_text()
    for failure in WIDGET_FAILURES:
        assert failure not in body, f"the page shows {failure!r}"
    assert not page.console.problems(*WIDGET_FAILURES, "widget"), page.console.problems(
        *WIDGET_FAILURES, "widget")
    assert not cell_errors(page)
    # running the lesson in the browser left the master untouched (no outputs saved)
    assert (lab.root / LESSON_04).read_bytes() == lesson_bytes


def test_nbgrader_extensions_load(lab, page):
    page.goto(lab.page_url("lab?reset"))
    page.locator("#jp-MainMenu").wait_for()
    # the extension is known to this JupyterLab and enabled
    config = page.evaluate(
        "JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    names = [ext["name"] for ext in config.get("federated_extensions", [])]
    assert "@jupyter/nbgrader" in names, names
    disabled = config.get("disabledExtensions", [])
    assert not any(name.startswith("@jupyter/nbgrader") for name in disabled), disabled

    # its menu and commands exist
    menu = open_menu(page, "Nbgrader")
    items = menu.locator(".lm-Menu-itemLabel").all_inner_texts()
    for item in ("Assignment List", "Course List", "Formgrader"):
        assert item in items, items

    # formgrader: a main-area panel whose frame shows the formgrader's own page
    menu.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).click()
    page.locator(".lm-TabBar-tab", has_text="Formgrader").wait_for()
    frame = page.frame_locator("iframe").first
    # the formgrader's assignment table lists the lessons (read from the masters)
    frame.locator("td", has_text="04_gradient_descent").first.wait_for(timeout=30_000)
    headings = [h.strip() for h in frame.locator("h1").all_inner_texts()]
    assert "Manage Assignments" in headings and "Error" not in headings, headings
    shot(page, "nbgrader-formgrader.png")

    # assignment list: the student's panel, talking to the (private) exchange
    click_menu(page, "Nbgrader", "Assignment List")
    page.locator(".lm-TabBar-tab", has_text="Assignments").wait_for()
    for section in ("Released assignments", "Downloaded assignments", "Submitted assignments"):
        page.get_by_text(section, exact=True).wait_for()
    page.get_by_text("There are no assignments to fetch.").wait_for()  # it asked the exchange
    shot(page, "nbgrader-assignment-list.png")
    text = page.locator(".lm-DockPanel").inner_text().lower()
    assert "error" not in text and "exchange directory" not in text, text[-2000:]

    problems = page.console.problems("nbgrader", "failed to load", "extension")
    assert not [p for p in page.console.errors if p in problems], problems
    assert not [e for e in page.console.errors if "pageerror" in e], page.console.errors


def test_lesson_03_training_playground_trains(lab, page):
    lesson = "notebooks/03_one_layer/03_one_layer.ipynb"
    open_notebook(page, lab, lesson)
    run_all_cells(page)

    playground = page.locator(".nnlab-training-playground")
    playground.wait_for(state="visible")
    playground.scroll_into_view_if_needed()
    status = playground.locator(".widget-html").last
    assert "Press Train" in status.inner_text()
    playground.get_by_role("button", name="Train").click()
    done = wait_until(lambda: re.search(r"epoch (\d+)/\1:", status.inner_text()), 120,
                      "the playground to finish training")
    assert "test accuracy" in status.inner_text(), status.inner_text()
    shot(playground, "playground-trained.png")
    body = page.locator("body").inner_text()
    for failure in WIDGET_FAILURES:
        assert failure not in body, f"the page shows {failure!r}"
    assert done
