"""Speed of the batched one-layer network: forward + backward vs its matrix products.

Shapes: N = 256 examples, Dx = 784 -> Dh = 256 -> Nc = 10 (batch form).
The floor is the six matrix products a forward+backward pass cannot avoid, on arrays of
the same shapes and in the same layouts:

    forward:   X @ W.T,  H @ U.T
    backward:  dTheta.T @ H,  dTheta @ U,  dZ.T @ X,  dZ @ W

Everything else (bias adds, ReLU, softmax, the mask, input checks) is overhead;
target <= 1.3x.  The floor keeps its six results alive until it returns, as the real pass
keeps Z, Theta and dZ and returns dU, dW and dX; for reference the script also times the
products with each result dropped at once, which lets malloc hand the same warm memory
back every time (no real pass can do that).

Everything is timed side by side in one run, interleaved, best of many repeats, first
with the default number of BLAS threads, then with one (steadier on a shared machine).
If PyTorch is importable, its autograd on the same float64 problem is timed too.

Run:  python bench/bench_onelayer.py
"""

from __future__ import annotations

import time

import numpy as np

from nnlab.onelayer import backward_batch, forward_batch, init_params

N, DX, DH, NC = 256, 784, 256, 10
TARGET = 1.3
ROUNDS = 15


def best_time(fn, repeats: int = 3, inner: int = 5) -> float:
    """Smallest mean time of `inner` calls over `repeats` tries (robust on a busy machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def make_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, DX))
    labels = rng.integers(0, NC, size=N)
    p = init_params(DX, DH, NC, seed=0)
    W, b1, U, b2 = p["W"], p["b1"], p["U"], p["b2"]
    # arrays for the floor, with the shapes and layouts used inside the pass
    H = np.maximum(X @ W.T, 0)
    dTheta = rng.standard_normal((N, NC))
    dZ = rng.standard_normal((N, DH))

    def full_pass():
        _, cache = forward_batch(X, labels, W, b1, U, b2)
        return backward_batch(cache)

    def matmuls_only():
        return (X @ W.T, H @ U.T, dTheta.T @ H, dTheta @ U, dZ.T @ X, dZ @ W)

    def matmuls_dropped():
        X @ W.T
        H @ U.T
        dTheta.T @ H
        dTheta @ U
        dZ.T @ X
        dZ @ W

    fns = {"pass": full_pass, "floor": matmuls_only, "dropped": matmuls_dropped}
    try:
        import torch
    except ImportError:
        return fns
    Xt = torch.from_numpy(X).requires_grad_(True)
    lt = torch.from_numpy(labels)
    params_t = [torch.from_numpy(a.copy()).requires_grad_(True) for a in (W, b1, U, b2)]

    def torch_pass():
        Wt, b1t, Ut, b2t = params_t
        for t in (*params_t, Xt):
            t.grad = None
        Theta = torch.relu(Xt @ Wt.T + b1t.T) @ Ut.T + b2t.T
        torch.nn.functional.cross_entropy(Theta, lt).backward()

    fns["torch"] = torch_pass
    return fns


def measure(fns: dict) -> dict:
    for fn in fns.values():  # warm up (BLAS threads, caches)
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(ROUNDS):  # interleave so all see the same machine load
        for name, fn in fns.items():
            best[name] = min(best[name], best_time(fn))
    return best


def report(t: dict, threads: str) -> None:
    ratio = t["pass"] / t["floor"]
    print(f"onelayer [{threads}]: batched forward+backward (N={N}, {DX}->{DH}->{NC}) "
          f"{t['pass'] * 1e3:.2f} ms, its matrix products alone {t['floor'] * 1e3:.2f} ms "
          f"-> {ratio:.2f}x the floor (target <= {TARGET}x): "
          f"{'OK' if ratio <= TARGET else 'ABOVE TARGET'}")
    print(f"onelayer [{threads}]:   (products with each result dropped at once: "
          f"{t['dropped'] * 1e3:.2f} ms -> {t['pass'] / t['dropped']:.2f}x)")
    if "torch" in t:
        print(f"onelayer [{threads}]: numpy forward+backward takes {t['pass'] / t['torch']:.2f}x "
              f"the time of torch autograd on the same float64 problem (< 1: numpy is faster)")


def main() -> None:
    fns = make_problem()
    report(measure(fns), "default BLAS threads")
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        print("onelayer: threadpoolctl is not importable; skipping the one-thread run")
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            report(measure(fns), "1 BLAS thread")
    if "torch" not in fns:
        print("onelayer: torch is not importable; skipping the comparison with torch")


if __name__ == "__main__":
    main()
