"""Run time of every lesson, top to bottom, against the course budget.

Budget: each lesson under 15 s, all lessons together under 60 s (2 cores). Each notebook is
executed once in a fresh kernel with nbclient, exactly as nbval runs it in `make test`; kernel
start-up is counted, since a student pays it too.

    python bench/bench_lessons.py
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
PER_LESSON, TOTAL = 15.0, 60.0


def run(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main():
    lessons = sorted(ROOT.glob("notebooks/*/*.ipynb"))
    if not lessons:
        sys.exit("no lessons found under notebooks/")
    total = 0.0
    for path in lessons:
        seconds = run(path)
        total += seconds
        print(f"{path.stem:<24} {seconds:6.1f} s   {seconds / PER_LESSON:5.2f} of the {PER_LESSON:.0f} s budget")
    print(f"{'all lessons':<24} {total:6.1f} s   {total / TOTAL:5.2f} of the {TOTAL:.0f} s budget")


if __name__ == "__main__":
    main()
