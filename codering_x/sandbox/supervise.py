"""Feed stdin and read stdout/stderr of a running child, with caps and a deadline.

One selector loop, no threads: a pidfd tells us the child exited (no SIGCHLD, no pid-reuse
race), pipes are non-blocking so a child that never reads its stdin cannot deadlock us, and
we never wait for EOF while the child lives, because a daemonised grandchild may hold a pipe
open forever.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .live import Live
from .report import HelperReport

CHUNK = 65536


EDGE = 2048  # of a live stream, the first and last bytes are kept: what a verdict reads (an OOM message)


@dataclass
class Stream:
    """One output stream, capped: kept in `data`, or, live, handed to `sink` as it comes
    (then `data` keeps only its first and last EDGE bytes)."""

    cap: int
    sink: Callable[[bytes], None] | None = None
    data: bytearray = field(default_factory=bytearray)
    kept: int = 0
    seen: int = 0

    @property
    def truncated(self) -> bool:
        return self.seen > self.cap

    def take(self, chunk: bytes) -> None:
        room = self.cap - self.kept
        if room > 0:
            part = chunk[:room]
            self.data += part
            if self.sink is not None:
                self.sink(part)
                if len(self.data) > 2 * EDGE:
                    del self.data[EDGE:-EDGE]
            self.kept += len(part)
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
    live: Live | None = None,
    status_known: bytes = b"",
) -> Supervision:
    """Run the loop until the child exits, its wall time passes or a stream overflows.

    The wall clock starts at `started`, or, when None, once the helper reports the payload's
    pid: a helper kept waiting by the kernel (a cgroup join queued behind others on a loaded
    host) does not spend the program's time. Until then `setup_deadline` bounds the wait.
    `live`: after `stdin_data`, stdin comes from the session as it is typed, stdin closes
    when it says so, its signals go to the payload (its pid from the helper's report, of
    which `status_known` was read before), and the output streams wait while it is full.
    Takes ownership of `stdin_fd` (closed once written); the caller owns the others.
    """
    sup = Supervision(started=started)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    sel.register(status_fd, selectors.EVENT_READ, "status")
    if cancel_fd is not None:
        sel.register(cancel_fd, selectors.EVENT_READ, "cancel")
    reading = {out_fd: out, err_fd: err}  # open output pipes
    for fd, stream in reading.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, stream)
    paused = False  # live output is full: its pipes are not read until the session takes it
    pending = memoryview(stdin_data)
    eof = live is None  # no more stdin will come than `pending`
    writing = False
    signals: list[int] = []
    payload_fd: int | None = None
    if stdin_fd is not None:
        os.set_blocking(stdin_fd, False)
    if live is not None:
        sel.register(live.fileno(), selectors.EVENT_READ, "live")
    try:
        while not sup.exited:
            if live is not None:
                data, eof, new_signals = live.take_input(want_stdin=not pending)
                pending = memoryview(data) if data else pending
                signals += new_signals
                if payload_fd is None:  # opened as soon as it is known: its pid cannot be reused then
                    payload_fd = _payload_fd(status_known + sup.status)
                while signals and payload_fd is not None:
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(payload_fd, signals.pop(0))
                if live.full != paused:
                    paused = live.full
                    for fd, stream in reading.items():
                        if paused:
                            sel.unregister(fd)
                        else:
                            sel.register(fd, selectors.EVENT_READ, stream)
            if stdin_fd is not None and bool(pending) != writing:
                writing = bool(pending)
                if writing:
                    sel.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
                else:
                    sel.unregister(stdin_fd)
            if stdin_fd is not None and not pending and eof:
                os.close(stdin_fd)
                stdin_fd = None
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
                elif key.data == "live":
                    pass  # read at the top of the loop
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
                    except (BrokenPipeError, OSError):  # the program closed its stdin: the rest is dropped
                        pending, eof = pending[:0], True
                        if live is not None:
                            live.close_stdin()
                else:
                    chunk = _read(key.fd)
                    if not chunk:
                        sel.unregister(key.fd)
                        del reading[key.fd]
                        continue
                    key.data.take(chunk)
                    if key.data.truncated:
                        sup.overflowed = True
            if sup.overflowed or sup.cancelled:
                break
    finally:
        sel.close()
        for fd in (stdin_fd, payload_fd):
            if fd is not None:
                os.close(fd)
    return sup


def _payload_fd(status: bytes) -> int | None:
    """A pidfd of the payload, once the helper has reported it (then its pid cannot be
    reused while we hold the fd); None before it started, or once it is gone."""
    pid = HelperReport.parse(status).payload_pid
    if pid is None:
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


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
