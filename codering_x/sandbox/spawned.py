"""A confined process started by `Box.spawn` and not yet finished: the helper's pid and
pidfd, and our ends of its pipes. Built whole by `Box.spawn`; `Box.finish` consumes it."""

from __future__ import annotations

import contextlib
import os
import select
import signal
from dataclasses import dataclass

from .limits import ProcessLimits
from .report import HelperReport


@dataclass(kw_only=True)
class Spawned:
    pid: int
    pidfd: int  # the helper's, opened at once: a pid alone could be reused
    stdin_w: int
    out_r: int
    err_r: int
    status_r: int
    limits: ProcessLimits
    spawned_at: float  # bounds the wait for the payload to start (SETUP_TIMEOUT_S)
    counters: object  # the cgroup's counters before the run (None: no cgroup)
    container_ooms: int | None  # the container's OOM kills before the run (None: cgroups count)
    child: bool  # ours to wait for; a zygote's member's helper is the zygote's child
    helpers: set[int]  # the sandbox's set of unreaped helpers
    handed_over_at: float | None = None  # a prewarmed one's run began here: its wall clock's start
    status: bytes = b""  # read from the status pipe before `finish`
    cpu_before_ms: float = 0.0  # CPU spent before the run was handed over (prewarm)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, sig)

    def exited(self, timeout: float = 0.0) -> bool:
        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def reap(self) -> int:
        """Wait for the helper to exit; its wait status (for a zygote's member, as reported)."""
        if self.child:
            try:
                return os.wait4(self.pid, 0)[1]
            except ChildProcessError:  # a sweep of its uid reaped it: its report says how it ended
                pass
            finally:
                self.helpers.discard(self.pid)
        select.select([self.pidfd], [], [])
        self.status += read_available(self.status_r)
        reported = HelperReport.parse(self.status).exit_status
        return signal.SIGKILL if reported is None else reported  # silent: it died as if killed

    def payload_pid(self) -> int | None:
        """The payload's pid, from the helper's "pid N" line (read without blocking)."""
        if b"\n" not in self.status:
            ready, _, _ = select.select([self.status_r], [], [], 0)
            if ready:
                self.status += os.read(self.status_r, 4096)
        return HelperReport.parse(self.status).payload_pid


def read_available(fd: int) -> bytes:
    """What a pipe holds now, without waiting for more."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""
