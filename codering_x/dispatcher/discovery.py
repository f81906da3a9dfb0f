"""Discovery: how the dispatcher learns which workers exist. Each kind keeps one source of
the registry current and calls `changed()` after each update; hedging never knows which."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .config import StaticWorker
from .pool import Registry, WorkerSpec


class Discovery(Protocol):
    async def run(self) -> None:
        """Keep the registry current until cancelled."""


class StaticDiscovery:
    """A fixed list of workers from the configuration file."""

    def __init__(self, workers: list[StaticWorker], registry: Registry, changed: Callable[[], None]) -> None:
        self.specs = [
            WorkerSpec(w.name or f"{w.runtime}-{i}", w.runtime, w.url.rstrip("/")) for i, w in enumerate(workers)
        ]
        self.registry, self.changed = registry, changed

    async def run(self) -> None:
        self.registry.replace("static", self.specs)
        self.changed()
