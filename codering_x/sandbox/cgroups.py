"""Per-uid cgroups, where the host lets us write them: a hard memory cap, a pids cap, and
an atomic kill of everything a run started.

One set of cgroups per sandbox uid is made once and reused, so a run pays only a few small
writes. cgroup v1 (memory, pids) and v2 (memory.max, pids.max, cgroup.kill) are both
handled; inside a default container /sys/fs/cgroup is read-only and `probe()` returns None,
and the container's own limits are the cap instead.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "codering-x"


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read_int(path: Path, key: str | None = None) -> int:
    """Read a single number, or the value of `key` from a flat keyed file; 0 if absent."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    if key is None:
        return int(text.split()[0])
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


@dataclass
class UidCgroups:
    """The cgroups of one sandbox uid. `procs_files` are what the helper joins."""

    memory: Path | None
    pids: Path | None
    unified: Path | None
    v2: bool

    @property
    def procs_files(self) -> list[Path]:
        dirs = {d for d in (self.memory, self.pids, self.unified) if d is not None}
        return sorted(d / "cgroup.procs" for d in dirs)

    def prepare(self, memory_bytes: int, pids: int) -> CgroupCounters:
        """Set this run's limits; return the counters to compare with after the run."""
        if self.memory is not None:
            if self.v2:
                _write(self.memory / "memory.max", str(memory_bytes))
                _write(self.memory / "memory.swap.max", "0")
            else:
                _write(self.memory / "memory.limit_in_bytes", str(memory_bytes))
        if self.pids is not None:
            _write(self.pids / "pids.max", str(pids))
        return self.counters()

    def counters(self) -> CgroupCounters:
        oom = 0
        if self.memory is not None:
            name = "memory.events" if self.v2 else "memory.oom_control"
            oom = _read_int(self.memory / name, "oom_kill")
        pids_max = _read_int(self.pids / "pids.events", "max") if self.pids is not None else 0
        return CgroupCounters(oom_kills=oom, pids_max_hits=pids_max)

    def kill_all(self) -> bool:
        """Kill every member atomically where cgroup.kill exists; False if it does not."""
        if self.unified is None:
            return False
        try:
            _write(self.unified / "cgroup.kill", "1")
            return True
        except OSError:
            return False


@dataclass(frozen=True)
class CgroupCounters:
    oom_kills: int
    pids_max_hits: int


def _try_write(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        _write(path, text)


def _writable_dir(path: Path) -> Path | None:
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return None
    return path if os.access(path / "cgroup.procs", os.W_OK) else None


def container_oom_kills() -> int | None:
    """The OOM-kill counter of the cgroup we run in (read-only is enough): where no cgroup
    of ours is writable, this tells a run killed by the container's memory limit from one
    killed otherwise. None where no counter is readable."""
    for path, key in ((ROOT / "memory.events", "oom_kill"), (ROOT / "memory" / "memory.oom_control", "oom_kill")):
        if path.exists():
            return _read_int(path, key)
    return None


class CgroupManager:
    """Finds which cgroup hierarchies we may write and hands out one `UidCgroups` per uid."""

    def __init__(self, memory: Path | None, pids: Path | None, unified: Path | None, v2: bool):
        self._memory, self._pids, self._unified, self._v2 = memory, pids, unified, v2

    @property
    def has_memory(self) -> bool:
        return self._memory is not None

    def describe(self) -> str:
        parts = [name for name, d in (("memory", self._memory), ("pids", self._pids), ("kill", self._unified)) if d]
        return f"cgroup {'v2' if self._v2 else 'v1'}: " + (", ".join(parts) or "none")

    def for_uid(self, uid: int) -> UidCgroups:
        def child(base: Path | None) -> Path | None:
            return _writable_dir(base / f"uid-{uid}") if base is not None else None

        return UidCgroups(child(self._memory), child(self._pids), child(self._unified), self._v2)

    @classmethod
    def probe(cls) -> CgroupManager | None:
        """Return a manager for the writable hierarchies, or None when none can be used."""
        if (ROOT / "cgroup.controllers").exists():  # pure v2
            base = _writable_dir(ROOT / GROUP)
            if base is None:
                return None
            controllers = (ROOT / "cgroup.subtree_control").read_text().split()
            for ctl in ("memory", "pids"):
                if ctl not in controllers:
                    return None
            _try_write(base / "cgroup.subtree_control", "+memory +pids")
            return cls(base, base, base, v2=True)
        memory = _writable_dir(ROOT / "memory" / GROUP) if (ROOT / "memory").is_dir() else None
        pids = _writable_dir(ROOT / "pids" / GROUP) if (ROOT / "pids").is_dir() else None
        unified = _writable_dir(ROOT / "unified" / GROUP) if (ROOT / "unified").is_dir() else None
        if unified is not None and not (unified / "cgroup.kill").exists():
            unified = None  # kernels before 5.14
        if memory is None and pids is None:
            return None
        return cls(memory, pids, unified, v2=False)
