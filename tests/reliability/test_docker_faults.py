"""Faults under load in docker mode: while requests flow through `codering-x up`, a python
worker container is `docker kill`ed every few seconds and, once, `docker pause`d for 2 s.
Nothing is lost: every request is answered correctly, or with a 503 that a retry serves."""

from __future__ import annotations

import asyncio
import random
import threading
import time

from docker.errors import APIError

from codering_x.localprocs import wait_ready
from tests.conftest import LABEL
from tests.reliability.test_faults import load, summary, wrong

KILLS = 3


def container_chaos(docker, stop: threading.Event, log: list[str]) -> None:
    """Every 2 s: first pause a python container for 2 s, then kill one, KILLS times."""
    rng = random.Random(5)
    paused_once = False
    while sum(entry.startswith("kill") for entry in log) < KILLS and not stop.wait(2.0):
        running = docker.containers.list(filters={"label": [LABEL, "codering.runtime=python"], "status": "running"})
        if not running:
            continue
        victim = rng.choice(sorted(running, key=lambda c: c.name))
        if not paused_once:
            try:
                victim.pause()
            except APIError as exc:  # the engine could not freeze it now ("unable to freeze"): next time
                log.append(f"pause failed: {exc.explanation}")
                continue
            log.append(f"pause {victim.name}")
            stop.wait(2.0)
            victim.unpause()
            paused_once = True
            continue
        victim.kill()
        log.append(f"kill {victim.name}")


def test_nothing_is_lost_while_containers_are_killed_and_paused(up, docker):
    wrong.clear()
    stop, log = threading.Event(), []
    thread = threading.Thread(target=container_chaos, args=(docker, stop, log))
    thread.start()
    results = []
    try:
        started = time.monotonic()
        while thread.is_alive() and time.monotonic() - started < 120:  # load for as long as the chaos lasts
            results += asyncio.run(load(up, 200, 16))
    finally:
        stop.set()
        thread.join()
    lost = [r for r in results if r[1] != 200]
    assert results and not lost, f"{len(lost)} lost: {lost[:5]} {wrong[:3]}; chaos: {log}"
    retried = [r for r in results if r[2]]  # a request waits for a replaced container: no 503 to retry
    assert not retried, f"{len(retried)} needed a client retry: {retried[:5]}; chaos: {log}"
    assert sum(1 for entry in log if entry.startswith("kill")) == KILLS, log
    print(f"containers, {time.monotonic() - started:.1f} s: {summary(results, log)}")
    wait_ready(up, timeout=120)  # both python containers back for the tests after this one
