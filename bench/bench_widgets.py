"""Frame time of the gradient-descent explorer (lesson 04) against a 30 ms budget.

One update is what a student's release of the learning-rate slider costs in the kernel:
recompute the descent path (1000 iterations of nnlab.regression.gradient_descent on the
the notes' 1000 points) plus redraw (move the artists, repaint over the cached background,
encode the JPEG the browser shows) plus the readout.  It is measured by setting the slider's
value, so the observers run exactly as they do in JupyterLab.  The cheaper frame a Play
tick costs (iteration change: redraw only) is timed alongside, and the redraw is split into
its parts so a regression points at its cause.

Target: median update <= 30 ms (about 30 frames a second).  Median, not best: a student
sees typical frames.  The browser's own work (decoding a ~70 kB JPEG) is not included.

Run:  python bench/bench_widgets.py
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from nnlab import regression
from nnlab.widgets import GradientDescentExplorer, _encode_frame

TARGET_MS = 30.0


def median_ms(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    points = regression.seed_points()
    explorer = GradientDescentExplorer(points)
    rates = np.geomspace(5e-5, 1.6e-4, 7)   # all converging: the common case
    its = np.linspace(10, 1000, 12).astype(int)

    def set_rate(i):
        explorer.learning_rate.value = float(rates[i % len(rates)])

    def set_iteration(i):
        explorer.iteration.value = int(its[i % len(its)])

    def recompute_only(i):
        regression.gradient_descent(points, 0.0, 0.0, float(rates[i % len(rates)]), 1000,
                                    return_path=True)

    def encode_only(i):
        _encode_frame(explorer.canvas)

    def encode_png(i):  # the alternative _encode_frame rejects, for comparison
        width, height = explorer.canvas.get_width_height()
        frame = Image.frombuffer("RGBA", (width, height), explorer.canvas.buffer_rgba(),
                                 "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        frame.convert("RGB").save(out, format="PNG", compress_level=1)
        return out.getvalue()

    for fn in (set_rate, set_iteration):  # warm up caches (fonts, glyphs, numpy)
        for i in range(5):
            fn(i)

    update = median_ms(set_rate, 61)
    frame = median_ms(set_iteration, 61)
    path = median_ms(recompute_only, 61)
    encode = median_ms(encode_only, 61)
    encode_png_ms = median_ms(encode_png, 61)
    png_kb = len(encode_png(0)) / 1e3
    explorer.learning_rate.value = 5e-4
    diverging = median_ms(set_iteration, 31)

    print("gradient-descent explorer, seed data (1000 points), 1000 iterations, "
          f"{len(explorer.image.value) / 1e3:.0f} kB JPEG per frame")
    print(f"  update (learning rate: recompute + redraw): {update:6.1f} ms   "
          f"ratio to the {TARGET_MS:.0f} ms target: {update / TARGET_MS:.2f}")
    print(f"  frame  (iteration / Play tick: redraw):     {frame:6.1f} ms   "
          f"ratio to the {TARGET_MS:.0f} ms target: {frame / TARGET_MS:.2f}")
    print(f"  frame on a diverging rate:                  {diverging:6.1f} ms")
    print(f"    of which: path recomputation {path:.1f} ms, JPEG encoding {encode:.1f} ms "
          f"(PNG would take {encode_png_ms:.1f} ms for {png_kb:.0f} kB)")
    print("  within budget" if update <= TARGET_MS else "  OVER BUDGET")


if __name__ == "__main__":
    main()
