"""What one sandboxed process may use, and what it did use."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Literal

from ..models import LimitName  # which limit stopped a process: the engine maps these onto statuses


@dataclass(frozen=True, kw_only=True)
class ProcessLimits:
    """What a request may set has no default here: the catalogue's limits are the one
    definition (`Runtime.process_limits`). The rest is the sandbox's own."""

    cpu_time_ms: int
    wall_time_ms: int
    memory_mb: int  # the hard cap: cgroup where writable, else the container's limit
    output_bytes: int  # per stream; past it the process is killed and the prefix kept
    processes: int  # threads count too (RLIMIT_NPROC is per uid)
    disk_bytes: int  # what it may write in its box, on top of what the box holds
    disk_inodes: int  # files, directories and links it may make there
    file_size_bytes: int = 16 << 20
    open_files: int = 256
    stack_mb: int = 8  # glibc sizes thread stacks from this; larger means fewer threads fit
    data_mb: int | None = None  # RLIMIT_DATA, when the runtime tolerates it (None: no rlimit)
    address_space_mb: int | None = None  # RLIMIT_AS: only for runtimes that reserve little


class Cancel:
    """A cancellation any thread can fire and a supervisor can select on: the run it is
    given to is killed at once (the loser of a hedge must stop burning CPU)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            os.write(self._write, b"x")

    def fileno(self) -> int:
        return self._read

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)

    def __enter__(self) -> Cancel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def which_limit(
    *,
    timed_out: bool,
    overflowed: bool,
    signal_number: int | None,
    cpu_ms: int,
    cpu_limit_ms: int,
    cgroup_oom: bool,
    container_oom: bool,
    pids_max_hit: bool,
    disk_full: Literal["disk", "inodes"] | None,
) -> LimitName | None:
    """Which limit ended a process, from what was observed (go-judge's convertStatus): the
    first that holds, in this order. Pure, so that a table of cases tests it."""
    if timed_out:
        return "wall"
    if overflowed:
        return "output"
    if cgroup_oom or (container_oom and signal_number == signal.SIGKILL):
        return "memory"  # in a container, its memory limit is the only hard cap
    if signal_number == signal.SIGXCPU or cpu_ms > cpu_limit_ms:
        return "cpu"
    if signal_number == signal.SIGXFSZ:
        return "file_size"
    if disk_full is not None:
        return disk_full
    if pids_max_hit:
        return "processes"
    return None


@dataclass
class ProcessResult:
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    cpu_time_ms: int
    wall_time_ms: int
    memory_kb: int
    limit: LimitName | None = None
    error: str | None = None  # the sandbox itself failed: never the learner's fault
    cancelled: bool = False  # stopped by a Cancel: nobody waits for this result

    @classmethod
    def failed(cls, message: str) -> ProcessResult:
        """The sandbox could not run or account for the process."""
        return cls.stopped(0, 0, 0, error=message)

    @classmethod
    def was_cancelled(cls, cpu_ms: int, wall_ms: int, memory_kb: int) -> ProcessResult:
        return cls.stopped(cpu_ms, wall_ms, memory_kb, cancelled=True)

    @classmethod
    def stopped(cls, cpu_ms: int, wall_ms: int, memory_kb: int, **why: object) -> ProcessResult:
        """A result with no exit and no output: the process did not get to say anything."""
        return cls(
            exit_code=None, signal=None, stdout=b"", stderr=b"", stdout_truncated=False, stderr_truncated=False,
            cpu_time_ms=cpu_ms, wall_time_ms=wall_ms, memory_kb=memory_kb, **why,
        )  # fmt: skip
