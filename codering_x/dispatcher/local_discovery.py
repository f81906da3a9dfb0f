"""Local discovery, the embedded default (`codering-x serve`, `make run`): for every runtime
this host has, a few `codering-x worker` processes on 127.0.0.1, started and supervised here.

Unlike the other kinds, this one owns its workers: a worker is registered once it prints
the port it bound, unregistered when it dies, and respawned with a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..catalogue import Catalogue
from .config import EmbeddedConfig
from .pool import Registry, WorkerSpec

log = logging.getLogger("codering_x.serve")
STARTUP_TIMEOUT_S = 120.0
# A worker starting under load competes for the CPU with every run in flight (each in an
# autogroup of its own); at this niceness it gets about ten times a run's share, and comes
# back in about a second instead of five. Back to 0 once it is ready.
STARTING_NICE = -10
MIN_LIFETIME_S = 2.0  # a worker that served this long and died (killed, OOM) comes back at once


class LocalDiscovery:
    """Worker processes on 127.0.0.1, each in a slot that respawns it when it dies."""

    def __init__(
        self,
        runtimes: list[str],
        per_runtime: int,
        concurrency: int,
        registry: Registry,
        changed: Callable[[], None],
        backoff_max_s: float = 10.0,
    ) -> None:
        self.runtimes = sorted(runtimes)
        self.slots = [(r, i) for r in runtimes for i in range(1, per_runtime + 1)]
        self.concurrency, self.registry, self.changed = concurrency, registry, changed
        self.backoff_max_s = backoff_max_s
        self.live: dict[str, WorkerSpec] = {}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = False

    @classmethod
    def from_settings(cls, config: EmbeddedConfig, registry: Registry, changed: Callable[[], None]) -> LocalDiscovery:
        """The `embedded` section's workers; no runtimes named means every one this host has."""
        runtimes = config.runtimes or [r.name for r in Catalogue.load().available()]
        return cls(
            runtimes, config.workers_per_runtime, config.concurrency, registry, changed, config.respawn_backoff_max_s
        )

    def expected_runtimes(self) -> list[str]:
        return self.runtimes

    async def run(self) -> None:
        await asyncio.gather(*(self._slot(runtime, index) for runtime, index in self.slots))

    async def stop(self) -> None:
        """SIGTERM every worker and wait for each to exit: a worker removes its boxes and
        members before it does (worker.drain), so nothing of theirs outlives `serve`.
        Cancelling `run` first would SIGKILL them instead (see `_serve_once`)."""
        self.stopping = True
        for proc in list(self.processes.values()):
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(p.wait() for p in list(self.processes.values())), return_exceptions=True)

    def _publish(self) -> None:
        self.registry.replace("local", list(self.live.values()))
        self.changed()

    async def _slot(self, runtime: str, index: int) -> None:
        name = f"{runtime}-{index}"
        backoff = 0.1
        while not self.stopping:
            started = time.monotonic()
            served = False
            try:
                served = await self._serve_once(name, runtime)
            except Exception as exc:  # a worker that cannot start: log, back off, try again
                if not self.stopping:
                    log.error("worker %s failed to start: %s", name, exc)
            self.live.pop(name, None)
            self._publish()
            if self.stopping:
                return
            # A worker that served and then died (killed, OOM) comes back at once, however
            # often that happens: requests wait for it. Only one that cannot start, or dies
            # as soon as it has started, backs off (a crash loop).
            lived = time.monotonic() - started
            backoff = 0.1 if served and lived > MIN_LIFETIME_S else min(backoff * 2, self.backoff_max_s)
            log.warning("worker %s exited; respawning in %.1f s", name, backoff)
            await asyncio.sleep(backoff)

    async def _serve_once(self, name: str, runtime: str) -> bool:
        """Start one worker, serve until it exits; True if it came up and served."""
        argv = [sys.executable, "-m", "codering_x.cli", "worker", "--runtime", runtime, "--name", name,
                "--host", "127.0.0.1", "--port", "0", "--concurrency", str(self.concurrency)]  # fmt: skip
        # Its own session, hence its own autogroup: the scheduler weighs it against each run
        # (every run has a session of its own) by that group's niceness, raised while it starts.
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, start_new_session=True)
        self.processes[name] = proc
        try:
            _autogroup_nice(proc.pid, STARTING_NICE)
            line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_TIMEOUT_S)
            _autogroup_nice(proc.pid, 0)
            if not line:  # (killed while it started, or its start failed: its stderr says why)
                raise RuntimeError(f"it exited before it was ready, with status {await proc.wait()}")
            if not line.startswith(b"listening "):
                raise RuntimeError(f"unexpected first line {line[:200]!r}")
            url = line.split()[1].decode()
            self.live[name] = WorkerSpec(name, runtime, url)
            self._publish()
            await proc.wait()
            return True
        finally:
            if proc.returncode is None:  # cancelled, or it never came up: no survivor
                proc.kill()
                await proc.wait()
            self.processes.pop(name, None)


def _autogroup_nice(pid: int, nice: int) -> None:
    """Set the niceness of a process's autogroup; best effort (no autogroups in this kernel,
    or no CAP_SYS_NICE: then the worker starts at the runs' priority, only slower)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
