"""The lesson widgets' update logic, driven through the widget objects (no browser).

Setting a control's .value runs the same observers a slider drag runs in JupyterLab, and
Button.click() runs the same handlers as a press, so these tests exercise what a student
triggers; tests/ui/ checks the same widgets in a real browser.
"""
import io
import warnings

import ipywidgets as widgets
import numpy as np
import pytest
from ipywidgets.widgets.widget_link import Link
from PIL import Image

from nnlab import onelayer, regression
from nnlab.widgets import GradientDescentExplorer, TrainingPlayground

SEED_B, SEED_M, SEED_ERROR = -3.2643663545390273, -1.3386872077957057, 0.11444715957515363


@pytest.fixture(scope="module")
def points():
    return regression.seed_points()


@pytest.fixture
def explorer(points):
    return GradientDescentExplorer(points)


def image_size(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        return im.size


# ----------------------------------------------------------------- gradient-descent explorer

def test_defaults_are_the_seed_run(explorer):
    assert explorer.learning_rate.value == 1e-4
    assert explorer.iteration.value == explorer.iteration.max == 1000
    assert (explorer.b0.value, explorer.m0.value) == (0.0, 0.0)
    b, m, error = explorer.current()
    assert b == pytest.approx(SEED_B, abs=1e-9)
    assert m == pytest.approx(SEED_M, abs=1e-9)
    assert error == pytest.approx(SEED_ERROR, abs=1e-9)
    assert "-3.264366355" in explorer.readout.value
    assert "-1.338687208" in explorer.readout.value
    assert "0.1144471596" in explorer.readout.value
    assert "Converges" in explorer.readout.value


def test_path_is_the_regression_path(explorer, points):
    *_, path = regression.gradient_descent(points, 0.0, 0.0, 1e-4, 1000, return_path=True)
    np.testing.assert_array_equal(explorer.path, path)


def test_iteration_slider_moves_readout_and_picture(explorer, points):
    before_html, before_picture = explorer.readout.value, explorer.image.value
    explorer.iteration.value = 37
    # independent: a fresh 37-step run from the start
    b, m = regression.gradient_descent(points, 0.0, 0.0, 1e-4, 37)
    assert explorer.current()[:2] == pytest.approx((b, m), abs=1e-12)
    assert f"{b:.10g}" in explorer.readout.value and f"{m:.10g}" in explorer.readout.value
    assert "iteration <b>37</b>" in explorer.readout.value
    assert explorer.readout.value != before_html
    assert explorer.image.value != before_picture
    # the red path shows iterations 0..37, the fitted line is y = m x + b of iteration 37
    assert len(explorer.path_line.get_xdata()) == 38
    xs, ys = explorer.fit_line.get_data()
    np.testing.assert_allclose(ys, m * np.asarray(xs) + b)


def test_learning_rate_slider_recomputes_the_path(explorer, points):
    before = explorer.readout.value
    explorer.learning_rate.value = 5e-5
    b, m = regression.gradient_descent(points, 0.0, 0.0, 5e-5, 1000)
    assert explorer.current()[:2] == pytest.approx((b, m), abs=1e-12)
    assert explorer.readout.value != before
    assert f"{regression.mse(b, m, points):.10g}" in explorer.readout.value


def test_start_sliders_recompute_the_path(explorer, points):
    explorer.b0.value = -6.0
    explorer.m0.value = 0.5
    np.testing.assert_array_equal(explorer.path[0], [-6.0, 0.5])
    b, m = regression.gradient_descent(points, -6.0, 0.5, 1e-4, 1000)
    assert explorer.current()[:2] == pytest.approx((b, m), abs=1e-12)


def test_stable_limit_is_where_descent_turns_to_divergence(explorer, points):
    # Independent of the widget's eigenvalue: run the notes' step just either side of it.
    limit = explorer.stable_lr
    start = regression.mse(0.0, 0.0, points)
    b, m = regression.gradient_descent(points, 0.0, 0.0, 0.97 * limit, 3000)
    assert regression.mse(b, m, points) < start
    with np.errstate(over="ignore", invalid="ignore"):
        b, m = regression.gradient_descent(points, 0.0, 0.0, 1.03 * limit, 3000)
    assert not np.isfinite(b) or regression.mse(b, m, points) > 1e6 * start


def test_diverging_learning_rate_says_so_and_draws_no_garbage(explorer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak to the student
        explorer.learning_rate.value = 5e-4
    assert explorer.diverges
    assert "Diverges" in explorer.readout.value
    assert f"{explorer.stable_lr:.2e}" in explorer.readout.value
    assert explorer.divergence_text.get_visible()
    assert "diverges" in explorer.divergence_text.get_text()
    # at the last iteration (b, m) is far away: neither the line nor numbers are shown
    assert explorer.escaped_at is not None and explorer.escaped_at < 1000
    assert not explorer.fit_line.get_visible()
    assert "left the picture" in explorer.readout.value
    # the path drawn stops before it escapes, and all of it is finite
    drawn = np.column_stack(explorer.path_line.get_data())
    assert len(drawn) == explorer.escaped_at
    assert np.all(np.isfinite(drawn))
    # before the escape the numbers are still shown, with the warning
    explorer.iteration.value = 1
    assert explorer.fit_line.get_visible() and "Diverges" in explorer.readout.value
    assert "b = <code>" in explorer.readout.value
    # back to a stable rate: message gone
    explorer.learning_rate.value = 0.9 * explorer.stable_lr
    assert not explorer.diverges
    assert not explorer.divergence_text.get_visible()
    assert "Diverges" not in explorer.readout.value


def test_overflowing_rate_is_handled(explorer):
    explorer.learning_rate.value = 1e-3
    explorer.iteration.value = explorer.iteration.max
    assert not np.all(np.isfinite(explorer.path[-1])) or np.abs(explorer.path[-1]).max() > 1e100
    assert "Diverges" in explorer.readout.value and "left the picture" in explorer.readout.value


def test_frames_update_artists_and_never_rebuild_the_figure(explorer, monkeypatch):
    figure, axes = explorer.figure, list(explorer.figure.axes)
    artists = [id(a) for a in explorer.animated_artists]
    children = [list(ax.get_children()) for ax in axes]
    backgrounds = dict(explorer._backgrounds)

    def full_draw(*args, **kwargs):
        raise AssertionError("a frame must not redraw the whole figure")
    monkeypatch.setattr(explorer.canvas, "draw", full_draw)
    monkeypatch.setattr(explorer.figure, "draw", full_draw)

    old_line = np.array(explorer.fit_line.get_ydata())
    explorer.iteration.value = 3
    explorer.learning_rate.value = 1.5e-4
    explorer.b0.value = 1.0
    explorer.iteration.value = 500
    explorer.learning_rate.value = 5e-4  # diverging: the other cached background
    explorer.iteration.value = 2

    assert explorer.figure is figure and list(explorer.figure.axes) == axes
    assert [id(a) for a in explorer.animated_artists] == artists
    assert [list(ax.get_children()) for ax in axes] == children
    assert explorer._backgrounds == backgrounds
    assert not np.array_equal(explorer.fit_line.get_ydata(), old_line)
    assert explorer.divergence_text.get_visible()


def test_picture_has_a_fixed_size(points):
    explorer = GradientDescentExplorer(points, width=800, height=320)
    sizes = {image_size(explorer.image.value)}
    for lr in (1e-6, 1e-4, 5e-4):
        explorer.learning_rate.value = lr
        for k in (0, 10, 1000):
            explorer.iteration.value = k
            sizes.add(image_size(explorer.image.value))
    assert sizes == {(800, 320)}
    assert explorer.image.layout.height == "320px"
    assert explorer.readout.layout.height  # the readout keeps its height too


def test_play_is_linked_to_the_iteration_slider(explorer):
    link = explorer.play_link
    assert isinstance(link, Link)  # jslink: runs in the browser, not through the kernel
    assert link.source == (explorer.play, "value")
    assert link.target == (explorer.iteration, "value")
    assert explorer.play.min == explorer.iteration.min
    assert explorer.play.max == explorer.iteration.max
    assert explorer.play in explorer.children[0].children


def test_update_policy(explorer):
    # the choice the docstring argues for: scrubbing is continuous, recomputing on release
    assert explorer.iteration.continuous_update
    assert not explorer.learning_rate.continuous_update
    assert not explorer.b0.continuous_update and not explorer.m0.continuous_update


def test_learning_rate_slider_is_log_scale(explorer):
    assert isinstance(explorer.learning_rate, widgets.FloatLogSlider)
    assert explorer.learning_rate.base == 10
    assert explorer.learning_rate.min <= -5 and explorer.learning_rate.max >= -3


def test_other_data():
    # y = 2 x + 1 exactly: descent must find b = 1, m = 2
    x = np.linspace(-1, 1, 50)
    explorer = GradientDescentExplorer(np.column_stack([x, 2 * x + 1]), learning_rate=1e-2,
                                       iterations=400)
    b, m, error = explorer.current()
    assert (b, m) == pytest.approx((1.0, 2.0), abs=1e-6)
    assert error < 1e-10


@pytest.mark.parametrize("bad, words", [
    (np.zeros((5, 3)), "(5, 3)"),
    (np.zeros(4), "(4,)"),
    (np.array([[0.0, 1.0], [np.nan, 2.0]]), "nan"),
    (np.column_stack([np.ones(5), np.arange(5.0)]), "same x"),
])
def test_bad_points_are_named(bad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        GradientDescentExplorer(bad)


def test_bad_settings_are_named(points):
    with pytest.raises(ValueError, match="iterations"):
        GradientDescentExplorer(points, iterations=0)
    with pytest.raises(ValueError, match="learning_rate"):
        GradientDescentExplorer(points, learning_rate=-1.0)


# ----------------------------------------------------------------- training playground

def test_constructing_the_playground_trains_nothing(monkeypatch):
    def no(*args, **kwargs):
        raise AssertionError("constructing the playground must not load data or train")
    monkeypatch.setattr(onelayer, "train", no)
    monkeypatch.setattr(onelayer, "load_digits_split", no)
    playground = TrainingPlayground()
    assert playground.history is None
    assert "Train" in playground.status.value
    assert image_size(playground.image.value) == (900, 300)


def test_train_button_trains_a_tiny_model():
    playground = TrainingPlayground(hidden=8, learning_rate=0.1, epochs=2)
    playground.train_button.click()
    history = playground.history
    assert history["epoch"] == [1, 2]
    assert history["params"]["W"].shape == (8, 64)
    # the same seeded run, computed directly
    direct = onelayer.train(*onelayer.load_digits_split(0), hidden=8, lr=0.1, epochs=2, seed=0)
    assert history["loss"] == pytest.approx(direct["loss"])
    assert history["test_acc"] == pytest.approx(direct["test_acc"])
    np.testing.assert_array_equal(playground.loss_line.get_ydata(), history["loss"])
    np.testing.assert_array_equal(playground.test_acc_line.get_ydata(), history["test_acc"])
    assert "epoch 2/2" in playground.status.value
    assert f"{history['test_acc'][-1]:.1%}" in playground.status.value
    assert not playground.train_button.disabled


def test_playground_settings_reach_the_training():
    playground = TrainingPlayground(hidden=8, learning_rate=0.1, epochs=1)
    playground.hidden.value = 5
    playground.epochs.value = 3
    picture = playground.image.value
    playground.train_button.click()
    assert playground.history["params"]["W"].shape == (5, 64)
    assert playground.history["epoch"] == [1, 2, 3]
    assert playground.image.value != picture


def test_playground_reports_silenced_units():
    playground = TrainingPlayground(hidden=16, learning_rate=10.0, epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        playground.train_button.click()
    assert "Most ReLUs are silent" in playground.status.value


def test_playground_trains_with_the_backward_it_is_given(monkeypatch):
    reference = onelayer.backward_batch
    calls = []

    def mine(cache):
        calls.append(1)
        return reference(cache)

    def withheld(cache):
        raise NotImplementedError("withheld")
    monkeypatch.setattr(onelayer, "backward_batch", withheld)
    playground = TrainingPlayground(hidden=8, learning_rate=0.1, epochs=1, backward_batch=mine)
    playground.train_button.click()
    assert calls and playground.history["epoch"] == [1]
    assert "epoch 1/1" in playground.status.value


def test_playground_reports_an_error_of_the_backward():
    def unfinished(cache):
        raise NotImplementedError("dW is not written yet")
    playground = TrainingPlayground(hidden=8, epochs=1, backward_batch=unfinished)
    playground.train_button.click()
    assert "Training stopped" in playground.status.value
    assert "NotImplementedError: dW is not written yet" in playground.status.value
    assert not playground.train_button.disabled and playground.train_button.description == "Train"
    with pytest.raises(TypeError, match="backward_batch must be a function"):
        TrainingPlayground(backward_batch=3)
