"""Discovery: how the dispatcher learns which workers exist. Each kind keeps one source of
the registry current and calls `changed()` after each update; hedging never knows which.

`create` is the one place that maps `discovery.kind` to a class. Docker and Kubernetes are
imported only when chosen: their client libraries are optional, heavy dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .config import Settings, StaticWorker
from .local_discovery import LocalDiscovery
from .pool import Registry, WorkerSpec

if TYPE_CHECKING:
    from docker import DockerClient

DEFAULT_PROJECT = "codering-x"  # the docker mode's project label (`codering-x up --project`)


class Discovery(Protocol):
    """What the server needs of every kind: its runtimes, a loop, and a clean stop."""

    def expected_runtimes(self) -> list[str]:
        """The runtimes this discovery means to find, known before any worker is (empty:
        it cannot tell). /readyz waits for them unless the settings name runtimes."""
        ...

    async def run(self) -> None:
        """Keep the registry current until cancelled."""
        ...

    async def stop(self) -> None:
        """Release what cancelling `run` would not release cleanly; called before that."""
        ...


class StaticDiscovery:
    """A fixed list of workers from the configuration file."""

    def __init__(self, workers: list[StaticWorker], registry: Registry, changed: Callable[[], None]) -> None:
        self.specs = [
            WorkerSpec(w.name or f"{w.runtime}-{i}", w.runtime, w.url.rstrip("/")) for i, w in enumerate(workers)
        ]
        self.registry, self.changed = registry, changed

    def expected_runtimes(self) -> list[str]:
        return sorted({spec.runtime for spec in self.specs})

    async def run(self) -> None:
        self.registry.replace("static", self.specs)
        self.changed()

    async def stop(self) -> None:
        """Nothing to release: the list is published once."""


def create(
    settings: Settings,
    registry: Registry,
    changed: Callable[[], None],
    docker_client: DockerClient | None = None,
    project: str = DEFAULT_PROJECT,
) -> Discovery:
    """The discovery `settings.discovery.kind` names, feeding `registry` and calling `changed`.

    `docker_client` and `project` matter only for `docker` (the dev mode passes its own client).
    """
    kind = settings.discovery.kind
    if kind == "local":
        return LocalDiscovery.from_settings(settings.embedded, registry, changed)
    if kind == "static":
        return StaticDiscovery(settings.discovery.static, registry, changed)
    if kind == "docker":
        from ..images import docker_client as connect
        from .docker_discovery import DockerDiscovery

        return DockerDiscovery(docker_client or connect(), project, registry, changed)
    from .kubernetes_discovery import KubernetesDiscovery, api_client_from

    k8s = settings.discovery.kubernetes
    return KubernetesDiscovery(
        api_client_from(k8s.api_url), k8s.namespace, k8s.runtimes, k8s.function_prefix,
        registry, changed, k8s.watch_timeout_s,
    )  # fmt: skip
