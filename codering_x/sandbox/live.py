"""The live side of an interactive run: stdin, signals and output crossing between the
session's event loop and the thread that supervises the run.

The supervising thread sleeps in select(); the loop wakes it through a pipe (state first,
then the wake byte, so no wake is lost). Output goes the other way through a bounded
buffer: once it holds `budget` bytes the supervisor stops reading the program's pipes, so
a client that reads slowly stalls the program (its pipe fills) instead of growing our
memory, while the wall clock and the output cap still run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable

Output = tuple[str, bytes]  # ("stdout" | "stderr", bytes as the program wrote them)


class Live:
    def __init__(self, notify: Callable[[], None], budget: int = 256 << 10) -> None:
        """`notify` is called from the supervising thread when output is ready: it must only
        wake the loop (e.g. `loop.call_soon_threadsafe(event.set)`)."""
        self._notify = notify
        self.budget = budget
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stdin = bytearray()
        self._eof = False
        self._signals: list[int] = []
        self._output: deque[Output] = deque()
        self._buffered = 0

    # -- the loop's side -------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue stdin for the program (held until its run starts); ignored after `close_stdin`."""
        with self._lock:
            if self._eof:
                return
            self._stdin += data
        self._wake()

    def close_stdin(self) -> None:
        with self._lock:
            self._eof = True
        self._wake()

    def signal(self, signum: int) -> None:
        with self._lock:
            self._signals.append(signum)
        self._wake()

    @property
    def stdin_backlog(self) -> int:
        """Bytes queued that the program has not been given yet (the loop stops reading the
        client's frames past its budget)."""
        return len(self._stdin)

    def take_output(self) -> list[Output]:
        """The output so far, in order; frees the buffer, so the supervisor reads on."""
        with self._lock:
            taken, self._output, self._buffered = list(self._output), deque(), 0
        self._wake()
        return taken

    def close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the supervisor's side -------------------------------------------------------------
    def fileno(self) -> int:
        return self._wake_r

    def take_input(self, want_stdin: bool) -> tuple[bytes, bool, list[int]]:
        """What the loop sent since the last call: stdin (only when `want_stdin`, so it waits
        here, bounded, and not in the supervisor), whether stdin is closed, signals."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        with self._lock:
            data = b""
            if want_stdin and self._stdin:
                data, self._stdin = bytes(self._stdin), bytearray()
            signals, self._signals = self._signals, []
            return data, self._eof and not self._stdin, signals

    def emit(self, stream: str, chunk: bytes) -> None:
        with self._lock:
            self._output.append((stream, chunk))
            self._buffered += len(chunk)
        self._notify()

    @property
    def full(self) -> bool:
        return self._buffered >= self.budget

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wake is pending anyway
            os.write(self._wake_w, b"\0")
