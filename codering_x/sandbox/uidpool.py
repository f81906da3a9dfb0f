"""A pool of unprivileged uids, one per concurrent run, shared by every worker on the host.

RLIMIT_NPROC counts per real uid and `kill(-1)` as a uid reaches exactly that uid's
processes, so each run needs a uid no other run holds, in this process or in another
worker's. A uid is held through an flock on its lock file (released by the kernel if the
worker dies), and is handed out only when no process of it remains, zombies included.
The lock file also says whether the last holder left the uid clean; only when it did not
(or died holding it) does the next holder pay for a scan of /proc.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .procs import processes, processes_of_uid

CLEAN, BUSY = b"clean", b"busy\n"


class UidPoolExhausted(RuntimeError):
    """Every uid is busy: more concurrent runs than the pool holds."""


class UidPool:
    def __init__(
        self, lock_dir: Path, first: int = 60000, size: int = 256, reclaim: Callable[[int], None] | None = None
    ) -> None:
        self.first, self.size = first, size
        self._reclaim = reclaim  # kills every process of a uid: for runs of a worker that died
        self._lock_dir = lock_dir
        lock_dir.mkdir(mode=0o700, exist_ok=True)
        self._held: dict[int, int] = {}  # uid -> fd of its lock file
        self._recent: list[int] = []  # uids this process released clean: tried first, no scan
        self.ever_held: set[int] = set()  # what a leak check of this pool looks at
        self._mutex = threading.Lock()

    def acquire(self, timeout: float = 30.0) -> int:
        """Take a free uid that owns no process, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            start = random.randrange(self.size)  # workers start apart: fewer collisions
            with self._mutex:
                recent = self._recent[::-1]
            for uid in recent + [self.first + (start + i) % self.size for i in range(self.size)]:
                if self._try_lock(uid):
                    fd = self._held[uid]
                    if os.pread(fd, 5, 0) == CLEAN or self._emptied(uid):
                        os.pwrite(fd, BUSY, 0)
                        with self._mutex:
                            self.ever_held.add(uid)
                            if uid in self._recent:
                                self._recent.remove(uid)
                        return uid
                    self._unlock(uid)  # a straggler of an earlier run: leave it for later
            if time.monotonic() > deadline:
                raise UidPoolExhausted(f"all {self.size} sandbox uids are busy")
            time.sleep(0.01)

    def _emptied(self, uid: int) -> bool:
        """True when `uid` owns no process, after killing what a dead holder left behind
        (we hold its lock, so no live run can own those processes)."""
        if not processes_of_uid(uid):
            return True
        if self._reclaim is not None:
            self._reclaim(uid)
            return not processes_of_uid(uid)
        return False

    def release(self, uid: int, clean: bool) -> None:
        """Give a uid back; `clean` promises that no process of it remains."""
        os.pwrite(self._held[uid], CLEAN if clean else BUSY, 0)
        self._unlock(uid)
        if clean:
            with self._mutex:
                self._recent.append(uid)

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.first <= uid < self.first + self.size

    @contextlib.contextmanager
    def abandoned(self, uid: int) -> Iterator[bool]:
        """Yield True, holding `uid` with none of its processes left, if no one held it (its
        holder died), else False; its state stays as it was. For removing what it left."""
        held = self._try_lock(uid)
        try:
            if held and self._reclaim is not None:
                self._reclaim(uid)
            yield held
        finally:
            if held:
                self._unlock(uid)

    def leftovers(self) -> dict[int, list[int]]:
        """Live processes of the uids this pool has held that no run holds now (in any
        worker): a leak if not empty. Only its own: another instance on the host may hold
        the others. Zombies are not counted: they are dead, and their adopter reaps them."""
        found: dict[int, list[int]] = {}
        for proc in processes():
            if proc.uid in self.ever_held and not proc.zombie:
                found.setdefault(proc.uid, []).append(proc.pid)
        for uid in list(found):
            if self._try_lock(uid):
                self._unlock(uid)
            else:
                del found[uid]
        return found

    def _try_lock(self, uid: int) -> bool:
        with self._mutex:
            if uid in self._held:
                return False
            fd = os.open(self._lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._held[uid] = fd
            return True

    def _unlock(self, uid: int) -> None:
        with self._mutex:
            fd = self._held.pop(uid)
        os.close(fd)
