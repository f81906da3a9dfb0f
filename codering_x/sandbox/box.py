"""A box: one uid and one work dir, holding one request's compile and run stages.

Lifecycle (after Piston's job): files are written while nothing untrusted runs, each
stage is one confined process, every process of the uid is killed after each stage, and
closing the box removes the work dir without following links and returns the uid.

(About 320 lines: spawn, hand-over and finish share the pipes and the helper's protocol;
split apart, each would reach into the others' state.)
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import select
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cgroups import container_oom_kills
from .limits import Cancel, LimitName, ProcessLimits, ProcessResult, which_limit
from .live import Live
from .procs import processes_of_uid
from .report import HelperReport
from .spawned import Spawned, read_available
from .supervise import Stream, Supervision, drain, supervise
from .zygote import Zygote, ZygoteError

if TYPE_CHECKING:
    from .sandbox import Sandbox

MIB = 1 << 20
STOP_GRACE_S = 0.5  # how long the helper may take to kill a run and report
# How long the helper may take to start a payload (its cgroup join can queue behind others
# on a loaded host). Past it the run fails as ours, an internal error the dispatcher retries.
SETUP_TIMEOUT_S = 20.0


class Box:
    def __init__(self, sandbox: Sandbox, uid: int, workdir: Path) -> None:
        self.sandbox = sandbox
        self.uid = uid
        self.workdir = workdir
        self.cgroups = sandbox.cgroups.for_uid(uid) if sandbox.cgroups else None
        self._ran = False
        self._dirty = False  # a process of the uid may have outlived the last stage

    # -- files -------------------------------------------------------------------------
    def write_file(self, name: str, content: bytes, mode: int = 0o644) -> None:
        """Write an input file. Only allowed before the first stage ran: afterwards the
        directory is the learner's, and a planted symlink could redirect our write."""
        if self._ran:
            raise RuntimeError("files are written only before untrusted code runs")
        path = self.workdir / name
        if path.parent != self.workdir:  # (a mkdir of the existing dir costs a lock on its parent)
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            os.write(fd, content)
            os.fchown(fd, self.uid, self.uid)
        finally:
            os.close(fd)
        for parent in path.relative_to(self.workdir).parents:
            if str(parent) != ".":
                os.chown(self.workdir / parent, self.uid, self.uid, follow_symlinks=False)

    # -- running -----------------------------------------------------------------------
    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        limits: ProcessLimits,
        stdin: bytes = b"",
        cancel: Cancel | None = None,
        live: Live | None = None,
    ) -> ProcessResult:
        """Run one confined process in the box and return what it did."""
        spawned = self.spawn(argv, env, limits)
        if isinstance(spawned, ProcessResult):
            return spawned
        return self.finish(spawned, stdin, cancel, live)

    def spawn(
        self,
        argv: list[str] | None,
        env: dict[str, str],
        limits: ProcessLimits,
        prewarmed: bool = False,
        zygote: Zygote | None = None,
    ) -> Spawned | ProcessResult:
        """Start one confined process; `finish` feeds it and collects its result.
        `prewarmed`: it runs our bootstrap until `hand_over`, so files may still be written;
        with `argv` None it waits, confined, for the argv it then execs (`sbexec -A`). With a
        `zygote`, the process is a fork of it (`argv` is then unused) instead of an exec."""
        self._ran = not prewarmed
        counters = None
        container_ooms = container_oom_kills() if self.cgroups is None else None
        try:
            self.sandbox.storage.bound(self.workdir, limits.disk_bytes, limits.disk_inodes)
        except OSError as exc:
            return ProcessResult.failed(f"cannot bound the box's disk: {exc}")
        if self.cgroups is not None:
            # + 1 for the helper; the cgroup's pids cap fires before RLIMIT_NPROC, so it is counted
            counters = self.cgroups.prepare(limits.memory_mb * MIB, limits.processes + 1)
        helper_argv = self._helper_argv(argv, limits)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        st_r, st_w = os.pipe()
        actions = [
            (os.POSIX_SPAWN_DUP2, in_r, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
            (os.POSIX_SPAWN_DUP2, st_w, 3),
        ]
        started = time.monotonic()
        try:
            if zygote is None:
                with self.sandbox.helpers_lock:  # registered before the orphan reaper can see it
                    pid = os.posix_spawn(str(self.sandbox.helper), helper_argv, env, file_actions=actions)
                    self.sandbox.helpers.add(pid)
            else:
                pid = zygote.fork(helper_argv[1:], (in_r, out_w, err_w, st_w), env["HOME"])
            pidfd = os.pidfd_open(pid)  # ESRCH if it died at once: then the spawn failed
        except (OSError, ZygoteError) as exc:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w, st_r, st_w):
                os.close(fd)
            return ProcessResult.failed(f"cannot start the sandbox helper: {exc}")
        for fd in (in_r, out_w, err_w, st_w):
            os.close(fd)
        return Spawned(
            pid=pid, pidfd=pidfd, stdin_w=in_w, out_r=out_r, err_r=err_r, status_r=st_r, limits=limits,
            spawned_at=started, counters=counters, container_ooms=container_ooms,
            child=zygote is None, helpers=self.sandbox.helpers,
        )  # fmt: skip

    def hand_over(self, spawned: Spawned) -> bool:
        """Make a prewarmed process's run start now: its files are written, and its CPU
        time and wall time so far stop counting. False if it died."""
        self._ran = True
        end = time.monotonic() + 1.0
        while (payload := spawned.payload_pid()) is None and time.monotonic() < end:
            select.select([spawned.status_r], [], [], max(0.0, end - time.monotonic()))
        report = HelperReport.parse(spawned.status)  # the bootstrap must still be waiting
        if payload is None or spawned.exited() or report.failure or report.finished:
            return False
        try:
            spawned.cpu_before_ms = cpu_time_ms(payload)  # the bootstrap's start: not the run's
        except (OSError, ValueError, IndexError):
            return False
        spawned.handed_over_at = time.monotonic()
        return True

    def finish(
        self, spawned: Spawned, stdin: bytes = b"", cancel: Cancel | None = None, live: Live | None = None
    ) -> ProcessResult:
        """Feed a spawned process its stdin, supervise it to its end, and say what it did.
        `live`: an interactive run: after `stdin`, its stdin, signals and output are the
        session's (the result then holds no output: it was streamed)."""
        limits, in_w = spawned.limits, spawned.stdin_w
        out_r, err_r, st_r = spawned.out_r, spawned.err_r, spawned.status_r
        sinks = (
            (functools.partial(live.emit, "stdout"), functools.partial(live.emit, "stderr")) if live else (None,) * 2
        )
        out, err = Stream(limits.output_bytes, sinks[0]), Stream(limits.output_bytes, sinks[1])
        feeds = bool(stdin) or live is not None
        try:
            sup = supervise(
                spawned.pidfd, in_w if feeds else None, stdin, out_r, err_r, st_r, out, err,
                wall_s=limits.wall_time_ms / 1000,
                started=spawned.handed_over_at,  # else the clock starts when the payload does
                setup_deadline=spawned.spawned_at + SETUP_TIMEOUT_S,
                cancel_fd=cancel.fileno() if cancel is not None else None,
                live=live, status_known=spawned.status,
            )  # fmt: skip
            if not feeds:
                os.close(in_w)
            if not sup.exited:
                # Ask the helper to kill the run and report its usage (through its pidfd: its
                # pid cannot have been reused).
                spawned.signal(signal.SIGTERM)
                if not spawned.exited(STOP_GRACE_S):
                    spawned.signal(signal.SIGKILL)
            spawned.status += sup.status
            wstatus = spawned.reap()
            wall_ms = 0 if sup.started is None else round((time.monotonic() - sup.started) * 1000)
            report = HelperReport.parse(spawned.status + read_available(st_r))
            # A usage report means the helper killed and reaped every process of the run
            # before exiting; without one (the helper itself was killed), sweep the uid.
            clean = report.finished or self.kill_all()
            self._dirty = not clean
            drain(out_r, out)
            drain(err_r, err)
        finally:
            for fd in (out_r, err_r, st_r, spawned.pidfd):
                os.close(fd)
        if report.failure:
            return ProcessResult.failed(report.failure)
        if not clean:
            return ProcessResult.failed(f"processes of uid {self.uid} survived the kill")
        if sup.setup_timed_out:
            return ProcessResult.failed(f"the sandbox could not start the run within {SETUP_TIMEOUT_S:.0f} s")
        cpu_ms = max(0, (report.cpu_ms or 0) - round(spawned.cpu_before_ms))
        if sup.cancelled:
            return ProcessResult.was_cancelled(cpu_ms, wall_ms, report.memory_kb)
        exit_code = os.waitstatus_to_exitcode(wstatus)
        sig = -exit_code if exit_code < 0 else None
        limit = self._which_limit(spawned, sup, sig, cpu_ms, failed=exit_code != 0)
        if limit in ("wall", "output"):
            sig = None if sig in (signal.SIGTERM, signal.SIGKILL) else sig  # our stop, not the program's death
        return ProcessResult(
            exit_code=None if exit_code < 0 else exit_code,  # killed: no exit code (`signal` says by what)
            signal=sig,
            stdout=bytes(out.data),
            stderr=bytes(err.data),
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
            cpu_time_ms=cpu_ms,
            wall_time_ms=wall_ms,
            memory_kb=report.memory_kb,
            limit=limit,
        )

    def _which_limit(
        self, spawned: Spawned, sup: Supervision, sig: int | None, cpu_ms: int, failed: bool
    ) -> LimitName | None:
        """Gather what the kernel counted during the run, and let `which_limit` decide."""
        before = spawned.counters
        after = self.cgroups.counters() if self.cgroups is not None else None
        counted = before is not None and after is not None
        ooms_before = spawned.container_ooms
        container_oom = (  # read only when it could matter: a SIGKILL in a container
            sig == signal.SIGKILL and ooms_before is not None and (container_oom_kills() or 0) > ooms_before
        )
        return which_limit(
            timed_out=sup.timed_out,
            overflowed=sup.overflowed,
            signal_number=sig,
            cpu_ms=cpu_ms,
            cpu_limit_ms=spawned.limits.cpu_time_ms,
            cgroup_oom=counted and after.oom_kills > before.oom_kills,
            container_oom=container_oom,
            pids_max_hit=counted and after.pids_max_hits > before.pids_max_hits,
            disk_full=self.sandbox.storage.exhausted(self.workdir, failed=failed),
        )

    def discard(self, spawned: Spawned) -> None:
        """Stop a spawned process that will not get a run (a prewarmed one, dropped)."""
        spawned.signal(signal.SIGTERM)
        if not spawned.exited(STOP_GRACE_S):
            spawned.signal(signal.SIGKILL)
        spawned.reap()
        for fd in (spawned.stdin_w, spawned.out_r, spawned.err_r, spawned.status_r, spawned.pidfd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dirty = True  # the helper's own sweep is not awaited: sweep on close

    def _helper_argv(self, argv: list[str] | None, limits: ProcessLimits) -> list[str]:
        sb = self.sandbox
        cpu_s = max(1, math.ceil(limits.cpu_time_ms / 1000))
        rl = {
            "cpu": (cpu_s, cpu_s + 1),
            "stack": (limits.stack_mb * MIB,) * 2,
            "fsize": (limits.file_size_bytes,) * 2,
            "nofile": (limits.open_files,) * 2,
            "nproc": (limits.processes + 2,) * 2,  # the backstop where no pids cgroup is writable
            "core": (0, 0),
            "memlock": (0, 0),
            "msgqueue": (0, 0),
        }
        if limits.data_mb is not None:
            rl["data"] = (limits.data_mb * MIB,) * 2
        if limits.address_space_mb is not None:
            rl["as"] = (limits.address_space_mb * MIB,) * 2
        args = [str(sb.helper), "-u", str(self.uid), "-g", str(self.uid), "-o", "1000", "-d", str(self.workdir)]
        for name, (soft, hard) in rl.items():
            args += ["-r", f"{name}={soft}:{hard}"]
        if self.cgroups is not None:
            for procs in self.cgroups.procs_files:
                args += ["-c", str(procs)]
        if sb.landlock_abi:
            args += ["-L", str(sb.landlock_abi)]
            for path in sb.read_paths:
                args += ["-R", path]
            for path in sb.writable_files:
                args += ["-W", path]
        args += ["-s", str(sb.seccomp_path)]
        return [*args, "-A"] if argv is None else [*args, "--", *argv]

    # -- teardown ----------------------------------------------------------------------
    def kill_all(self, timeout: float = 2.0) -> bool:
        """Kill every process of this box's uid (setsid'd and stopped ones too) and reap
        the orphans we adopted as subreaper. True once none is left."""
        if self.cgroups is None or not self.cgroups.kill_all():
            # Always, not only when a scan finds something: a process can hide from /proc
            # scans by making itself non-dumpable; kill(-1) as the uid still reaches it.
            kill_uid(self.sandbox.helper, self.uid)
        end = time.monotonic() + timeout
        while True:
            left = processes_of_uid(self.uid)
            if not left:
                return True
            for pid in left:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            if time.monotonic() > end:
                return False
            time.sleep(0.001)

    def close(self, kill: bool = False) -> None:
        """Remove the work dir and return the uid; `kill`: its processes may still run."""
        clean = not (self._dirty or kill) or self.kill_all()
        try:
            self.sandbox.storage.remove(self.workdir)
        finally:
            self.sandbox.forget(self)
            self.sandbox.uids.release(self.uid, clean)

    def retire(self) -> None:
        """Close it off the request path, once its result is known (the sandbox's janitor)."""
        self.sandbox.retire(self)

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cpu_time_ms(pid: int) -> float:
    """A process's CPU time so far: to the nanosecond for one thread (schedstat), else to
    the clock tick (stat: it counts every thread, those that ended too)."""
    if len(os.listdir(f"/proc/{pid}/task")) == 1:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e6
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime


def kill_uid(helper: Path, uid: int) -> None:
    """SIGKILL every process of `uid`, from a helper that has become that uid."""
    pid = os.posix_spawn(str(helper), [str(helper), "-u", str(uid), "-g", str(uid), "-K"], {})
    with contextlib.suppress(ChildProcessError):  # the orphan reaper may have reaped it: it is done
        os.waitpid(pid, 0)
