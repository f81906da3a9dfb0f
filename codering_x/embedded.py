"""The embedded default (`codering-x serve`, `make run`): the dispatcher plus, for every
runtime this host has, a few `codering-x worker` processes on 127.0.0.1, supervised here.

This is the dispatcher's "local" discovery: a worker is registered once it prints the
port it bound, unregistered when it dies, and respawned with a back-off.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable

from aiohttp import web

from . import aio
from .catalogue import Catalogue
from .dispatcher.app import Dispatcher
from .dispatcher.config import Settings
from .dispatcher.discovery import StaticDiscovery
from .dispatcher.pool import Registry, WorkerSpec

log = logging.getLogger("codering_x.serve")
STARTUP_TIMEOUT_S = 120.0
HEALTHY_LIFETIME_S = 30.0  # a worker that lived this long resets its slot's back-off


class LocalWorkers:
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
        self.slots = [(r, i) for r in runtimes for i in range(1, per_runtime + 1)]
        self.concurrency, self.registry, self.changed = concurrency, registry, changed
        self.backoff_max_s = backoff_max_s
        self.live: dict[str, WorkerSpec] = {}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = False

    async def run(self) -> None:
        await asyncio.gather(*(self._slot(runtime, index) for runtime, index in self.slots))

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
                log.error("worker %s failed to start: %s", name, exc)
            self.live.pop(name, None)
            self._publish()
            if self.stopping:
                return
            # A worker that served and then died (killed, OOM) comes back at once; only one
            # that cannot start, or dies young again and again, backs off (crash loops).
            lived = time.monotonic() - started
            backoff = (
                0.1
                if served and (lived > HEALTHY_LIFETIME_S or backoff <= 0.1)
                else min(backoff * 2, self.backoff_max_s)
            )
            log.warning("worker %s exited; respawning in %.1f s", name, backoff)
            await asyncio.sleep(backoff)

    async def _serve_once(self, name: str, runtime: str) -> bool:
        """Start one worker, serve until it exits; True if it came up and served."""
        argv = [sys.executable, "-m", "codering_x.cli", "worker", "--runtime", runtime, "--name", name,
                "--host", "127.0.0.1", "--port", "0", "--concurrency", str(self.concurrency)]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        self.processes[name] = proc
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_TIMEOUT_S)
            if not line.startswith(b"listening "):
                raise RuntimeError(f"unexpected first line {line[:200]!r} (exit code {proc.returncode})")
            url = line.split()[1].decode()
            self.live[name] = WorkerSpec(name, runtime, url)
            self._publish()
            await proc.wait()
            return True
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            self.processes.pop(name, None)

    async def stop(self) -> None:
        """SIGTERM every worker and wait for each to exit: a worker removes its boxes and
        members before it does (worker.drain), so nothing of theirs outlives `serve`."""
        self.stopping = True
        for proc in list(self.processes.values()):
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(p.wait() for p in list(self.processes.values())), return_exceptions=True)


async def serve(settings: Settings, docker_client=None, project: str = "codering-x") -> None:
    """Run the dispatcher until SIGINT/SIGTERM, with the discovery its settings name (for
    `local`, the worker processes too; for `docker`, the containers of `project`)."""
    dispatcher = Dispatcher(settings)
    await dispatcher.start()
    runner = web.AppRunner(dispatcher.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=2048)
    await site.start()
    host, port = runner.addresses[0][:2]
    discovery_task: asyncio.Task | None = None
    workers: LocalWorkers | None = None
    kind = settings.discovery.kind
    if kind == "local":
        runtimes = settings.embedded.runtimes or [r.name for r in Catalogue.load().available()]
        dispatcher.expected_runtimes = dispatcher.expected_runtimes or sorted(runtimes)
        workers = LocalWorkers(
            runtimes,
            settings.embedded.workers_per_runtime,
            settings.embedded.concurrency,
            dispatcher.registry,
            dispatcher.workers_changed,
            settings.embedded.respawn_backoff_max_s,
        )
        discovery_task = asyncio.create_task(workers.run())
    elif kind == "static":
        static_runtimes = {w.runtime for w in settings.discovery.static}
        dispatcher.expected_runtimes = dispatcher.expected_runtimes or sorted(static_runtimes)
        discovery_task = asyncio.create_task(
            StaticDiscovery(settings.discovery.static, dispatcher.registry, dispatcher.workers_changed).run()
        )
    elif kind == "docker":
        from .dispatcher.docker_discovery import DockerDiscovery
        from .images import docker_client as connect

        client = docker_client or connect()
        discovery_task = asyncio.create_task(
            DockerDiscovery(client, project, dispatcher.registry, dispatcher.workers_changed).run()
        )
    else:  # kubernetes
        from .dispatcher.kubernetes_discovery import KubernetesDiscovery, api_client_from

        k8s = settings.discovery.kubernetes
        dispatcher.expected_runtimes = dispatcher.expected_runtimes or sorted(k8s.runtimes)
        discovery = KubernetesDiscovery(
            api_client_from(k8s.api_url), k8s.namespace, k8s.runtimes, k8s.function_prefix,
            dispatcher.registry, dispatcher.workers_changed, k8s.watch_timeout_s,
        )  # fmt: skip
        discovery_task = asyncio.create_task(discovery.run())
    dispatcher.registry.expected.update(dispatcher.expected_runtimes)
    url = f"http://{host}:{port}"
    print(f"codering-x dispatcher listening on {url} (discovery: {kind})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if workers is not None:  # before the discovery task is cancelled: that would SIGKILL them
            await workers.stop()
        if discovery_task is not None:
            discovery_task.cancel()
            await asyncio.gather(discovery_task, return_exceptions=True)
        await runner.cleanup()
        await dispatcher.stop()


def main(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    aio.run(serve(settings))
    return 0
