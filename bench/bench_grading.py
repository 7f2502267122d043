"""Grading throughput: `nnlab grade -j 2` against stock `nbgrader autograde`, same submissions.

    python bench/bench_grading.py [--students 30] [--jobs 2]

Builds a temporary course from notebooks/, makes synthetic submissions (correct, blank and
known-mistake answers, spread over the short lessons), grades them once with each tool in
this run, and prints:

- the throughput ratio (stock seconds / nnlab seconds; the target on 2 cores is >= 1.8x);
- whether every (student, assignment) score is identical;
- seconds per notebook, and where nnlab's time goes (kernel start, imports = the lesson's
  first cell, execution, the grader's verdicts, nbgrader's database work in the parent).

Stock nbgrader runs with nbgrader's default pipeline (no sandbox, in-kernel verdicts), one
`nbgrader autograde <assignment>` per assignment, sequentially, as an instructor would.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from nnlab.exercises import EXERCISES  # noqa: E402
from nnlab.grading import synthetic  # noqa: E402
from nnlab.grading.export import gradebook_rows  # noqa: E402

LESSONS = ["00_start_here", "01_jacobians", "02_identities"]
STOCK_CONFIG = 'c = get_config()\nc.CourseDirectory.course_id = "nnlab"\n' \
               'c.CourseDirectory.source_directory = "../notebooks"\nc.Execute.timeout = 60\n'


def bindir_env():
    bindir = os.path.dirname(sys.executable)
    return dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))


def run(cmd, cwd=None):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=bindir_env())
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def make_course(root, config_text):
    os.makedirs(os.path.join(root, "autograder"))
    with open(os.path.join(root, "autograder", "nbgrader_config.py"), "w") as fh:
        fh.write(config_text)
    if not os.path.exists(os.path.join(root, "notebooks")):
        shutil.copytree(os.path.join(REPO, "notebooks"), os.path.join(root, "notebooks"),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return os.path.join(root, "autograder")


def make_submissions(course, folder, n):
    """n submissions, round-robin over LESSONS: correct, blank, or one known mistake."""
    masters = {a: synthetic.read_notebook(os.path.join(course, "..", "notebooks"), a) for a in LESSONS}
    releases = {a: synthetic.read_notebook(os.path.join(course, "release"), a) for a in LESSONS}
    for i in range(n):
        assignment = LESSONS[i % len(LESSONS)]
        master, release = masters[assignment], releases[assignment]
        kind = i // len(LESSONS) % 3
        if kind == 0:
            nb = synthetic.correct(master, release)
        elif kind == 1:
            nb = release
        else:
            exercise = synthetic.exercises(master)[0]
            variants = list(EXERCISES[exercise["checks"][0].exercise_id].variants)
            nb = synthetic.with_mistake(master, release, exercise["test_id"], variants[i % len(variants)])
        synthetic.write(folder, f"student{i:02d}", assignment, nb)


def totals(course):
    out = {}
    for student, assignment, _, _, auto, manual, _, _ in gradebook_rows(f"sqlite:///{course}/gradebook.db"):
        score = manual if manual is not None else (auto or 0)
        out[(student, assignment)] = out.get((student, assignment), 0) + score
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--with-j1", action="store_true",
                        help="also regrade with -j 1, to separate parallel speed-up from per-notebook cost")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="nnlab-bench-")
    try:
        with open(os.path.join(REPO, "autograder", "nbgrader_config.py")) as fh:
            ours = make_course(os.path.join(base, "nnlab"), fh.read())
        stock = make_course(os.path.join(base, "stock"), STOCK_CONFIG)
        nnlab = [sys.executable, "-m", "nnlab.grading.cli"]
        run(nnlab + ["release", *LESSONS, "--course", ours])
        for assignment in LESSONS:
            run(["nbgrader", "generate_assignment", assignment, "--force"], cwd=stock)
        folder = os.path.join(base, "submissions")
        make_submissions(ours, folder, args.students)
        shutil.copytree(folder, os.path.join(stock, "submitted"))
        notebooks = args.students

        start = time.perf_counter()
        run(nnlab + ["grade", folder, "-j", str(args.jobs), "--no-progress", "--course", ours])
        t_ours = time.perf_counter() - start

        start = time.perf_counter()
        for assignment in LESSONS:
            run(["nbgrader", "autograde", assignment, "--force"], cwd=stock)
        t_stock = time.perf_counter() - start
        load = os.getloadavg()[0]

        ours_scores, stock_scores = totals(ours), totals(stock)
        same = ours_scores == stock_scores
        print(f"{notebooks} submissions over {', '.join(LESSONS)}")
        print(f"stock nbgrader autograde (sequential): {t_stock:7.1f} s  {t_stock / notebooks:5.2f} s/notebook")
        print(f"nnlab grade -j {args.jobs} (sandboxed):        {t_ours:7.1f} s  {t_ours / notebooks:5.2f} s/notebook")
        print(f"throughput ratio: {t_stock / t_ours:.2f}x (target >= 1.8x on 2 cores)")
        print(f"scores identical: {same}")
        for key in sorted(set(ours_scores) | set(stock_scores)):
            if ours_scores.get(key) != stock_scores.get(key):
                print(f"  {key}: nnlab {ours_scores.get(key)}  stock {stock_scores.get(key)}")
        print(f"machine load average at the end: {load:.1f} on {os.cpu_count()} cores "
              f"(other processes share the cores with both runs)")

        with open(os.path.join(ours, ".grading", "events.jsonl")) as fh:
            timings = [json.loads(line)["message"] for line in fh if '"kind": "timing"' in line]
        with open(os.path.join(ours, ".grading", "status.json")) as fh:
            parent = [e.get("parent_seconds", 0.0) for e in json.load(fh).values()]
        print(f"where nnlab's time goes, mean seconds per notebook (workers run {args.jobs} at a time):")
        for key in ("kernel_start", "imports", "execution", "verdicts"):
            print(f"  {key:13s} {statistics.mean(t[key] for t in timings):6.2f}")
        print(f"  {'database':13s} {statistics.mean(parent):6.2f}   (parent: nbgrader's converter and "
              f"gradebook writes, overlapped with the workers)")
        print("  (kernel_start/imports are small because each worker boots the next kernel, with "
              "numpy/matplotlib/nnlab preloaded, while the current notebook runs)")

        if args.with_j1:
            start = time.perf_counter()
            run(nnlab + ["grade", "-j", "1", "--no-progress", "--course", ours])
            t_one = time.perf_counter() - start
            print(f"nnlab grade -j 1, same set: {t_one:7.1f} s  {t_one / notebooks:5.2f} s/notebook "
                  f"(-j {args.jobs} is {t_one / t_ours:.2f}x faster); scores identical: "
                  f"{totals(ours) == ours_scores}")
        return 0 if same else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
