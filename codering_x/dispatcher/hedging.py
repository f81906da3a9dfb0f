"""Hedged execution: a request that takes longer than most of its runtime's recent ones
(their p90, by default) goes to a second worker too, and the first good answer wins.

An answer is any well-formed reply, whatever the learner's program did (a compile error
or a time limit is an answer). A transport failure, a 5xx, a timeout or a malformed body
is not: that worker is marked down, and another is sent the request in its place, within a
bounded number of sends and a deadline. A loser gets a short grace to finish (a prewarmed
run takes milliseconds, and its connection is then reused); after that its connection is
closed, which makes its worker kill the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..models import ErrorResponse, Status
from .config import HedgeConfig
from .metrics import Metrics
from .pool import Registry, WorkerState

log = logging.getLogger("codering_x.dispatcher")
RECENT_ANSWERS = 200  # answer times kept per runtime for the adaptive hedge delay
MIN_ANSWERS = 20  # fewer than this: hedge after delay_ms
WORKER_POLL_S = 0.05  # how often a request with no worker left looks for one
STATUSES = set(Status.__args__)  # type: ignore[attr-defined]


@dataclass
class Outcome:
    """What the dispatcher answers: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]
    worker: str | None = None


class WorkerFailed(Exception):
    """Not an answer: the worker, not the request, is at fault. `gone`: its connection broke
    or was refused (it died, or is restarting): such a send is not counted against
    max_attempts, since a respawned worker will take the request."""

    def __init__(self, message: str, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class Hedger:
    def __init__(self, registry: Registry, session: aiohttp.ClientSession, config: HedgeConfig, metrics: Metrics):
        self.registry, self.session, self.config, self.metrics = registry, session, config, metrics
        self._losers: set[asyncio.Task] = set()
        self._answer_times: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT_ANSWERS))

    def hedge_delay(self, runtime: str) -> float:
        """Seconds before the second send, by the runtime's policy (else the default). Sent at
        once (the default), the faster of two idle workers answers every request; sent at the
        runtime's p90, a hedge costs a tenth of that and still rescues the slow tail."""
        policy = self.config.runtimes.get(runtime, self.config)
        delay = policy.delay_ms / 1000
        recent = self._answer_times[runtime]
        if policy.delay_quantile is None or len(recent) < MIN_ANSWERS:
            return delay
        ordered = sorted(recent)
        return max(delay, ordered[int(policy.delay_quantile * (len(ordered) - 1))])

    async def dispatch(
        self, runtime: str, body: bytes, request_id: str, client_gone: Callable[[], bool] = lambda: False
    ) -> Outcome:
        started = time.monotonic()
        deadline = started + self.config.deadline_s
        tried: set[int] = set()  # worker incarnations sent to: a respawned worker is a new one
        sends = counted = 0  # every send; those counted against max_attempts
        running: dict[asyncio.Task, tuple[WorkerState, int]] = {}
        failures: list[str] = []

        def launch(hedge: bool = False) -> bool:
            nonlocal sends, counted
            if counted >= self.config.max_attempts:
                return False
            worker = self.registry.pick(runtime, tried)
            if worker is None:
                return False
            if hedge and self.config.idle_only and worker.busy > 0:
                return False  # under load every worker is busy: a duplicate would only cost capacity
            tried.add(worker.serial)
            sends += 1
            counted += 1
            if sends > self.config.fanout:
                self.metrics.retries.labels(runtime).inc()
            task = asyncio.create_task(self._send(worker, body, request_id, deadline))
            running[task] = (worker, sends)
            return True

        launch()
        hedge_due = started + self.hedge_delay(runtime)
        hedge_declined = False
        wait_until = min(deadline, started + self.config.worker_wait_s)
        try:
            while True:
                now = time.monotonic()
                if not running:
                    # Every worker tried has failed, or none was healthy: wait for one (a
                    # respawned one counts), within the request's time, then send again.
                    if counted >= self.config.max_attempts or now >= wait_until or client_gone():
                        break
                    if not launch():
                        await asyncio.sleep(WORKER_POLL_S)
                    continue
                want_more = len(running) < self.config.fanout and not hedge_declined
                if want_more and now >= hedge_due:
                    if launch(hedge=not failures):
                        continue
                    hedge_declined = not failures  # no idle worker now: this request goes out once
                wake = hedge_due if want_more and now < hedge_due else deadline
                done, _ = await asyncio.wait(running, timeout=max(wake - now, 0), return_when=asyncio.FIRST_COMPLETED)
                if not done and time.monotonic() >= deadline:
                    break
                for task in done:
                    worker, position = running.pop(task)
                    try:
                        status, payload = task.result()
                    except WorkerFailed as exc:
                        failures.append(f"{worker.name}: {exc}")
                        counted -= exc.gone  # a worker that died: the budget is for workers that answer badly
                        self.registry.failed(worker)
                        self.metrics.worker_failures.labels(worker.name, runtime).inc()
                        log.warning("request %s: worker %s failed: %s", request_id, worker.name, exc)
                        launch()  # in the failed one's place, within the budget
                        continue
                    self.registry.succeeded(worker)
                    self._answer_times[runtime].append(time.monotonic() - started)
                    self.metrics.hedge_wins.labels(str(position)).inc()
                    if failures:
                        self.metrics.fallbacks.labels(runtime).inc()
                    if isinstance(payload.get("meta"), dict):
                        payload["meta"].update(
                            worker=worker.name,
                            attempts=sends,
                            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
                        )
                    return Outcome(status, payload, worker.name)
        finally:
            if running:
                loser = asyncio.create_task(self._let_finish(dict(running)))
                self._losers.add(loser)
                loser.add_done_callback(self._losers.discard)
        if client_gone():
            return error_outcome(499, "cancelled", "the client went away before a worker answered")
        if time.monotonic() >= deadline:
            return error_outcome(504, "deadline", f"no worker answered within {self.config.deadline_s:g} s", failures)
        if not sends:
            return error_outcome(503, "no_worker", f"no healthy worker for runtime {runtime!r}; retry shortly")
        return error_outcome(503, "workers_failed", f"every worker tried for {runtime!r} failed", failures)

    async def _let_finish(self, losers: dict[asyncio.Task, tuple[WorkerState, int]]) -> None:
        """Give the losers their grace, then cancel those still running: that closes their
        connections, and their workers kill the runs. Meanwhile their workers count as idle
        for the next hedge."""
        workers = [worker for worker, _ in losers.values()]
        for worker in workers:
            worker.losing += 1
        try:
            _, pending = await asyncio.wait(losers, timeout=self.config.loser_grace_ms / 1000)
            for task in pending:
                task.cancel()
            await asyncio.gather(*losers, return_exceptions=True)  # a loser's failure is no news
        finally:
            for worker in workers:
                worker.losing -= 1

    async def _send(self, worker: WorkerState, body: bytes, request_id: str, deadline: float) -> tuple[int, dict]:
        worker.in_flight += 1
        timeout = aiohttp.ClientTimeout(
            total=min(self.config.attempt_timeout_s, max(deadline - time.monotonic(), 0.001))
        )
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
        try:
            async with self.session.post(worker.spec.url, data=body, headers=headers, timeout=timeout) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise WorkerFailed("timed out") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:  # refused, reset: it went away
            raise WorkerFailed(f"{type(exc).__name__}: {exc}", gone=True) from exc
        except aiohttp.ClientError as exc:
            raise WorkerFailed(f"{type(exc).__name__}: {exc}") from exc
        finally:
            worker.in_flight -= 1
        if status >= 500:
            raise WorkerFailed(f"HTTP {status}")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise WorkerFailed("malformed body (not JSON)") from exc
        if not isinstance(payload, dict):
            raise WorkerFailed("malformed body (not an object)")
        if status == 200 and payload.get("status") not in STATUSES:
            raise WorkerFailed("malformed body (no run status)")
        if status != 200 and not isinstance(payload.get("error"), dict):
            raise WorkerFailed(f"HTTP {status} without an error body")
        if status == 200 and payload.get("status") == "internal_error":
            stages = [payload.get(name) for name in ("compile", "run")]
            why = "; ".join(str(s["message"]) for s in stages if isinstance(s, dict) and s.get("message"))
            raise WorkerFailed(f"the worker reported an internal error: {why or 'no message'}")
        return status, payload


def error_outcome(status: int, code: str, message: str, details: Any = None) -> Outcome:
    return Outcome(status, ErrorResponse.body(code, message, details))
