"""Active health checks: probe every worker's /healthz; learn its runtime's catalogue entry."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from .metrics import Metrics
from .pool import Registry, WorkerState

log = logging.getLogger("codering_x.dispatcher")


class HealthChecker:
    def __init__(self, registry: Registry, session: aiohttp.ClientSession, metrics: Metrics) -> None:
        self.registry, self.session, self.metrics = registry, session, metrics
        self.changed = asyncio.Event()  # set by discovery: probe new workers now, not next tick

    async def run(self) -> None:
        while True:
            await self.probe_all()
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), self.registry.health.interval_s)

    async def probe_all(self) -> None:
        workers = list(self.registry.workers.values())
        await asyncio.gather(*(self.probe(w) for w in workers))
        for w in workers:
            self.metrics.worker_healthy.labels(w.name, w.spec.runtime).set(1 if w.healthy else 0)

    async def probe(self, worker: WorkerState) -> None:
        timeout = aiohttp.ClientTimeout(total=self.registry.health.timeout_s)
        try:
            async with self.session.get(f"{worker.spec.url}/healthz", timeout=timeout) as response:
                body = await response.json(content_type=None)
                ok = response.status == 200 and body.get("status") == "ok"
        except (aiohttp.ClientError, TimeoutError, ValueError):
            ok, body = False, {}
        if ok:
            if not worker.healthy:
                log.info("worker %s is healthy", worker.name)
            self.registry.succeeded(worker, body.get("runtime"))
        elif worker.healthy:
            log.warning("worker %s failed its health check", worker.name)
            self.registry.probe_failed(worker)
