"""Hedging against real worker processes that misbehave the ways real ones do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codering_x.localprocs import call

HELLO = {"runtime": "python", "code": "print('hello')"}


def living_descendants(root: int) -> list[int]:
    """The living (not zombie) processes below `root`: a worker's runs are its descendants."""
    parents, states = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            states[int(entry.name)], parents[int(entry.name)] = fields[0], int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        frontier += children
        found += [pid for pid in children if states[pid] != "Z"]
    return found


def test_the_fast_worker_answers_when_the_other_stalls(procs):
    slow, fast = procs.worker(name="python-slow", fault="stall:3000"), procs.worker(name="python-fast")
    dispatcher = procs.dispatcher([slow, fast])
    started = time.monotonic()
    status, body, _ = call(dispatcher.url, body=HELLO)
    assert status == 200 and body["run"]["stdout"] == "hello\n"
    assert body["meta"]["worker"] == "python-fast" and time.monotonic() - started < 2


@pytest.mark.parametrize("fault", ["error", "close", "hang"])
def test_the_other_worker_answers_when_one_fails(procs, fault):
    bad, good = procs.worker(name="python-bad", fault=fault), procs.worker(name="python-good")
    dispatcher = procs.dispatcher([bad, good])
    for _ in range(3):
        status, body, _ = call(dispatcher.url, body=HELLO)
        assert status == 200 and body["status"] == "ok" and body["meta"]["worker"] == "python-good"


def test_when_both_fail_a_third_worker_answers(procs):
    workers = [procs.worker(name="python-e1", fault="error"), procs.worker(name="python-e2", fault="close"),
               procs.worker(name="python-ok")]  # fmt: skip
    # Failed workers come back at once here, so every request picks its first two at random.
    health = {"interval_s": 0.05, "backoff_initial_s": 0.001, "backoff_max_s": 0.001}
    dispatcher = procs.dispatcher(workers, hedge={"max_attempts": 3}, health=health)
    attempts = []
    for _ in range(20):
        status, body, _ = call(dispatcher.url, body=HELLO)
        assert status == 200 and body["meta"]["worker"] == "python-ok"
        attempts.append(body["meta"]["attempts"])
        time.sleep(0.1)
    assert 3 in attempts, attempts  # both first picks failed, and the third send answered


def test_when_every_worker_fails_the_answer_is_a_structured_503(procs):
    workers = [procs.worker(name="python-e1", fault="error"), procs.worker(name="python-e2", fault="error")]
    dispatcher = procs.dispatcher(workers, hedge={"max_attempts": 3})
    status, body, headers = call(dispatcher.url, body=HELLO)
    assert status == 503 and body["error"]["code"] == "workers_failed" and headers["Retry-After"] == "1"
    # Both failed; one was sent the request again once its probe said it was back; then no sends were left.
    assert len(body["error"]["details"]) == 3


def test_when_no_worker_answers_in_time_the_answer_is_a_504(procs):
    workers = [procs.worker(name="python-h1", fault="hang"), procs.worker(name="python-h2", fault="hang")]
    dispatcher = procs.dispatcher(workers, hedge={"deadline_s": 1.0})
    started = time.monotonic()
    status, body, _ = call(dispatcher.url, body=HELLO)
    assert status == 504 and body["error"]["code"] == "deadline" and time.monotonic() - started < 3


def test_a_learners_error_is_an_answer_not_a_failure(procs):
    dispatcher = procs.dispatcher([procs.worker(name="python-a"), procs.worker(name="python-b")])
    status, body, _ = call(dispatcher.url, body={"runtime": "python", "code": "raise SystemExit(3)"})
    assert status == 200 and body["status"] == "runtime_error" and body["meta"]["attempts"] == 2


def running_a_program(pid: int) -> bool:
    """Is this process a run: its work dir holds a program? (A prewarmed member waiting for
    its run, a descendant of the worker too, has an empty one.)"""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        return cwd.parent.name == "boxes" and any(cwd.iterdir())
    except OSError:
        return False


def test_the_losers_sandbox_process_is_gone_within_a_second(procs):
    # The stalled worker starts its run 1.5 s late, so at the winner's answer (2 s) its run
    # has 1.5 s left: only the cancellation can end it within the next second.
    slow, fast = procs.worker(name="python-slow", fault="stall:1500"), procs.worker(name="python-fast")
    dispatcher = procs.dispatcher([slow, fast])
    status, body, _ = call(
        dispatcher.url, body={"runtime": "python", "code": "import time\ntime.sleep(2)\nprint('done')"}
    )
    assert status == 200 and body["meta"]["worker"] == "python-fast"
    answered = time.monotonic()
    while time.monotonic() - answered < 1.0:
        left = [pid for pid in living_descendants(slow.popen.pid) if running_a_program(pid)]
        if not left:
            break
        time.sleep(0.02)
    assert not left, f"the loser's run is still alive: {left}"


def test_by_default_both_idle_workers_get_every_request_at_once(procs):
    """The design's default: two sends at once; a stalled worker never makes a learner wait."""
    slow, fast = procs.worker(name="python-s", fault="stall:1000:3"), procs.worker(name="python-f")
    dispatcher = procs.dispatcher([slow, fast])
    answers = [call(dispatcher.url, body=HELLO)[1] for _ in range(12)]
    assert all(a["status"] == "ok" for a in answers)
    # No wait for a quantile: each goes to both, unless the stalled one is still busy (idle_only).
    assert sum(a["meta"]["attempts"] == 2 for a in answers) >= len(answers) // 2
    assert all(a["meta"]["elapsed_ms"] < 1000 for a in answers)


def test_a_runtime_may_hedge_at_its_p90_and_still_rescue_the_slow(procs):
    """With the adaptive policy for python (the others keep the default), once the dispatcher
    has seen python's answer times, a request goes out once and is hedged only when it runs
    slower than most: the stalled ones are answered by the other."""
    slow, fast = procs.worker(name="python-s", fault="stall:1000:3"), procs.worker(name="python-f")
    dispatcher = procs.dispatcher([slow, fast], hedge={"runtimes": {"python": {"delay_quantile": 0.9}}})
    answers = [call(dispatcher.url, body=HELLO)[1] for _ in range(60)]
    assert all(a["status"] == "ok" for a in answers)
    later = answers[30:]  # past the 20 answers the adaptive delay needs
    assert sum(a["meta"]["attempts"] == 1 for a in later) >= len(later) // 2  # most go out once
    assert all(a["meta"]["elapsed_ms"] < 1000 for a in later)  # no one waited out a stall


def test_by_default_a_compiled_runtime_hedges_at_its_p90(procs):
    """The shipped per-runtime policy: c goes to both workers at once only until the
    dispatcher has seen 20 of its answers, then once, hedged at its p90."""
    workers = [procs.worker("c", name=f"c-{i}") for i in (1, 2)]
    dispatcher = procs.dispatcher(workers)
    body = {"runtime": "c", "code": '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'}
    answers = [call(dispatcher.url, body=body)[1] for _ in range(32)]
    assert all(a["status"] == "ok" and a["run"]["stdout"] == "hi\n" for a in answers), answers
    assert answers[0]["meta"]["attempts"] == 2  # nothing seen yet: at once
    later = answers[22:]
    assert sum(a["meta"]["attempts"] == 1 for a in later) >= len(later) // 2
