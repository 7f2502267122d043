"""The ``nnlab`` command: release, grade, feedback, export (run from the repository root).

    nnlab release [ASSIGNMENT ...]
    nnlab grade [SUBMISSIONS] [-j N] [--assignment A] [--student S] [--timestamps CSV] [--unsandboxed]
    nnlab feedback [ASSIGNMENT ...] [--student S]
    nnlab export CSV [--assignment A]

Every subcommand takes ``--course DIR`` (default: ./autograder). Problems are reported as one
line each; nbgrader's full log is in ``<course>/.grading/grade.log``.
"""

import argparse
import logging
import os
import sys
import traceback

from .course import Course, CourseError
from .intake import IntakeError
from .sandbox import SandboxUnavailable

LOG = logging.getLogger("nnlab.grading")


class CommandError(Exception):
    """One line for the instructor."""


def _open(args):
    # nbgrader calls the `alembic` script of its own environment when it creates a gradebook.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    LOG.propagate = False
    LOG.setLevel(logging.INFO)
    course = Course(args.course, log=LOG)
    for handler in list(LOG.handlers):
        LOG.removeHandler(handler)
    handler = logging.FileHandler(os.path.join(course.state_dir, "grade.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s"))
    LOG.addHandler(handler)
    # Library warnings (SQLAlchemy's, say) go to the log, not between the progress bar's lines.
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.propagate = False
    warnings_log.handlers = [handler]
    return course


def _pick(course, wanted):
    known = course.assignments()
    for name in wanted or []:
        if name not in known:
            raise CommandError(f"unknown assignment {name!r}; known: {', '.join(known)}")
    return wanted or known


def cmd_release(args):
    course = _open(args)
    api = course.api()
    failed = 0
    for assignment in _pick(course, args.assignments):
        result = api.generate_assignment(assignment, force=True, create=True)
        if result["success"]:
            print(f"released {assignment} -> {os.path.relpath(os.path.join(course.step_dir('release'), assignment))}")
        else:
            failed += 1
            LOG.error("release of %s failed:\n%s", assignment, result.get("error", ""))
            print(f"nnlab: error: release of {assignment} failed: {_last_error(result)}", file=sys.stderr)
    return 1 if failed else 0


def _last_error(result):
    from .parallel import _reason
    return _reason(result)


def cmd_grade(args):
    from . import intake
    from .execute import sandbox_status
    from .export import save_status
    from .parallel import Grader, expected_notebooks
    from .sandbox import Sandbox

    course = _open(args)
    if args.jobs < 1:
        raise CommandError("-j must be at least 1")
    sandbox = Sandbox(config=course.config)
    sandboxed, why = sandbox_status(sandbox) if not args.unsandboxed else (False, "--unsandboxed")
    if not sandboxed:
        print(f"nnlab: warning: grading WITHOUT a sandbox ({why})", file=sys.stderr)
    for problem in sandbox.limit_problems(sandboxed):
        print(f"nnlab: warning: limit not applied: {problem}", file=sys.stderr)
    expected = expected_notebooks(course)
    released = set(expected)
    if not released:
        raise CommandError("nothing is released yet: run `nnlab release` first")
    general = []
    jobs = intake.collect(course, args.submissions, expected, released, timestamps=args.timestamps,
                          general=general)
    for note in general:
        print(f"nnlab: warning: {note}", file=sys.stderr)
        LOG.warning("intake: %s", note)
    if args.assignment:
        jobs = [j for j in jobs if j.assignment in args.assignment]
    if args.student:
        jobs = [j for j in jobs if j.student in args.student]
    if not jobs:
        raise CommandError("no submissions found (layout: <student>/<assignment>/<notebook>.ipynb)")
    grader = Grader(course, workers=args.jobs, allow_unsandboxed=args.unsandboxed,
                    progress=not args.no_progress and sys.stderr.isatty() or args.progress)
    results = grader.run(jobs)
    save_status(course.root, results)
    counts = {}
    for (student, assignment), entry in sorted(results.items()):
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        if entry["status"] != "graded":
            print(f"{student}/{assignment}: {entry['status']}: {entry['reason']}", file=sys.stderr)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"graded {len(results)} submission(s): {summary}; notes in "
          f"{os.path.relpath(os.path.join(course.state_dir, 'status.json'))}")
    return 1 if counts.get("failed") else 0


def cmd_feedback(args):
    from .parallel import expected_notebooks
    course = _open(args)
    api = course.api()
    released = sorted(expected_notebooks(course))
    wanted = args.assignments or released
    failed = 0
    for assignment in wanted:
        if assignment not in released:
            raise CommandError(f"assignment {assignment!r} is not in the gradebook")
        if not os.path.isdir(os.path.join(course.step_dir("autograded"))):
            break
        students = args.student or [None]
        for student in students:
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                failed += 1
                LOG.error("feedback for %s failed:\n%s", assignment, result.get("error", ""))
                print(f"nnlab: error: feedback for {assignment} failed: {_last_error(result)}", file=sys.stderr)
    print(f"feedback written to {os.path.relpath(course.step_dir('feedback'))}")
    return 1 if failed else 0


def cmd_export(args):
    from .export import write_csv
    course = _open(args)
    rows = write_csv(course, args.csv, args.assignment)
    print(f"wrote {len(rows)} row(s) to {args.csv}")
    return 0


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", default=argparse.SUPPRESS,
                        help="the nbgrader course root (default: ./autograder)")
    parser = argparse.ArgumentParser(prog="nnlab", parents=[common],
                                     description="Release, grade, give feedback on and export the nnlab lessons.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", parents=[common], help="generate the student versions into autograder/release/")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: every lesson)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", parents=[common], help="autograde submissions (folder or .zip)")
    p.add_argument("submissions", nargs="?", help="folder or .zip in <student>/<assignment>/<notebook>.ipynb "
                   "layout (default: autograder/submitted/)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--timestamps", metavar="CSV",
                   help="submission times exported from the LMS (columns student_id,timestamp); "
                   "default: the time of collection")
    p.add_argument("--unsandboxed", action="store_true",
                   help="run student code without bubblewrap (only if it is unavailable; logged)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="progress bar even when not on a terminal")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("feedback", parents=[common], help="write HTML feedback per student")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all graded)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", parents=[common], help="write the grade sheet as CSV")
    p.add_argument("csv", help="output file")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.set_defaults(func=cmd_export)

    from .report import add_subcommand as add_report
    add_report(sub, common)

    from nnlab.hub.run import add_parser as add_hub
    add_hub(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "course"):
        args.course = None
    try:
        return args.func(args)
    except (CommandError, CourseError, IntakeError, SandboxUnavailable) as exc:
        print(f"nnlab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        LOG.error("unexpected error:\n%s", traceback.format_exc())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"nnlab: error: {type(exc).__name__}: {first} (details in .grading/grade.log)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
