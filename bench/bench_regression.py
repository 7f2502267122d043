"""Speed of vectorized gradient descent vs the notes' loop, on the notes' data.

Both run the notes' settings (lr 1e-4 on half the sum of squared errors, 1000 iterations,
start b = m = 0) on nnlab.regression.seed_points() (1000 points), side by side in one
run: the two are interleaved and each keeps its best time over a few repeats.
Target: vectorized >= 50x faster, with the same numbers (to 1e-9).

Run:  python bench/bench_regression.py
"""

from __future__ import annotations

import time

from nnlab.regression import gradient_descent, gradient_descent_loop, mse, seed_points

LR, ITERATIONS, REPEATS = 1e-4, 1000, 3
SEED_B, SEED_M, SEED_ERROR = -3.2643663545390273, -1.3386872077957057, 0.11444715957515363
TARGET = 50.0


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    points = seed_points()
    args = (points, 0.0, 0.0, LR, ITERATIONS)
    gradient_descent(*args)  # warm up
    t_loop = t_vec = float("inf")
    for _ in range(REPEATS):  # interleaved: both see the same machine load
        t, loop_result = timed(gradient_descent_loop, *args)
        t_loop = min(t_loop, t)
        for _ in range(5):  # the fast one is short; take its best of a few
            t, vec_result = timed(gradient_descent, *args)
            t_vec = min(t_vec, t)
    same = all(abs(a - b) < 1e-9 for a, b in zip(loop_result, vec_result))
    identical = tuple(loop_result) == tuple(vec_result)
    seed_ok = (abs(vec_result[0] - SEED_B) < 1e-9 and abs(vec_result[1] - SEED_M) < 1e-9
               and abs(mse(*vec_result, points) - SEED_ERROR) < 1e-9)
    ratio = t_loop / t_vec
    print(f"regression: loop {t_loop * 1e3:.1f} ms, vectorized {t_vec * 1e3:.2f} ms "
          f"({ITERATIONS} iterations, {len(points)} points)")
    print(f"regression: vectorized {ratio:.1f}x faster than loop (target >= {TARGET:g}x"
          f"{'' if ratio >= TARGET else ', MISSED'}), same numbers: {same} "
          f"({'bit for bit' if identical else 'to 1e-9'}), "
          f"the notes' result (b = {vec_result[0]!r}, m = {vec_result[1]!r}): {seed_ok}")


if __name__ == "__main__":
    main()
