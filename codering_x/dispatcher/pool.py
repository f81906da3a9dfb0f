"""The workers the dispatcher knows, their health, and which to pick.

Discovery (static, local, docker, kubernetes) tells the registry which workers exist; the
registry keeps each one's health (passive: a failure takes it out for a back-off; active:
a periodic /healthz brings it back and tells its runtime's catalogue entry) and its runs in
flight. The hedging code asks only `pick(runtime, exclude)`.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .config import HealthConfig


@dataclass(frozen=True)
class WorkerSpec:
    """A worker as discovery reports it."""

    name: str
    runtime: str
    url: str  # base URL: runs are POSTed to it, health is GET {url}/healthz
    sessions: str | None = None  # where its interactive sessions are served (None: {url}/v1/interactive)

    @property
    def session_url(self) -> str:
        return self.sessions or f"{self.url}/v1/interactive"


_SERIALS = itertools.count(1)


@dataclass
class WorkerState:
    spec: WorkerSpec
    source: str
    # Its incarnation: a request tries each at most once. A respawned worker is a new state
    # (a new spec: its port or pod differs); one that failed and answers again gets a new one.
    serial: int = field(default_factory=lambda: next(_SERIALS))
    healthy: bool = False  # until the first /healthz answers
    in_flight: int = 0
    losing: int = 0  # of in_flight: hedges already lost, finishing their grace

    @property
    def busy(self) -> int:
        """Sends that still matter: a lost hedge finishing its grace is as good as done."""
        return self.in_flight - self.losing

    failures: int = 0
    down_until: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)  # the runtime's catalogue entry, from /healthz

    @property
    def name(self) -> str:
        return self.spec.name

    def available(self, now: float) -> bool:
        return self.healthy and now >= self.down_until


class Registry:
    def __init__(self, health: HealthConfig) -> None:
        self.health = health
        self.workers: dict[str, WorkerState] = {}
        self.expected: list[str] = []  # set once, by `expect`
        self.remembered: dict[str, dict[str, Any]] = {}

    def expect(self, runtimes: list[str]) -> None:
        """The runtimes this dispatcher is meant to serve, the one place they are kept.
        /readyz waits for them. They stay known when all their workers are gone (killed,
        respawning): a request for one is then a 503 "no worker, retry", not a 400
        "unknown runtime"."""
        self.expected = list(runtimes)

    # -- discovery feeds these ---------------------------------------------------------
    def replace(self, source: str, specs: list[WorkerSpec]) -> None:
        """Make `specs` the whole set of workers that `source` knows; keep others' state."""
        wanted = {s.name: s for s in specs}
        for name, state in list(self.workers.items()):
            if state.source == source and (name not in wanted or wanted[name] != state.spec):
                del self.workers[name]
        for name, spec in wanted.items():
            if name not in self.workers:
                self.workers[name] = WorkerState(spec, source)

    # -- health ----------------------------------------------------------------------
    def succeeded(self, worker: WorkerState, info: dict[str, Any] | None = None) -> None:
        if worker.failures:  # back after a failure: a request that tried it may try it again
            worker.serial = next(_SERIALS)
        worker.healthy, worker.failures, worker.down_until = True, 0, 0.0
        if info:
            worker.info = info
            self.remembered[worker.spec.runtime] = info

    def probe_failed(self, worker: WorkerState) -> None:
        """Active health: a failed /healthz takes the worker out until one answers again."""
        worker.healthy = False

    def failed(self, worker: WorkerState) -> None:
        """Passive health: no traffic for a back-off that doubles with each failure in a row."""
        worker.failures += 1
        backoff = min(self.health.backoff_initial_s * 2 ** (worker.failures - 1), self.health.backoff_max_s)
        worker.down_until = time.monotonic() + backoff
        if worker.failures >= 2:
            worker.healthy = False  # only an active probe brings it back

    # -- picking -----------------------------------------------------------------------
    def pick(self, runtime: str, exclude: set[int]) -> WorkerState | None:
        """The available worker of `runtime` with the fewest runs in flight (ties at random),
        other than the incarnations (`serial`s) in `exclude`."""
        now = time.monotonic()
        candidates = [
            w
            for w in self.workers.values()
            if w.spec.runtime == runtime and w.serial not in exclude and w.available(now)
        ]
        if not candidates:
            return None
        fewest = min(w.busy for w in candidates)
        return random.choice([w for w in candidates if w.busy == fewest])

    def of_runtime(self, runtime: str) -> list[WorkerState]:
        return [w for w in self.workers.values() if w.spec.runtime == runtime]

    def runtimes(self) -> set[str]:
        """Every runtime known: with workers now, expected, or seen before."""
        return {w.spec.runtime for w in self.workers.values()} | set(self.expected) | set(self.remembered)

    def healthy_count(self, runtime: str) -> int:
        now = time.monotonic()
        return sum(1 for w in self.of_runtime(runtime) if w.available(now))

    def catalogue(self) -> dict[str, dict[str, Any]]:
        """Runtime name → its catalogue entry, as a healthy worker of it reported it."""
        entries: dict[str, dict[str, Any]] = dict(self.remembered)
        for w in self.workers.values():
            if w.info and w.healthy:
                entries[w.spec.runtime] = w.info
        return entries

    def names(self) -> set[str]:
        """Every name `resolve` accepts in lower case: runtimes and their aliases."""
        aliases = {a.lower() for info in self.catalogue().values() for a in info.get("aliases", [])}
        return self.runtimes() | aliases

    def resolve(self, name: str) -> str | None:
        """A runtime name or alias (case-insensitive) → the runtime's name."""
        key = name.lower()
        if key in self.runtimes():
            return key
        for runtime, info in self.catalogue().items():
            if key in (a.lower() for a in info.get("aliases", [])):
                return runtime
        return None
