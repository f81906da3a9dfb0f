"""Prewarmed sandboxes: each stage's confined process started before its request arrives.

A pool member is a fully confined process (its own uid, work dir, rlimits, cgroup, Landlock
and seccomp, all applied at spawn) for one stage (compile or run) of one runtime, blocked
on stdin for its request. A stage with a bootstrap (Command.prewarm) runs it meanwhile: an
interpreter that has started (python, node, ...), or a compiler that has loaded and run
once (javac); it is then handed the entry and the arguments, or the stage's argv. A stage
without one still skips the sandbox's set-up: the helper has confined the process, which
waits for the stage's argv and execs it (`sbexec -A`). A request takes a member, writes its
files into the member's work dir and hands it over. Each member serves exactly one stage of
one request and dies with it, so no state passes between learners. A background thread
refills the pool at normal priority: members started at SCHED_IDLE were starved while
holding the kernel's cgroup fork lock, and every run's cgroup join queued behind them
(seconds, under load). A stage that cannot use a member (other limits, pool empty) starts
cold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .catalogue import BOOTSTRAP_FILE, WORKDIR_MARK, Catalogue, Runtime, Stage, bootstrap_source
from .sandbox import Box, Cancel, Live, ProcessLimits, ProcessResult, Sandbox, Spawned, Zygote

log = logging.getLogger("codering_x.warmpool")

MAX_AGE_S = 300.0  # a member older than this is replaced: nothing should wait forever
RETRY_S = 1.0  # after a failed spawn, before trying again

Slot = tuple[str, Stage]  # (runtime, stage): what a member serves


@dataclass
class Member:
    slot: Slot
    box: Box
    spawned: Spawned
    born: float

    def waiting(self) -> bool:
        """Has it finished starting, and does one of its threads now wait in read(0) for
        its request? (A JVM reads in a thread other than its first.)"""
        payload = self.spawned.payload_pid()
        if payload is None:
            return False
        try:
            for task in os.listdir(f"/proc/{payload}/task"):
                with open(f"/proc/{payload}/task/{task}/syscall") as f:
                    if f.read().startswith("0 0x0 "):  # read(2) on fd 0
                        return True
        except OSError:
            pass
        return False

    def alive(self) -> bool:
        return not self.spawned.exited()

    def run(
        self,
        files: Iterable[tuple[str, bytes, int]],
        fields: list[str],
        stdin: bytes,
        cancel: Cancel | None,
        live: Live | None = None,
    ) -> ProcessResult | None:
        """Serve one stage: write its files, hand the member over (the clocks start now),
        feed it its header (`fields`: the entry and the arguments for an interpreter, else
        the stage's argv) and stdin, and collect what it did. None if it turned out dead:
        the caller runs cold. The caller then retires it (`with member:`), after copying
        out what it needs of the work dir."""
        for name, data, mode in files:
            self.box.write_file(name, data, mode)
        if not self.box.hand_over(self.spawned):
            self.box.discard(self.spawned)
            return None
        return self.box.finish(self.spawned, _header(fields) + stdin, cancel, live)

    def __enter__(self) -> Member:
        return self

    def __exit__(self, *exc: object) -> None:
        self.box.retire()

    def drop(self) -> None:
        """Kill it (and anything of its uid), remove its work dir, return its uid."""
        self.box.discard(self.spawned)
        self.box.close()


class WarmPool:
    def __init__(
        self, sandbox: Sandbox, catalogue: Catalogue, sizes: dict[Slot, int], limits: dict[Slot, ProcessLimits]
    ) -> None:
        """`sizes[slot]` members for each slot of `limits` ((runtime, stage) → the limits its
        members are confined with: a request with other limits starts that stage cold)."""
        self.sandbox = sandbox
        self.sizes = sizes
        self.limits = limits
        self.runtimes: dict[str, Runtime] = {name: catalogue.get(name) for name, _ in limits}
        self.members: dict[Slot, deque[Member]] = {slot: deque() for slot in limits}
        self.zygotes: dict[Slot, Zygote] = {}
        self.hits = self.misses = 0
        self._lent: Counter[Slot] = Counter()  # taken by a request that has not ended yet
        self._failed_at = -RETRY_S
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._refill_loop, name="warmpool", daemon=True)
        self._thread.start()

    def take(self, runtime: Runtime, stage: Stage, limits: ProcessLimits, entry: str) -> Member | None:
        """A live member for this stage of a request, or None (start cold). The caller owns it."""
        slot = (runtime.name, stage)
        if slot not in self.members or not self._fits(runtime, stage, entry):
            return None
        # The wall clock is the supervisor's (no member is confined by it): any fits.
        if replace(limits, wall_time_ms=0) != replace(self.limits[slot], wall_time_ms=0):
            return None
        member = None
        with self._lock:
            queue = self.members[slot]
            # A member still starting would make this run wait for it: take one that waits.
            member = next((m for m in queue if m.alive() and m.waiting()), None)
            if member is not None:
                queue.remove(member)
            if member is None:
                self.misses += 1
            else:
                self.hits += 1
                self._lent[slot] += 1
        if member is not None:
            member.spawned.limits = limits
        return member

    def refill(self, taken: list[Slot]) -> None:
        """Replace the members a request took, once it has its answer: a JVM starting
        beside its compile or run would take a core from it."""
        with self._lock:
            for slot in taken:
                self._lent[slot] -= 1
        self._wake.set()

    def ready(self) -> dict[Slot, int]:
        """Members waiting for a request, per slot (those still starting not counted)."""
        with self._lock:
            return {slot: sum(m.alive() and m.waiting() for m in queue) for slot, queue in self.members.items()}

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

    @staticmethod
    def _fits(runtime: Runtime, stage: Stage, entry: str) -> bool:
        """Members start with the environment of the runtime's usual entry. Another entry
        fits one that is handed an argv (built for that entry), unless the environment
        names the entry; a bootstrap handed the entry has been proved with the usual one."""
        command = runtime.stage(stage)
        assert command is not None
        if entry == runtime.entry:
            return True
        if command.interpreted:
            return False
        usual = runtime.environment(command, runtime.entry, WORKDIR_MARK, 0)
        return runtime.environment(command, entry, WORKDIR_MARK, 0) == usual

    # -- refilling -----------------------------------------------------------------------
    def _refill_loop(self) -> None:
        while not self._closed:
            self._wake.wait(timeout=RETRY_S)
            self._wake.clear()
            for slot in self.members:
                self._expire(slot)
                while not self._closed and self._count(slot) < self.sizes[slot]:
                    if time.monotonic() - self._failed_at < RETRY_S:
                        break  # a spawn just failed: do not spin on it
                    member = self._spawn(slot)
                    if member is None:
                        self._failed_at = time.monotonic()
                        break
                    with self._lock:
                        self.members[slot].append(member)

    def _count(self, slot: Slot) -> int:
        with self._lock:
            return len(self.members[slot]) + self._lent[slot]

    def _expire(self, slot: Slot) -> None:
        now = time.monotonic()
        with self._lock:
            queue = self.members[slot]
            old = [m for m in queue if now - m.born > MAX_AGE_S or not m.alive()]
            for member in old:
                queue.remove(member)
        for member in old:
            member.drop()

    def _spawn(self, slot: Slot) -> Member | None:
        runtime = self.runtimes[slot[0]]
        command = runtime.stage(slot[1])
        assert command is not None
        prewarm = command.prewarm
        zygote = self._zygote(slot) if prewarm is not None and prewarm.zygote else None
        try:
            box = self.sandbox.box()
            if prewarm is not None and "{bootstrap_file}" in prewarm.argv:
                box.write_file(BOOTSTRAP_FILE.format(prewarm.bootstrap), bootstrap_source(prewarm.bootstrap).encode())
        except Exception as exc:  # the uid pool is exhausted or the disk is full: retry later
            log.warning("cannot prewarm %s %s: %s", *slot, exc)
            return None
        argv, env = self._command(slot, str(box.workdir))
        spawned = box.spawn(argv, env, self.limits[slot], prewarmed=True, zygote=zygote)
        if not isinstance(spawned, Spawned):
            log.warning("cannot prewarm %s %s: %s", *slot, spawned.error)
            if zygote is not None:
                self.zygotes.pop(slot).close()  # a new one next time
            with contextlib.suppress(Exception):
                box.close()
            return None
        return Member(slot, box, spawned, time.monotonic())

    def _zygote(self, slot: Slot) -> Zygote:
        """The slot's zygote, started (again) when needed. It is our code only and never
        runs a learner's program, so it runs as root, with the members' environment."""
        zygote = self.zygotes.get(slot)
        if zygote is None or not zygote.alive():
            argv, env = self._command(slot, "/")
            assert argv is not None
            zygote = self.zygotes[slot] = Zygote(argv, env, library=self.sandbox.library)
        return zygote

    def _command(self, slot: Slot, workdir: str) -> tuple[list[str] | None, dict[str, str]]:
        """The bootstrap's argv (None: the member execs the argv it is handed), and the
        environment of the stage in `workdir` (a zygote's members set their own HOME and
        TMPDIR)."""
        runtime = self.runtimes[slot[0]]
        command = runtime.stage(slot[1])
        assert command is not None
        memory_mb = self.limits[slot].memory_mb
        env = runtime.environment(command, runtime.entry, workdir, memory_mb)
        if command.prewarm is None:
            return None, env
        return runtime.expand(command.prewarm, runtime.entry, [runtime.entry], workdir, memory_mb), env


def _header(fields: list[str]) -> bytes:
    """What a member reads first on stdin: "<length>\\n", then `fields` (the entry and the
    arguments, or an argv) joined by NUL. The program's own stdin follows it."""
    joined = b"\0".join(os.fsencode(field) for field in fields)
    return b"%d\n" % len(joined) + joined
