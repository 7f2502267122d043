"""Interactive widgets for the lessons: watch gradient descent, train a small network.

GradientDescentExplorer (lesson 04)
    The notes' linear regression y = m x + b fitted by gradient descent.  Left: the
    data, points (N, 2) with rows (x, y), and the line of the current iteration.
    Right: the mean squared error J(b, m) over the (b, m) plane with the descent path
    up to the current iteration.  The numbers come from nnlab.regression, so they are
    the lesson's numbers: with the defaults (lr 1e-4 on the notes' half-sum-of-squares
    step, 1000 iterations, start b = m = 0) the last iteration reads
    b = -3.2643663545390273, m = -1.3386872077957057, error = 0.11444715957515363.

TrainingPlayground (lesson 03)
    The one-layer network of nnlab.onelayer trained on the 8x8 digits (batch form,
    X: (N, 64)): pick the hidden width Dh, the learning rate and the number of epochs,
    press Train, watch the loss curve and the accuracy.

Both draw with matplotlib's Agg renderer into an ipywidgets.Image: no pyplot state,
no ipympl, and the picture is a plain image that every Jupyter front end shows.  The
figure is built once; an update changes the data of the existing artists and redraws.
"""

from __future__ import annotations

import html
import io
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from nnlab import onelayer, regression

__all__ = ["GradientDescentExplorer", "TrainingPlayground"]


def _encode_frame(canvas: FigureCanvasAgg) -> bytes:
    """The canvas's current pixels as JPEG bytes (quality 90, no chroma subsampling).

    Encoding is the largest part of a frame.  Measured on this figure (bench/bench_widgets.py
    prints it), PNG costs several times more than JPEG at the same size in bytes; with 4:4:4
    colour and quality 90 the thin red path and the text stay crisp.  The RGBA buffer is read
    as RGBX, so no conversion copy is made.
    """
    width, height = canvas.get_width_height()
    frame = PILImage.frombuffer("RGBX", (width, height), canvas.buffer_rgba(), "raw", "RGBX", 0, 1)
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=90, subsampling=0)
    return out.getvalue()


def _as_points(points) -> np.ndarray:
    """points as a finite float64 (N, 2) array, rows (x, y), N >= 2; or a clear error."""
    arr = np.asarray(points)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"points has dtype {arr.dtype}; expected real numbers")
    arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise ValueError(f"points has shape {arr.shape}; expected (N, 2) with N >= 2 rows (x, y)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("points contains nan or inf; expected finite numbers")
    if np.ptp(arr[:, 0]) == 0:
        raise ValueError("all points have the same x; a line y = m x + b is not determined")
    return arr


class GradientDescentExplorer(widgets.VBox):
    """Gradient descent on the notes' linear regression, one iteration at a time.

    Parameters
    ----------
    points : (N, 2) array, rows (x, y); default nnlab.regression.seed_points() (1000, 2).
    learning_rate : step size of the notes' update on the HALF SUM of squared errors
        E(b, m) = 1/2 sum_i (y_i - (m x_i + b))**2, exactly as nnlab.regression.gradient_descent
        takes it (the notes' 1e-4 on N = 1000 points is 0.05 on the mean).
    iterations : how many steps are computed; the iteration slider runs 0..iterations.
    b0, m0 : the starting intercept and slope.
    width, height : size of the picture in pixels (fixed, so nothing jumps while it plays).
    play_step, play_interval : the Play button advances play_step iterations every
        play_interval milliseconds.

    Controls (public attributes, all ipywidgets)
    --------------------------------------------
    learning_rate : FloatLogSlider, 1e-6 .. 1e-3.   iteration : IntSlider 0..iterations.
    b0, m0 : FloatSlider.   play : Play, linked to `iteration` in the browser by jslink
    (play_link), so the animation runs without a kernel round trip per tick.
    readout : HTML with b, m and the error (MSE) at the current iteration, and whether
    the learning rate converges.   image : the picture.

    How it updates
    --------------
    Changing learning_rate, b0 or m0 recomputes the whole descent path once
    (nnlab.regression.gradient_descent with return_path=True, (iterations + 1, 2) rows (b, m))
    and redraws.  Changing the iteration only redraws: the current (b, m) is a row of that
    path.  A redraw moves the data of three existing artists (set_data / set_visible), restores
    a cached background (data cloud, loss contours, axes; one copy with the divergence
    warning, one without) and draws just those three: the figure is never rebuilt.

    Continuous or on-release?  The iteration slider updates continuously: a frame is only a
    redraw (a few ms; bench/bench_widgets.py measures it), scrubbing it is the animation, and
    Play drives the same value.  The learning-rate and start sliders update on release: each
    change recomputes the whole path (about 20 ms with the redraw), and a drag across three
    decades of learning rate would run dozens of intermediate descents, some of them
    diverging, whose pictures flash past without meaning anything.  The front end keeps at
    most one update in flight, so on a remote kernel (Binder) those pictures would also trail
    the mouse by a round trip each.  One release, one run, one picture to read.

    Divergence
    ----------
    The step is b, m <- (b, m) - lr * grad E with the constant Hessian H = A^T A, A = [1, x]
    (N, 2).  It converges exactly when lr < 2 / lambda_max(H) (stable_lr).  Above that the
    readout says the run diverges and names the limit; the path is drawn only while it stays
    near the plotted window, and once (b, m) is far outside it (escaped_at) the line and the
    numbers are no longer shown: only the message.
    """

    def __init__(self, points=None, learning_rate: float = 1e-4, iterations: int = 1000,
                 b0: float = 0.0, m0: float = 0.0, *, width: int = 900, height: int = 360,
                 play_step: int = 5, play_interval: int = 60):
        super().__init__()
        self.points = _as_points(regression.seed_points() if points is None else points)
        if int(iterations) != iterations or iterations < 1:
            raise ValueError(f"iterations must be a positive integer; got {iterations!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {learning_rate!r}")
        iterations = int(iterations)
        x, y = self.points[:, 0], self.points[:, 1]

        # Hessian of E (half sum of squares) in (b, m): A^T A with A = [1, x]; constant.
        A = np.column_stack([np.ones_like(x), x])
        self.stable_lr = float(2.0 / np.linalg.eigvalsh(A.T @ A).max())
        self.best_b, self.best_m = regression.least_squares(self.points)
        # J(b, m) = mean((y - m x - b)^2) expanded, so the contour grid costs O(grid), not O(N grid)
        self._moments = (np.mean(y * y), np.mean(y), np.mean(x * y), np.mean(x), np.mean(x * x))

        half_b = max(1.5 * abs(self.best_b), 1.0, 1.2 * abs(b0 - self.best_b))
        half_m = max(1.5 * abs(self.best_m), 1.0, 1.2 * abs(m0 - self.best_m))
        self.b_range = (self.best_b - half_b, self.best_b + half_b)
        self.m_range = (self.best_m - half_m, self.best_m + half_m)

        # ---- controls
        self.learning_rate = widgets.FloatLogSlider(
            value=learning_rate, base=10, step=0.01,
            min=min(-6.0, float(np.floor(np.log10(learning_rate)))),
            max=max(-3.0, float(np.ceil(np.log10(learning_rate)))),
            description="learning rate", readout_format=".2e", continuous_update=False,
            style={"description_width": "initial"}, layout=widgets.Layout(width="420px"))
        self.iteration = widgets.IntSlider(
            value=iterations, min=0, max=iterations, step=1, description="iteration",
            continuous_update=True, layout=widgets.Layout(width="420px"))
        self.play = widgets.Play(value=iterations, min=0, max=iterations, step=play_step,
                                 interval=play_interval, description="Play")
        self.play_link = widgets.jslink((self.play, "value"), (self.iteration, "value"))
        self.b0 = widgets.FloatSlider(
            value=b0, min=round(self.b_range[0], 1), max=round(self.b_range[1], 1), step=0.1,
            description="start b0", continuous_update=False, readout_format=".1f",
            layout=widgets.Layout(width="300px"))
        self.m0 = widgets.FloatSlider(
            value=m0, min=round(self.m_range[0], 1), max=round(self.m_range[1], 1), step=0.1,
            description="start m0", continuous_update=False, readout_format=".1f",
            layout=widgets.Layout(width="300px"))
        self.readout = widgets.HTML(layout=widgets.Layout(height="3.4em", overflow="hidden"))
        self.image = widgets.Image(format="jpeg", layout=widgets.Layout(
            width=f"{width}px", height=f"{height}px", max_width="100%", object_fit="contain"))
        for widget, name in [(self, "explorer"), (self.readout, "readout"), (self.image, "image"),
                             (self.learning_rate, "learning-rate"), (self.iteration, "iteration"),
                             (self.play, "play"), (self.b0, "b0"), (self.m0, "m0")]:
            widget.add_class(f"nnlab-gd-{name}")  # stable handles for styling and browser tests

        self._build_figure(width, height)
        self.path = np.empty((0, 2))
        self.escaped_at = None  # diverging runs: first iteration far outside the window
        self._recompute()
        self._redraw()

        self.learning_rate.observe(self._on_settings, names="value")
        self.b0.observe(self._on_settings, names="value")
        self.m0.observe(self._on_settings, names="value")
        self.iteration.observe(self._on_iteration, names="value")

        self.children = [
            widgets.HBox([self.play, self.iteration, self.learning_rate]),
            widgets.HBox([self.b0, self.m0]),
            self.image,
            self.readout,
        ]

    # ------------------------------------------------------------------ figure
    def mse_grid(self, b, m):
        """J(b, m) = (1/N) sum_i (y_i - (m x_i + b))**2 for arrays b, m of one shape (any)."""
        yy, ym, xy, xm, xx = self._moments
        return yy - 2 * b * ym - 2 * m * xy + b * b + 2 * b * m * xm + m * m * xx

    def _build_figure(self, width: int, height: int) -> None:
        dpi = 100
        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        # fixed margins rather than a layout engine: the layout never changes after the first
        # draw, and solving it costs more than everything else in building the widget
        self.figure.subplots_adjust(left=0.065, right=0.985, bottom=0.13, top=0.92, wspace=0.2)
        self.canvas = FigureCanvasAgg(self.figure)
        ax_data, ax_loss = self.figure.subplots(1, 2)
        self.ax_data, self.ax_loss = ax_data, ax_loss
        x, y = self.points[:, 0], self.points[:, 1]

        ax_data.scatter(x, y, s=4, alpha=0.35, color="tab:blue", linewidths=0)
        pad_x, pad_y = 0.05 * np.ptp(x), 0.15 * np.ptp(y)
        ax_data.set_xlim(x.min() - pad_x, x.max() + pad_x)
        ax_data.set_ylim(y.min() - pad_y, y.max() + pad_y)
        ax_data.set_xlabel("x")
        ax_data.set_ylabel("y")
        ax_data.set_title("data and the line y = m x + b", fontsize=10)
        self._line_x = np.array(ax_data.get_xlim())

        bb, mm = np.meshgrid(np.linspace(*self.b_range, 160), np.linspace(*self.m_range, 160))
        J = self.mse_grid(bb, mm)
        j_min = self.mse_grid(self.best_b, self.best_m)
        levels = j_min + np.geomspace(1e-3, J.max() - j_min, 14)
        ax_loss.contourf(bb, mm, J, levels=levels, cmap="Blues_r", alpha=0.55)
        ax_loss.contour(bb, mm, J, levels=levels, colors="0.45", linewidths=0.5)
        ax_loss.plot(self.best_b, self.best_m, marker="*", color="black", markersize=10,
                     linestyle="none")
        ax_loss.annotate("least squares", (self.best_b, self.best_m), xytext=(-8, -14),
                         textcoords="offset points", ha="right", fontsize=8)
        ax_loss.set_xlim(*self.b_range)
        ax_loss.set_ylim(*self.m_range)
        ax_loss.set_xlabel("b (intercept)")
        ax_loss.set_ylabel("m (slope)")
        ax_loss.set_title("error J(b, m) and the descent path", fontsize=10)

        # The moving parts: drawn over a cached background, never recreated.
        (self.fit_line,) = ax_data.plot([], [], color="tab:red", linewidth=2, animated=True)
        (self.path_line,) = ax_loss.plot([], [], color="tab:red", linewidth=1.2,
                                         marker=".", markersize=3, animated=True)
        (self.current_point,) = ax_loss.plot([], [], marker="o", color="tab:red",
                                             markeredgecolor="black", markersize=8,
                                             linestyle="none", animated=True)
        self.animated_artists = (self.fit_line, self.path_line, self.current_point)
        # The warning depends only on the data (the limit), so it lives in a second cached
        # background instead of being typeset again on every frame.
        warning = f"diverges: learning rate $\\geq 2/\\lambda_{{max}}$ = {self.stable_lr:.2e}"
        self.divergence_text = ax_loss.text(
            0.03, 0.04, warning, transform=ax_loss.transAxes, ha="left", va="bottom",
            fontsize=9, color="darkred",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "darkred"})

        self._backgrounds = {}
        for diverging in (True, False):  # the only two full draws this figure ever gets
            self.divergence_text.set_visible(diverging)
            self.canvas.draw()
            self._backgrounds[diverging] = self.canvas.copy_from_bbox(self.figure.bbox)

    # ------------------------------------------------------------------ updates
    @property
    def diverges(self) -> bool:
        """True when the learning rate is at or above the stable limit 2 / lambda_max, or
        the computed path is not finite."""
        return self.learning_rate.value >= self.stable_lr or not np.all(np.isfinite(self.path))

    def _recompute(self) -> None:
        """Run gradient descent once for the current (learning rate, b0, m0); keep the path."""
        with np.errstate(over="ignore", invalid="ignore"):
            *_, self.path = regression.gradient_descent(
                self.points, self.b0.value, self.m0.value, self.learning_rate.value,
                self.play.max, return_path=True)
        self.escaped_at = None
        if self.diverges:
            # A converging run may overshoot the window for a step or two and come back;
            # a diverging one does not, so only then is "far outside" the end of the picture.
            with np.errstate(invalid="ignore"):
                far = ((np.abs(self.path[:, 0] - self.best_b) > 3 * np.ptp(self.b_range))
                       | (np.abs(self.path[:, 1] - self.best_m) > 3 * np.ptp(self.m_range)))
            far |= ~np.all(np.isfinite(self.path), axis=1)
            outside = np.flatnonzero(far)
            self.escaped_at = int(outside[0]) if outside.size else None

    def _visible_until(self, k: int) -> int:
        """Last iteration <= k whose point is drawn (all of them unless the path escaped)."""
        if self.escaped_at is not None and k >= self.escaped_at:
            return self.escaped_at - 1
        return k

    def _redraw(self) -> None:
        """Move the artists to iteration k, repaint over the cached background, update readout."""
        k = self.iteration.value
        shown = self._visible_until(k)
        if shown >= 0:
            b, m = self.path[shown]
            self.fit_line.set_data(self._line_x, m * self._line_x + b)
            self.path_line.set_data(self.path[:shown + 1, 0], self.path[:shown + 1, 1])
            self.current_point.set_data([b], [m])
        escaped = shown != k  # a diverging run that has left the picture: no line, no point
        self.fit_line.set_visible(not escaped)
        self.current_point.set_visible(not escaped)
        self.path_line.set_visible(shown >= 0)
        self.divergence_text.set_visible(self.diverges)

        self.canvas.restore_region(self._backgrounds[self.diverges])
        for artist in self.animated_artists:
            artist.axes.draw_artist(artist)
        self.image.value = _encode_frame(self.canvas)
        self.readout.value = self._readout_html(k)

    def _readout_html(self, k: int) -> str:
        lr = self.learning_rate.value
        if self.escaped_at is not None and k >= self.escaped_at:
            numbers = (f"iteration <b>{k}</b>: b and m left the picture at iteration "
                       f"{self.escaped_at}; the error grows without bound")
        else:
            b, m = self.path[k]
            error = regression.mse(b, m, self.points)
            numbers = (f"iteration <b>{k}</b>: &nbsp; b = <code>{b:.10g}</code> &nbsp; "
                       f"m = <code>{m:.10g}</code> &nbsp; error (MSE) = <code>{error:.10g}</code>")
        if self.diverges:
            status = (f"<span style='color:darkred'><b>Diverges.</b> A learning rate of {lr:.2e} "
                      f"is above the stable limit 2/&lambda;<sub>max</sub> = {self.stable_lr:.2e}: "
                      f"every step overshoots further.</span>")
        else:
            status = (f"Converges: learning rate {lr:.2e} is below the stable limit "
                      f"2/&lambda;<sub>max</sub> = {self.stable_lr:.2e}. "
                      f"Least squares: b = {self.best_b:.4f}, m = {self.best_m:.4f}.")
        return f"<div style='line-height:1.5em'>{numbers}<br>{status}</div>"

    def _on_settings(self, change) -> None:
        self._recompute()
        self._redraw()

    def _on_iteration(self, change) -> None:
        self._redraw()

    def current(self) -> tuple[float, float, float]:
        """(b, m, error) at the current iteration, error = MSE via nnlab.regression.mse."""
        b, m = self.path[self.iteration.value]
        return float(b), float(m), regression.mse(b, m, self.points)


class _StopTraining(Exception):
    """Raised from the progress callback to end a run whose loss is no longer finite."""


class TrainingPlayground(widgets.VBox):
    """Train the one-layer network (nnlab.onelayer, batch form X: (N, 64)) on the digits.

    z = W x + b1, h = ReLU(z), theta = U h + b2, yhat = softmax(theta), J = CE(y, yhat),
    with W (Dh, 64), U (10, Dh); minibatch SGD by nnlab.onelayer.train.

    backward_batch : the batched backward pass to train with (a callable cache -> dict of
        gradients, as nnlab.onelayer.backward_batch, the default); lesson 03 passes the one
        written in the notebook.

    Controls: hidden (Dh), learning_rate, epochs, train_button.  Left panel: the mean
    training loss per epoch; right panel: train and test accuracy per epoch.  status shows
    the last epoch's numbers.  Constructing the widget is cheap: the digits are loaded and
    the network trained only when Train is pressed.  The curves are redrawn after every
    epoch (progress callback) so a long run can be watched.
    """

    def __init__(self, hidden: int = 32, learning_rate: float = 0.1, epochs: int = 15, *,
                 seed: int = 0, batch_size: int = 32, width: int = 900, height: int = 300,
                 backward_batch=None):
        super().__init__()
        if backward_batch is not None and not callable(backward_batch):
            raise TypeError(f"backward_batch must be a function cache -> dict of gradients; "
                            f"got {type(backward_batch).__name__}")
        self.seed, self.batch_size = seed, batch_size
        self.backward_batch = backward_batch
        self.hidden = widgets.IntSlider(value=hidden, min=1, max=128, step=1,
                                        description="hidden Dh", continuous_update=False)
        self.learning_rate = widgets.FloatLogSlider(
            value=learning_rate, base=10, min=-3, max=1, step=0.05,
            description="learning rate", readout_format=".3g", continuous_update=False,
            style={"description_width": "initial"})
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=60, step=1,
                                        description="epochs", continuous_update=False)
        self.train_button = widgets.Button(description="Train", button_style="primary",
                                           icon="play")
        self.status = widgets.HTML(layout=widgets.Layout(height="3.4em", overflow="hidden"))
        self._set_status("Press <b>Train</b> to train the network.")
        self.image = widgets.Image(format="jpeg", layout=widgets.Layout(
            width=f"{width}px", height=f"{height}px", max_width="100%", object_fit="contain"))
        self.add_class("nnlab-training-playground")
        self.history = None
        self._data = None

        dpi = 100
        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        # fixed margins: a layout engine would re-solve the layout on every epoch's redraw
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.22)
        self.canvas = FigureCanvasAgg(self.figure)
        self.ax_loss, self.ax_acc = self.figure.subplots(1, 2)
        (self.loss_line,) = self.ax_loss.plot([], [], marker=".", color="tab:red")
        (self.train_acc_line,) = self.ax_acc.plot([], [], marker=".", label="train")
        (self.test_acc_line,) = self.ax_acc.plot([], [], marker=".", label="test")
        self.ax_loss.set(xlabel="epoch", ylabel="mean cross-entropy", title="training loss")
        self.ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
        self.ax_acc.legend(loc="lower right")
        self._set_epoch_axis(self.epochs.value)
        self._redraw()

        self.train_button.on_click(self._on_train)
        self.children = [
            widgets.HBox([self.hidden, self.learning_rate, self.epochs, self.train_button]),
            self.image,
            self.status,
        ]

    def _set_epoch_axis(self, epochs: int) -> None:
        for ax in (self.ax_loss, self.ax_acc):
            ax.set_xlim(0.5, epochs + 0.5)

    def _redraw(self) -> None:
        self.canvas.draw()
        self.image.value = _encode_frame(self.canvas)

    def _show(self, epoch: int, history: dict) -> None:
        """Put the curves of `history` (nnlab.onelayer.train's dict) into the artists."""
        epochs, loss = history["epoch"], np.asarray(history["loss"])
        self.loss_line.set_data(epochs, loss)
        self.train_acc_line.set_data(epochs, history["train_acc"])
        self.test_acc_line.set_data(epochs[:len(history["test_acc"])], history["test_acc"])
        finite = loss[np.isfinite(loss)]
        top = float(finite.max()) if finite.size else 1.0
        self.ax_loss.set_ylim(0, 1.05 * top if top > 0 else 1.0)
        total = self.epochs.value
        # A full draw costs ~0.1 s, more than an epoch: repaint at most ~4 times a second.
        now = time.perf_counter()
        if epoch >= total or now - self._last_draw >= 0.25 or not np.isfinite(loss[-1]):
            self._redraw()
            self._last_draw = now
        self.history = history
        if not np.all(np.isfinite(loss)):
            self._set_status(f"<span style='color:darkred'><b>Diverged</b> at epoch {epoch}: "
                             f"the loss is not a finite number. Lower the learning rate.</span>")
            raise _StopTraining  # further epochs would only push nan around
        test = history["test_acc"][-1] if history["test_acc"] else float("nan")
        text = (f"epoch {epoch}/{total}: loss {loss[-1]:.4f}, "
                f"train accuracy {history['train_acc'][-1]:.1%}, test accuracy {test:.1%}"
                f"<br>{self._unit_report(history)}")
        if len(loss) > 1 and loss[-1] > loss[0]:
            text += (" <span style='color:darkred'>The loss went up: the learning rate is "
                     "probably too large.</span>")
        self._set_status(text)

    def _set_status(self, html: str) -> None:
        # two lines of fixed height, so the widget never changes size while it trains
        self.status.value = f"<div style='line-height:1.5em'>{html}</div>"

    def _unit_report(self, history: dict) -> str:
        """How many hidden ReLU units still fire (z > 0) for at least one training image.

        A unit with z <= 0 on every image passes no gradient (ReLU'(z) = 0) and never
        recovers: too large a step can silence most of them, leaving chance accuracy.
        """
        params = history["params"]
        X_train = self._data[0]
        Z = X_train @ params["W"].T + params["b1"].T          # (N, Dh)
        alive = int(np.count_nonzero((Z > 0).any(axis=0)))
        text = f"hidden units that fire on some training image: {alive} of {Z.shape[1]}."
        if alive < Z.shape[1] / 2:
            text = (f"<span style='color:darkred'>{text} Most ReLUs are silent (z &le; 0 for "
                    f"every image), so no gradient reaches them.</span>")
        return text

    def _on_train(self, button=None) -> None:
        """Train from fresh parameters (seeded) with the current settings."""
        self.train_button.disabled = True
        self.train_button.description = "Training..."
        try:
            if self._data is None:
                self._data = onelayer.load_digits_split(self.seed)
            self.loss_line.set_data([], [])
            self.train_acc_line.set_data([], [])
            self.test_acc_line.set_data([], [])
            self._set_epoch_axis(self.epochs.value)
            self._set_status("training...")
            self._last_draw = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self.history = onelayer.train(
                    *self._data, hidden=self.hidden.value, lr=self.learning_rate.value,
                    epochs=self.epochs.value, batch_size=self.batch_size, seed=self.seed,
                    progress=self._show, backward_batch=self.backward_batch)
        except _StopTraining:
            pass
        except Exception as err:  # e.g. a backward_batch that is not finished yet
            self._set_status(f"<span style='color:darkred'><b>Training stopped</b>: "
                             f"{type(err).__name__}: {html.escape(str(err))}</span>")
        finally:
            self.train_button.disabled = False
            self.train_button.description = "Train"
