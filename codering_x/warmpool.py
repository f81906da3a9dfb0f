"""Prewarmed sandboxes: interpreters started before their run arrives.

For an interpreted runtime most of a hello world's latency is the interpreter starting. A
pool member is a fully confined process (its own uid, work dir, rlimits, cgroup, Landlock
and seccomp, all applied at spawn) running the runtime's bootstrap, which blocks on stdin
for its run. A request takes one, writes its files into the member's work dir, and hands
it the entry name, the arguments and stdin. Each member serves exactly one run and dies
with it, so no state passes between learners. A background thread refills the pool at
normal priority: members started at SCHED_IDLE were starved while holding the kernel's
cgroup fork lock, and every run's cgroup join queued behind them (seconds, under load).
A request that cannot use a member (other limits, pool empty) starts cold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

from .catalogue import Catalogue, Runtime
from .sandbox import Box, Cancel, ProcessLimits, ProcessResult, Sandbox, Spawned, Zygote

log = logging.getLogger("codering_x.warmpool")

MAX_AGE_S = 300.0  # a member older than this is replaced: nothing should wait forever
RETRY_S = 1.0  # after a failed spawn, before trying again


@dataclass
class Member:
    runtime: str
    box: Box
    spawned: Spawned
    born: float

    def waiting(self) -> bool:
        """Has its bootstrap finished starting, and does it now wait in read(0) for its run?"""
        payload = self.spawned.payload_pid()
        if payload is None:
            return False
        try:
            with open(f"/proc/{payload}/syscall") as f:
                return f.read().startswith("0 0x0 ")  # read(2) on fd 0
        except OSError:
            return False

    def alive(self) -> bool:
        return not self.spawned.exited()

    def run(
        self, files: list[tuple[str, bytes]], entry: str, args: list[str], stdin: bytes, cancel: Cancel | None
    ) -> ProcessResult | None:
        """Serve one run: write its files, hand the bootstrap over (the run's clocks start
        now), feed it the entry, the arguments and stdin, and collect what it did. None if
        the member turned out dead: the caller runs cold. Either way the member is used up."""
        try:
            for name, data in files:
                self.box.write_file(name, data)
            if not self.box.hand_over(self.spawned):
                self.box.discard(self.spawned)
                return None
            return self.box.finish(self.spawned, _header(entry, args) + stdin, cancel)
        finally:
            self.box.retire()

    def drop(self) -> None:
        """Kill it (and anything of its uid), remove its work dir, return its uid."""
        self.box.discard(self.spawned)
        self.box.close()


class WarmPool:
    def __init__(self, sandbox: Sandbox, catalogue: Catalogue, size: int, limits: dict[str, ProcessLimits]) -> None:
        """`size` members for each runtime of `limits` (runtime name → the limits its
        members are confined with: a request with other limits starts cold)."""
        self.sandbox = sandbox
        self.size = size
        self.limits = limits
        self.runtimes: dict[str, Runtime] = {name: catalogue.get(name) for name in limits}
        self.members: dict[str, deque[Member]] = {name: deque() for name in limits}
        self.zygotes: dict[str, Zygote] = {}
        self.hits = self.misses = 0
        self._failed_at = -RETRY_S
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._refill_loop, name="warmpool", daemon=True)
        self._thread.start()

    def take(self, runtime: Runtime, limits: ProcessLimits, entry: str) -> Member | None:
        """A live member for this run, or None (start cold). The caller owns it."""
        if runtime.name not in self.members or limits != self.limits[runtime.name] or entry != runtime.entry:
            return None
        member = None
        with self._lock:
            queue = self.members[runtime.name]
            # A member still starting would make this run wait for it: take one that waits.
            member = next((m for m in queue if m.alive() and m.waiting()), None)
            if member is not None:
                queue.remove(member)
            if member is None:
                self.misses += 1
            else:
                self.hits += 1
        self._wake.set()
        return member

    def ready(self) -> dict[str, int]:
        """Members waiting for a run, per runtime (those still starting not counted)."""
        with self._lock:
            return {name: sum(m.alive() and m.waiting() for m in queue) for name, queue in self.members.items()}

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        with self._lock:
            members = [m for queue in self.members.values() for m in queue]
            for queue in self.members.values():
                queue.clear()
        for member in members:
            member.drop()
        for zygote in self.zygotes.values():
            zygote.close()

    # -- refilling -----------------------------------------------------------------------
    def _refill_loop(self) -> None:
        while not self._closed:
            self._wake.wait(timeout=RETRY_S)
            self._wake.clear()
            for name in self.members:
                self._expire(name)
                while not self._closed and self._count(name) < self.size:
                    if time.monotonic() - self._failed_at < RETRY_S:
                        break  # a spawn just failed: do not spin on it
                    member = self._spawn(self.runtimes[name])
                    if member is None:
                        self._failed_at = time.monotonic()
                        break
                    with self._lock:
                        self.members[name].append(member)

    def _count(self, name: str) -> int:
        with self._lock:
            return len(self.members[name])

    def _expire(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            queue = self.members[name]
            old = [m for m in queue if now - m.born > MAX_AGE_S or not m.alive()]
            for member in old:
                queue.remove(member)
        for member in old:
            member.drop()

    def _spawn(self, runtime: Runtime) -> Member | None:
        limits = self.limits[runtime.name]
        assert runtime.prewarm is not None
        zygote = self._zygote(runtime) if runtime.prewarm.zygote else None
        try:
            box = self.sandbox.box()
        except Exception as exc:  # the uid pool is exhausted or the disk is full: retry later
            log.warning("cannot prewarm %s: %s", runtime.name, exc)
            return None
        argv, env = self._command(runtime, str(box.workdir))
        spawned = box.spawn(argv, env, limits, prewarmed=True, zygote=zygote)
        if not isinstance(spawned, Spawned):
            log.warning("cannot prewarm %s: %s", runtime.name, spawned.error)
            if zygote is not None:
                self.zygotes.pop(runtime.name).close()  # a new one next time
            with contextlib.suppress(Exception):
                box.close()
            return None
        return Member(runtime.name, box, spawned, time.monotonic())

    def _zygote(self, runtime: Runtime) -> Zygote:
        """The runtime's zygote, started (again) when needed. It is our code only and never
        runs a learner's program, so it runs as root, with the members' environment."""
        zygote = self.zygotes.get(runtime.name)
        if zygote is None or not zygote.alive():
            zygote = self.zygotes[runtime.name] = Zygote(*self._command(runtime, "/"), library=self.sandbox.library)
        return zygote

    def _command(self, runtime: Runtime, workdir: str) -> tuple[list[str], dict[str, str]]:
        """The bootstrap's argv, and the environment of a run in `workdir` (a zygote's
        members set their own HOME and TMPDIR)."""
        assert runtime.prewarm is not None
        memory_mb = self.limits[runtime.name].memory_mb
        argv = runtime.expand(runtime.prewarm, runtime.entry, [runtime.entry], workdir, memory_mb)
        return argv, runtime.environment(runtime.run, runtime.entry, workdir, memory_mb)


def _header(entry: str, args: list[str]) -> bytes:
    """What a bootstrap reads first on stdin: "<length>\\n", then the entry and the
    arguments joined by NUL. The program's own stdin follows it."""
    fields = b"\0".join(os.fsencode(field) for field in [entry, *args])
    return b"%d\n" % len(fields) + fields
