"""`codering-x serve` (and `codering-x up`): the one entry point that starts the dispatcher,
whatever the discovery. Start the HTTP app, create the discovery the settings name, run it
until SIGINT/SIGTERM, then stop in the order that leaves nothing behind."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from .. import aio
from .app import Dispatcher
from .config import Settings
from .discovery import DEFAULT_PROJECT
from .discovery import create as create_discovery

if TYPE_CHECKING:
    from docker import DockerClient


async def serve(settings: Settings, docker_client: DockerClient | None = None, project: str = DEFAULT_PROJECT) -> None:
    """Run the dispatcher until SIGINT/SIGTERM, with the discovery its settings name (for
    `local`, the worker processes too; for `docker`, the containers of `project`)."""
    dispatcher = Dispatcher(settings)
    await dispatcher.start()
    runner = web.AppRunner(dispatcher.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=2048)
    await site.start()
    host, port = runner.addresses[0][:2]
    discovery = create_discovery(settings, dispatcher.registry, dispatcher.workers_changed, docker_client, project)
    # Configured runtimes win over what discovery expects; set before its workers start.
    dispatcher.registry.expect(settings.runtimes or discovery.expected_runtimes())
    discovery_task = asyncio.create_task(discovery.run(), name="discovery")
    print(f"codering-x dispatcher listening on http://{host}:{port} (discovery: {settings.discovery.kind})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await discovery.stop()  # before the task is cancelled: local workers get SIGTERM, not SIGKILL
        discovery_task.cancel()
        await asyncio.gather(discovery_task, return_exceptions=True)
        await runner.cleanup()
        await dispatcher.stop()


def main(settings: Settings) -> int:
    """`codering-x serve` once its flags are folded into `settings`: log, then serve on uvloop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    aio.run(serve(settings))
    return 0
