"""The docker-only dev mode: worker containers on the local Docker daemon, reached over HTTP
on random 127.0.0.1 ports, with the dispatcher in the foreground (`codering-x up`,
`codering-x down`, `codering-x status`), through the docker SDK only.

Each worker container runs the runtime's image as it is (`codering-x worker` on 8080),
hardened as `hardening.py` says, labelled so that `down` removes exactly what `up` made.
`up` also watches Docker's events: it replaces a worker container that dies, ends when
`down` has removed them all, and removes them itself on Ctrl+C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from . import aio
from .catalogue import Catalogue, Runtime
from .dispatcher.docker_discovery import PROJECT_LABEL, ROLE_LABEL, RUNTIME_LABEL, WORKER_PORT
from .functions import image_name
from .hardening import worker_container_options
from .images import build, docker_client, is_current

log = logging.getLogger("codering_x.devmode")
DEFAULT_PROJECT = "codering-x"
REMOVING = ".removing"  # what `down` appends to a container's name before it removes it


MAX_REPLICAS = 16
CONTAINER_UIDS_FROM = 61000  # the host's own sandbox uses 60000-60255


def uid_base(runtime_index: int, slot: int) -> int:
    """A uid range of 256 for each worker container of a project, apart from the host's and
    from each other's: containers share the kernel, hence each uid's process count."""
    return CONTAINER_UIDS_FROM + 256 * (runtime_index * MAX_REPLICAS + slot - 1)


@dataclass
class DevMode:
    client: object
    project: str = DEFAULT_PROJECT

    @classmethod
    def connect(cls, project: str = DEFAULT_PROJECT) -> DevMode:
        return cls(docker_client(), project)

    def _filters(self, **extra: str) -> dict[str, list[str]]:
        labels = [f"{PROJECT_LABEL}={self.project}"] + [f"{k}={v}" for k, v in extra.items()]
        return {"label": labels}

    def containers(self, all: bool = True) -> list:
        return self.client.containers.list(all=all, filters=self._filters())

    # -- up --------------------------------------------------------------------------
    def ensure_images(self, runtimes: list[Runtime], build_missing: bool, out: TextIO = sys.stderr) -> None:
        """Build the images that are missing or were built from another source tree."""
        stale = [r for r in runtimes if not is_current(self.client, r)]
        if stale and not build_missing:
            names = ", ".join(image_name(r) for r in stale)
            raise RuntimeError(f"images missing or stale: {names}; run `codering-x images build` or drop --no-build")
        if stale:
            build(stale, out=out, client=self.client)

    def start_worker(self, runtime: str, index: int):
        """Create and start one worker container (replacing a dead one of the same name)."""
        from docker.errors import NotFound

        name = f"{self.project}-{runtime}-{index}"
        try:
            old = self.client.containers.get(name)
            if old.status == "running":
                return old
            old.remove(force=True)
        except NotFound:
            pass
        labels = {
            PROJECT_LABEL: self.project,
            ROLE_LABEL: "worker",
            RUNTIME_LABEL: runtime,
            "codering.slot": str(index),
        }
        catalogue = Catalogue.load()
        return self.client.containers.run(
            image_name(catalogue.get(runtime)),
            name=name,
            detach=True,
            labels=labels,
            environment={"CODERING_UID_BASE": str(uid_base(sorted(catalogue.runtimes).index(runtime), index))},
            ports={WORKER_PORT: ("127.0.0.1", None)},  # a random port, on loopback only
            **worker_container_options(),
        )

    def up(self, runtimes: list[Runtime], replicas: int) -> list:
        return [self.start_worker(r.name, i) for r in runtimes for i in range(1, replicas + 1)]

    def watch_workers(self, stop: threading.Event) -> None:
        """Until `stop` is set: replace every worker container of the project that dies
        (not one that `down` is removing: it renamed it first)."""
        filters = {
            "type": "container",
            "event": ["die"],
            "label": [f"{PROJECT_LABEL}={self.project}", f"{ROLE_LABEL}=worker"],
        }
        while not stop.is_set():
            try:
                for event in self.client.events(decode=True, filters=filters):
                    if stop.is_set():
                        return
                    labels = event.get("Actor", {}).get("Attributes", {})
                    runtime, slot, name = labels.get(RUNTIME_LABEL), labels.get("codering.slot"), labels.get("name", "")
                    if runtime and slot and not name.endswith(REMOVING) and self._dead_not_removed(name):
                        log.warning("worker container %s died; replacing it", name)
                        try:
                            self.start_worker(runtime, int(slot))
                        except Exception as exc:
                            log.error("could not replace %s: %s", name, exc)
            except Exception as exc:
                log.warning("docker event stream ended (%s); reconnecting", exc)
                stop.wait(1.0)

    def wait_all_removed(self, stop: threading.Event, all_removed: Callable[[], None], every_s: float = 1.0) -> None:
        """Call `all_removed` once no container of the project is left (`codering-x down`
        removed them). A listing, not the event stream: under load a stream can miss or
        reorder an event, and `up` then never stopped."""
        while not stop.wait(every_s):
            with contextlib.suppress(Exception):  # the engine is busy or restarting: ask again
                if not self.containers():
                    all_removed()
                    return

    def _dead_not_removed(self, name: str) -> bool:
        """A container that died on its own is still there, exited; one that `down` (or
        anybody) is removing is not replaced."""
        from docker.errors import NotFound

        try:
            return self.client.containers.get(name).status in ("exited", "dead")
        except NotFound:
            return False

    # -- down and status ---------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove every container, network and volume of the project; return their names."""
        removed = []
        for container in self.containers():
            name = container.name
            # Renamed first, so that `up` (watching from elsewhere) does not take its death
            # for a crash and replace it.
            with contextlib.suppress(Exception):
                container.rename(f"{name}{REMOVING}")
            container.remove(force=True, v=True)
            removed.append(name)
        for network in self.client.networks.list(filters=self._filters()):
            network.remove()
            removed.append(network.name)
        for volume in self.client.volumes.list(filters=self._filters()):
            volume.remove(force=True)
            removed.append(volume.name)
        return removed

    def status_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(runtime, container, state, health, port) for `codering-x status`."""
        import urllib.request

        rows = []
        for c in sorted(self.containers(), key=lambda c: c.name):
            bindings = (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(WORKER_PORT) or []
            port = bindings[0]["HostPort"] if bindings else "-"
            health = "-"
            if c.status == "running" and port != "-":
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                        health = "healthy" if response.status == 200 else f"HTTP {response.status}"
                except OSError as exc:
                    health = f"unhealthy ({type(exc).__name__})"
            rows.append((c.labels.get(RUNTIME_LABEL, "?"), c.name, c.status, health, f"127.0.0.1:{port}"))
        return rows


def run_up(
    runtime_names: list[str], replicas: int, settings, build_missing: bool = True, project: str = DEFAULT_PROJECT
) -> int:
    """`codering-x up`: images, containers, then the dispatcher in the foreground."""
    from .dispatcher.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    dev = DevMode.connect(project)
    catalogue = Catalogue.load()
    runtimes = [catalogue.get(n) for n in runtime_names] if runtime_names else list(catalogue.runtimes.values())
    dev.ensure_images(runtimes, build_missing)
    containers = dev.up(runtimes, replicas)
    print(f"started {len(containers)} worker containers", flush=True)
    settings = settings.model_copy(
        update={
            "discovery": settings.discovery.model_copy(update={"kind": "docker"}),
            "runtimes": settings.runtimes or sorted(r.name for r in runtimes),
        }
    )
    stop, removed_by_down = threading.Event(), threading.Event()

    def all_removed() -> None:  # `down` from elsewhere: the dispatcher has nothing left to serve
        removed_by_down.set()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=dev.watch_workers, args=(stop,), daemon=True, name="replace-dead").start()
    threading.Thread(target=dev.wait_all_removed, args=(stop, all_removed), daemon=True, name="all-removed").start()
    try:
        aio.run(serve(settings, docker_client=dev.client, project=dev.project))
    finally:
        stop.set()
        # Ctrl+C (or SIGTERM) removes what `up` started, as `down` would; unlike compose,
        # which only stops them: a stopped worker is of no use, and its next start is cheap.
        if removed_by_down.is_set():
            print("the worker containers were removed (codering-x down): stopping", flush=True)
        else:
            print(f"stopping: removed {len(dev.down())} containers of project {dev.project}", flush=True)
    return 0
