"""Fault injection for a worker, for tests and benchmarks only (`codering-x worker --fault`).

Lets a real worker process misbehave the ways real ones do, so the dispatcher's hedging is
proven against them: stall (a GC pause, a noisy neighbour), answer 500, drop the
connection, or hang.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass


@dataclass
class Fault:
    kind: str  # stall | error | close | hang
    every: int = 1  # hit every Nth request (1: all)
    stall_ms: int = 0
    _count: itertools.count = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._count = itertools.count(1)

    def hits(self) -> bool:
        return next(self._count) % self.every == 0

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """`stall:MS[:EVERY]`, `error[:EVERY]`, `close[:EVERY]` or `hang[:EVERY]`."""
        kind, *args = spec.split(":")
        try:
            if kind == "stall":
                return cls("stall", every=int(args[1]) if len(args) > 1 else 1, stall_ms=int(args[0]))
            if kind in ("error", "close", "hang"):
                return cls(kind, every=int(args[0]) if args else 1)
        except (IndexError, ValueError):
            pass
        raise ValueError(f"bad fault {spec!r}: use stall:MS[:EVERY], error[:EVERY], close[:EVERY] or hang[:EVERY]")

    async def stall(self) -> None:
        await asyncio.sleep(self.stall_ms / 1000 if self.kind == "stall" else 3600)
