"""Thirty students on the course hub at once, through its HTTP APIs, on loopback.

Each student logs in (the hub's login form, PAM password), gets an API token, starts a
server, lists, fetches, answers and submits lesson 01 through nbgrader's assignment
handlers of their own server; all thirty at the same time.  The instructor collects, and
every collected notebook must hold its own student's answer.  Then every student submits a
second answer while the hub is killed (SIGKILL) and restarted: the proxy, the servers and the
submitted work must survive, and the second collection must again be 30/30.

Prints the wall time, the median and p95 latency of each step, and for the steps a student
can repeat, the p95 under load against one student alone (the baseline).  Needs root (it
makes throwaway accounts nnlabt-*, removed at the end).  Stops by itself: each request has a
timeout and the whole run a hard limit (NNLAB_BENCH_HUB_TIMEOUT, default 1200 s).
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnlab.hub import trial  # noqa: E402
from nnlab.hub.trial import COURSE_ID, LESSON, HTTPFailure, TrialHub  # noqa: E402

STUDENTS = int(os.environ.get("NNLAB_BENCH_HUB_STUDENTS", "30"))
HARD_TIMEOUT = int(os.environ.get("NNLAB_BENCH_HUB_TIMEOUT", "1200"))
NOTEBOOK = f"{LESSON}/{LESSON}.ipynb"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(hub: TrialHub, user: str) -> None:
    """The hub's login form, as a browser posts it; a redirect away from it means success."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(f"{hub.url}/hub/login", timeout=60) as page:
        html = page.read().decode()
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"username": user, "password": hub.passwords[user],
                                   "_xsrf": xsrf}).encode()
    try:
        opener.open(f"{hub.url}/hub/login?next=", data=form, timeout=60)
        raise RuntimeError(f"{user}: the login form did not redirect (password refused?)")
    except urllib.error.HTTPError as reply:
        if reply.code != 302 or "login" in reply.headers.get("Location", ""):
            raise RuntimeError(f"{user}: login answered {reply.code} -> {reply.headers.get('Location')}")


def marker(user: str, round_: int) -> str:
    return f"# answer of {user}, round {round_}\n"


def with_retries(call, deadline: float, retries: list):
    """Retry while the hub is away (a restart): 5xx and refused connections, until `deadline`."""
    while True:
        try:
            return call()
        except (HTTPFailure, OSError) as error:
            status = getattr(error, "status", None)
            if (status is not None and status < 500) or time.monotonic() > deadline:
                raise
            retries.append(type(error).__name__)
            time.sleep(0.5)


def timed(times: dict, step: str, call):
    began = time.perf_counter()
    result = call()
    times[step] = time.perf_counter() - began
    return result


def answer_and_submit(hub: TrialHub, user: str, round_: int, times: dict, deadline: float,
                      retries: list) -> None:
    def write():
        model = hub.server("GET", user, f"api/contents/{NOTEBOOK}?content=1")
        notebook = trial.answer(model["content"], "dg_dx", trial.DG_DX_RIGHT + marker(user, round_))
        hub.server("PUT", user, f"api/contents/{NOTEBOOK}",
                   {"type": "notebook", "format": "json", "content": notebook})
    timed(times, "answer", lambda: with_retries(write, deadline, retries))

    def submit():
        reply = hub.server("POST", user, "assignments/submit",
                           {"course_id": COURSE_ID, "assignment_id": LESSON})
        if isinstance(reply, dict) and reply.get("success") is False:
            raise RuntimeError(f"{user}: submit failed: {reply.get('value')}")
    timed(times, "submit", lambda: with_retries(submit, deadline, retries))


def first_round(hub: TrialHub, user: str, deadline: float) -> dict:
    times, retries = {}, []
    timed(times, "login", lambda: login(hub, user))
    timed(times, "token", lambda: hub.user_token(user))
    timed(times, "spawn", lambda: hub.spawn(user))

    def listed():
        reply = hub.server("GET", user, f"assignments?course_id={COURSE_ID}")
        if not any(a["assignment_id"] == LESSON for a in reply["value"]):
            raise RuntimeError(f"{user} does not see {LESSON}: {reply}")
    timed(times, "list", listed)
    timed(times, "fetch", lambda: hub.server("POST", user, "assignments/fetch",
                                             {"course_id": COURSE_ID, "assignment_id": LESSON}))
    answer_and_submit(hub, user, 1, times, deadline, retries)
    return times


def collected_answers(hub: TrialHub) -> dict[str, str]:
    """{student: the source of their collected dg_dx cell}."""
    found = {}
    submitted = hub.course_dir / "submitted"
    for folder in sorted(submitted.iterdir()) if submitted.is_dir() else []:
        path = folder / LESSON / f"{LESSON}.ipynb"
        if path.is_file():
            cells = json.loads(path.read_text())["cells"]
            found[folder.name] = next("".join(c["source"]) for c in cells
                                      if c["metadata"].get("nbgrader", {}).get("grade_id") == "dg_dx")
    return found


def check_collection(hub: TrialHub, round_: int) -> int:
    """Collect and count the students whose collected notebook holds their own latest answer."""
    trial.instructor_collect(hub)
    answers = collected_answers(hub)
    right = [u for u in hub.students if marker(u, round_) in answers.get(u, "")]
    mixed = [u for u, text in answers.items()
             if any(marker(v, r) in text for v in hub.students if v != u for r in (1, 2))]
    if mixed:
        raise AssertionError(f"answers mixed up between students: {mixed}")
    return len(right)


def resident_mb(user: str) -> float:
    """Resident memory of everything `user` runs (their server), in MB."""
    import pwd
    from nnlab.hub.accounts import processes_of
    total = 0
    for pid in processes_of(pwd.getpwnam(user).pw_uid):
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(title: str, per_student: list[dict], baseline: dict | None = None) -> None:
    steps = list(per_student[0])
    print(f"  {title}")
    print(f"    {'step':<8} {'median':>8} {'p95':>8} {'max':>8}" + ("  p95 / alone" if baseline else ""))
    for step in steps:
        values = [t[step] for t in per_student]
        p95 = percentile(values, 0.95)
        line = f"    {step:<8} {statistics.median(values):8.3f} {p95:8.3f} {max(values):8.3f}"
        if baseline and step in baseline:
            line += f"  {p95 / baseline[step]:6.1f}x  (alone: {baseline[step]:.3f} s)"
        print(line)


def hard_limit(signum, frame):
    raise TimeoutError(f"the hub benchmark passed its hard limit of {HARD_TIMEOUT} s")


def main() -> int:
    if os.geteuid() != 0:
        print("bench_hub: skipped: needs root (it creates throwaway system accounts)")
        return 0
    signal.signal(signal.SIGALRM, hard_limit)
    signal.alarm(HARD_TIMEOUT)
    began = time.monotonic()
    deadline = began + HARD_TIMEOUT
    print(f"bench_hub: {STUDENTS} students, one hub on 127.0.0.1 (LocalProcessSpawner, PAM login)")
    with TrialHub.start(students=STUDENTS) as hub:
        print(f"  hub ready in {time.monotonic() - began:.1f} s")
        trial.instructor_release(hub)

        # Round 1: everyone at once.
        round_began = time.monotonic()
        with ThreadPoolExecutor(max_workers=STUDENTS) as pool:
            futures = {pool.submit(first_round, hub, u, deadline): u for u in hub.students}
            first = [f.result() for f in as_completed(futures)]
        round_seconds = time.monotonic() - round_began
        collected_1 = check_collection(hub, 1)
        memory = [resident_mb(u) for u in hub.students]

        # One student alone, repeating what can be repeated: the baseline.
        alone = []
        for _ in range(5):
            times = {}
            answer_and_submit(hub, hub.students[0], 1, times, deadline, [])
            alone.append(times)
        baseline = {step: statistics.median(t[step] for t in alone) for step in alone[0]}

        # Round 2: everyone submits again; the hub is killed and restarted in the middle.
        started = {u: hub.server("GET", u, "api/status")["started"] for u in hub.students}
        second, retries, done = [], [], threading.Event()
        finished = []

        def second_round(user):
            times = {}
            answer_and_submit(hub, user, 2, times, deadline, retries)
            finished.append(user)
            return times

        round2_began = time.monotonic()
        with ThreadPoolExecutor(max_workers=STUDENTS) as pool:
            futures = [pool.submit(second_round, u) for u in hub.students]
            while len(finished) < STUDENTS // 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            in_flight = STUDENTS - len(finished)
            restart_seconds = hub.restart_hub(kill=True)
            second = [f.result() for f in futures]
        round2_seconds = time.monotonic() - round2_began
        done.set()

        survivors = 0
        for user in hub.students:
            model = hub.api("GET", f"/users/{user}")
            server = model["servers"].get("")
            same = hub.server("GET", user, "api/status")["started"] == started[user]
            survivors += bool(server and server["ready"] and same)
        inbound = hub.base / "exchange" / COURSE_ID / "inbound"
        submissions = len(list(inbound.iterdir()))
        collected_2 = check_collection(hub, 2)

    total = time.monotonic() - began
    report(f"round 1: {STUDENTS} students at once, {round_seconds:.1f} s", first, baseline)
    report(f"round 2: {STUDENTS} resubmissions, hub killed with {in_flight} in flight, "
           f"{round2_seconds:.1f} s", second, baseline)
    print(f"  memory per student's server (no kernel running): median {statistics.median(memory):.0f} MB, "
          f"max {max(memory):.0f} MB")
    print(f"  collected after round 1: {collected_1}/{STUDENTS}, each with its own answer")
    print(f"  hub killed (SIGKILL) and back in {restart_seconds:.1f} s; requests retried while "
          f"it was away: {len(retries)}")
    print(f"  servers that survived the restart (same process, ready): {survivors}/{STUDENTS}")
    print(f"  submissions in the exchange after the restart: {submissions} (expected {2 * STUDENTS + 5})")
    print(f"  collected after round 2: {collected_2}/{STUDENTS}, each with its own second answer")
    print(f"  total {total:.1f} s")
    ok = (collected_1 == collected_2 == survivors == STUDENTS and submissions == 2 * STUDENTS + 5)
    print("bench_hub: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
