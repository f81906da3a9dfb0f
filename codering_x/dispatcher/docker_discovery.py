"""Docker discovery: the worker containers of a project, found by label through the Docker
API, with the host port Docker published for their 8080. Relists whenever a container of
the project starts, dies or goes away (Docker's event stream), and every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .pool import Registry, WorkerSpec

log = logging.getLogger("codering_x.dispatcher")
PROJECT_LABEL = "codering.project"
ROLE_LABEL = "codering.role"
RUNTIME_LABEL = "codering.runtime"
WORKER_PORT = "8080/tcp"

if TYPE_CHECKING:
    from docker import DockerClient


def worker_specs(client: DockerClient, project: str) -> list[WorkerSpec]:
    """The running worker containers of `project`, as the registry wants them."""
    specs = []
    filters = {"label": [f"{PROJECT_LABEL}={project}", f"{ROLE_LABEL}=worker"], "status": "running"}
    for container in client.containers.list(filters=filters):
        bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(WORKER_PORT) or []
        published = [b for b in bindings if b.get("HostIp") in ("127.0.0.1", "")]
        if not published:
            continue
        url = f"http://127.0.0.1:{published[0]['HostPort']}"
        specs.append(WorkerSpec(container.name, container.labels[RUNTIME_LABEL], url))
    return specs


class DockerDiscovery:
    def __init__(
        self, client: DockerClient, project: str, registry: Registry, changed: Callable[[], None], relist_s: float = 5.0
    ) -> None:
        self.client, self.project, self.registry, self.changed = client, project, registry, changed
        self.relist_s = relist_s

    def expected_runtimes(self) -> list[str]:
        """None known beforehand: containers are found by label (`up` names its runtimes in
        the settings instead)."""
        return []

    async def stop(self) -> None:
        """Nothing to release first: cancelling `run` stops the event-stream thread."""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(loop, wake, stop), daemon=True, name="docker-events")
        watcher.start()
        try:
            while True:
                specs = await asyncio.to_thread(worker_specs, self.client, self.project)
                self.registry.replace("docker", specs)
                self.changed()
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.relist_s)
        finally:
            stop.set()

    def _watch(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event, stop: threading.Event) -> None:
        """Docker's event stream, in a thread (the SDK blocks): wake the relist on changes."""
        filters = {"type": "container", "label": [f"{PROJECT_LABEL}={self.project}"]}
        while not stop.is_set():
            try:
                for event in self.client.events(decode=True, filters=filters):
                    if stop.is_set():
                        return
                    if event.get("status") in ("start", "die", "destroy", "stop", "restart", "unpause", "pause"):
                        loop.call_soon_threadsafe(wake.set)
            except Exception as exc:  # the engine restarted or the stream broke: listen again
                log.warning("docker event stream ended (%s); reconnecting", exc)
                stop.wait(1.0)
