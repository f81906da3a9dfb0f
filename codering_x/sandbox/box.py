"""A box: one uid and one work dir, holding one request's compile and run stages.

Lifecycle (after Piston's job): files are written while nothing untrusted runs, each
stage is one confined process, every process of the uid is killed after each stage, and
closing the box removes the work dir without following links and returns the uid.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cgroups import container_oom_kills
from .limits import Cancel, LimitName, ProcessLimits, ProcessResult
from .supervise import Stream, drain, supervise, wait_exit
from .uidpool import processes_of_uid

if TYPE_CHECKING:
    from . import Sandbox

MIB = 1 << 20
STOP_GRACE_S = 0.5  # how long the helper may take to kill a run and report


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
    ) -> ProcessResult:
        """Run one confined process in the box and return what it did."""
        self._ran = True
        sb = self.sandbox
        counters = None
        container_ooms = container_oom_kills() if self.cgroups is None else None
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
        out, err = Stream(limits.output_bytes), Stream(limits.output_bytes)
        started = time.monotonic()
        try:
            pid = os.posix_spawn(str(sb.helper), helper_argv, env, file_actions=actions)
        except OSError as exc:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w, st_r, st_w):
                os.close(fd)
            return _failed(f"cannot start the sandbox helper: {exc}")
        for fd in (in_r, out_w, err_w, st_w):
            os.close(fd)
        try:
            deadline = started + limits.wall_time_ms / 1000
            cancel_fd = cancel.fileno() if cancel is not None else None
            sup = supervise(pid, in_w if stdin else None, stdin, out_r, err_r, st_r, deadline, out, err, cancel_fd)
            if not stdin:
                os.close(in_w)
            if not sup.exited:
                # Ask the helper to kill the run and report its usage; it is our unreaped
                # child, so its pid cannot have been reused.
                os.kill(pid, signal.SIGTERM)
                if not wait_exit(pid, STOP_GRACE_S):
                    os.kill(pid, signal.SIGKILL)
            _, wstatus, _ = os.wait4(pid, 0)
            wall_ms = round((time.monotonic() - started) * 1000)
            status = sup.status + _read_all(st_r)
            usage = _usage(status.decode(errors="replace"))
            # A usage report means the helper killed and reaped every process of the run
            # before exiting; without one (the helper itself was killed), sweep the uid.
            clean = usage is not None or self.kill_all()
            self._dirty = not clean
            drain(out_r, out)
            drain(err_r, err)
        finally:
            for fd in (out_r, err_r, st_r):
                os.close(fd)
        report = status.decode(errors="replace").strip()
        if report.startswith("sbexec:"):
            return _failed(report)
        if not clean:
            return _failed(f"processes of uid {self.uid} survived the kill")
        cpu_ms, memory_kb = usage or (0, 0)
        exit_code = os.waitstatus_to_exitcode(wstatus)
        sig = -exit_code if exit_code < 0 else None
        after = self.cgroups.counters() if self.cgroups is not None else None
        limit: LimitName | None = None
        if sup.timed_out:
            limit = "wall"
        elif sup.overflowed:
            limit = "output"
        elif counters and after and after.oom_kills > counters.oom_kills:
            limit = "memory"
        elif sig == signal.SIGKILL and container_ooms is not None and (container_oom_kills() or 0) > container_ooms:
            limit = "memory"  # the container's limit, the only hard cap here, killed it
        elif sig == signal.SIGXCPU or cpu_ms > limits.cpu_time_ms:
            limit = "cpu"
        elif sig == signal.SIGXFSZ:
            limit = "file_size"
        elif counters and after and after.pids_max_hits > counters.pids_max_hits:
            limit = "processes"
        if sup.cancelled:
            return ProcessResult(None, None, b"", b"", False, False, cpu_ms, wall_ms, memory_kb, cancelled=True)
        if limit in ("wall", "output"):
            sig = None if sig == signal.SIGTERM else sig  # our stop, not the program's death
        return ProcessResult(
            exit_code=None if sig else exit_code,
            signal=sig,
            stdout=bytes(out.data),
            stderr=bytes(err.data),
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
            cpu_time_ms=cpu_ms,
            wall_time_ms=wall_ms,
            memory_kb=memory_kb,
            limit=limit,
        )

    def _helper_argv(self, argv: list[str], limits: ProcessLimits) -> list[str]:
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
        args += ["-s", str(sb.seccomp_path), "--", *argv]
        return args

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

    def close(self) -> None:
        clean = not self._dirty or self.kill_all()
        shutil.rmtree(self.workdir, ignore_errors=True)  # fd-based: never follows a planted link
        self.sandbox.uids.release(self.uid, clean)

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def kill_uid(helper: Path, uid: int) -> None:
    """SIGKILL every process of `uid`, from a helper that has become that uid."""
    pid = os.posix_spawn(str(helper), [str(helper), "-u", str(uid), "-g", str(uid), "-K"], {})
    os.waitpid(pid, 0)


def _usage(report: str) -> tuple[int, int] | None:
    """CPU ms and peak RSS KiB from the helper's "rusage utime_us stime_us maxrss_kb" line;
    None when the helper did not finish (it was killed)."""
    for line in report.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0] == "rusage":
            return round((int(fields[1]) + int(fields[2])) / 1000), int(fields[3])
    return None


def _failed(message: str) -> ProcessResult:
    return ProcessResult(None, None, b"", b"", False, False, 0, 0, 0, error=message)
