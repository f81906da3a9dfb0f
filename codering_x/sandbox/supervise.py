"""Feed stdin and read stdout/stderr of a running child, with caps and a deadline.

One selector loop, no threads: a pidfd tells us the child exited (no SIGCHLD, no pid-reuse
race), pipes are non-blocking so a child that never reads its stdin cannot deadlock us, and
we never wait for EOF while the child lives, because a daemonised grandchild may hold a pipe
open forever.
"""

from __future__ import annotations

import os
import selectors
import time
from dataclasses import dataclass, field

from .report import HelperReport

CHUNK = 65536


@dataclass
class Stream:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    seen: int = 0

    @property
    def truncated(self) -> bool:
        return self.seen > self.cap

    def take(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.seen += len(chunk)


@dataclass
class Supervision:
    exited: bool = False
    timed_out: bool = False
    overflowed: bool = False
    cancelled: bool = False
    setup_timed_out: bool = False  # the payload never started: the host's fault, not the program's
    started: float | None = None  # when the payload started: its wall time counts from here
    status: bytes = b""  # what the helper reported on its status pipe


def supervise(
    pidfd: int,
    stdin_fd: int | None,
    stdin_data: bytes,
    out_fd: int,
    err_fd: int,
    status_fd: int,
    out: Stream,
    err: Stream,
    *,
    wall_s: float,
    started: float | None,
    setup_deadline: float,
    cancel_fd: int | None = None,
) -> Supervision:
    """Run the loop until the child exits, its wall time passes or a stream overflows.

    The wall clock starts at `started`, or, when None, once the helper reports the payload's
    pid: a helper kept waiting by the kernel (a cgroup join queued behind others on a loaded
    host) does not spend the program's time. Until then `setup_deadline` bounds the wait.
    Takes ownership of `stdin_fd` (closed once written); the caller owns the others.
    """
    sup = Supervision(started=started)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    sel.register(status_fd, selectors.EVENT_READ, "status")
    if cancel_fd is not None:
        sel.register(cancel_fd, selectors.EVENT_READ, "cancel")
    for fd, stream in ((out_fd, out), (err_fd, err)):
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, stream)
    pending = memoryview(stdin_data)
    if stdin_fd is not None:
        os.set_blocking(stdin_fd, False)
        sel.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
    try:
        while not sup.exited:
            deadline = setup_deadline if sup.started is None else sup.started + wall_s
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                sup.timed_out, sup.setup_timed_out = sup.started is not None, sup.started is None
                break
            for key, _ in sel.select(timeout=remaining):
                if key.data == "exit":
                    sup.exited = True
                elif key.data == "cancel":
                    sup.cancelled = True
                elif key.data == "status":
                    chunk = os.read(status_fd, 4096)
                    sup.status += chunk
                    if not chunk:
                        sel.unregister(status_fd)
                    elif sup.started is None and HelperReport.parse(sup.status).payload_pid is not None:
                        sup.started = time.monotonic()
                elif key.data == "stdin":
                    try:
                        pending = pending[os.write(stdin_fd, pending[:CHUNK]) :]
                    except (BrokenPipeError, OSError):
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(stdin_fd)
                        os.close(stdin_fd)
                        stdin_fd = None
                else:
                    chunk = _read(key.fd)
                    if not chunk:
                        sel.unregister(key.fd)
                        continue
                    key.data.take(chunk)
                    if key.data.truncated:
                        sup.overflowed = True
            if sup.overflowed or sup.cancelled:
                break
    finally:
        sel.close()
        if stdin_fd is not None:
            os.close(stdin_fd)
    return sup


def drain(fd: int, stream: Stream) -> None:
    """Read what is left once every writer is dead; stops at EOF or when nothing is buffered."""
    while not stream.truncated:
        chunk = _read(fd)
        if not chunk:
            return
        stream.take(chunk)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return b""
