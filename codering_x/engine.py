"""One run request, start to finish: files → compile once → run (or run per test) → verdicts.

Like Piston's job, a request has a lifecycle: prime (a box: uid + work dir, every file
written before anything untrusted starts), compile (sandboxed exactly like the run), run,
clean up (kill the uid's processes, remove the dir). The engine knows runtimes and the
sandbox, nothing of HTTP.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from .catalogue import Catalogue, Command, Runtime, UnknownRuntime
from .compare import matches
from .models import (
    MAX_TOTAL_BYTES,
    LimitName,
    Meta,
    ResolvedLimits,
    RunRequest,
    RunResult,
    RuntimeInfo,
    StageResult,
    Status,
    TestResult,
)
from .sandbox import Box, Cancel, ProcessLimits, ProcessResult, Sandbox
from .selftest import SelfTestResult, run_self_test
from .warmpool import Member, WarmPool, header

# Members per prewarmed runtime for each run this process does at once (CODERING_PREWARM).
DEFAULT_PREWARM_PER_SLOT = 2

LIMIT_STATUS: dict[str, Status] = {
    "cpu": "time_limit",
    "wall": "time_limit",
    "memory": "memory_limit",
    "output": "output_limit",
    "file_size": "output_limit",
    "disk": "output_limit",
    "inodes": "output_limit",
}
LIMIT_MESSAGE = {
    "cpu": "CPU time limit exceeded",
    "wall": "wall-clock time limit exceeded",
    "memory": "memory limit exceeded",
    "output": "output limit exceeded; the output was cut",
    "file_size": "a file grew past the file size limit",
    "processes": "the process limit was reached",
    "disk": "the disk limit was reached: the run's files filled limits.disk_mb",
    "inodes": "the file count limit was reached: the run made limits.disk_inodes files and directories",
}


# What a program prints when a limit made a call fail rather than killed it: fork or thread
# creation failing (where no pids cgroup counts the hits for us), or EFBIG from a runtime
# that ignores SIGXFSZ (CPython does).
LIMIT_HINTS: tuple[tuple[str, LimitName], ...] = (
    ("Resource temporarily unavailable", "processes"),
    ("unable to create native thread", "processes"),
    ("EAGAIN", "processes"),
    ("File too large", "file_size"),
)


class Cancelled(Exception):
    """The run was cancelled (its client went away); every process of it is dead."""


class RequestError(ValueError):
    """The request cannot be run as given: the caller's fault, a 4xx."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


@dataclass
class PreparedRun:
    runtime: Runtime
    limits: ResolvedLimits
    files: list[tuple[str, bytes]]
    entry: str


class Engine:
    def __init__(
        self,
        catalogue: Catalogue,
        sandbox: Sandbox,
        self_test: bool = True,
        prewarm: int = 0,
        runtimes: list[str] | None = None,
    ) -> None:
        """`prewarm`: members kept started for each runtime that has a bootstrap (of
        `runtimes`, or every available one); 0 starts every run cold."""
        self.catalogue = catalogue
        self.sandbox = sandbox
        self.self_test: SelfTestResult | None = run_self_test(sandbox) if self_test else None
        if self.self_test is not None:
            self.self_test.raise_if_failed()
        self.warm: WarmPool | None = None
        if prewarm > 0:
            names = runtimes or list(catalogue.runtimes)
            warmable = [catalogue.get(n) for n in names if catalogue.get(n).prewarm and catalogue.get(n).available]
            limits = {r.name: self._process_limits(r, r.default_limits) for r in warmable}
            if limits:
                self.warm = WarmPool(sandbox, catalogue, prewarm, limits)

    @classmethod
    def create(cls, self_test: bool = True, prewarm: int = 0, runtimes: list[str] | None = None) -> Engine:
        return cls(Catalogue.load(), Sandbox.create(), self_test=self_test, prewarm=prewarm, runtimes=runtimes)

    @staticmethod
    def prewarm_from_env(slots: int = 1) -> int:
        """CODERING_PREWARM members per run slot (default 2; 0: off), times `slots`."""
        return int(os.environ.get("CODERING_PREWARM", DEFAULT_PREWARM_PER_SLOT)) * slots

    def close(self) -> None:
        """Stop the members, then leave no box behind (the sandbox's close)."""
        if self.warm is not None:
            self.warm.close()
        self.sandbox.close()

    # -- validation ----------------------------------------------------------------------
    def prepare(self, request: RunRequest) -> PreparedRun:
        """Check everything a model cannot: runtime, limits against its maxima, file data."""
        try:
            runtime = self.catalogue.get(request.runtime)
        except UnknownRuntime as exc:
            raise RequestError("unknown_runtime", str(exc), {"known": exc.known}) from exc
        if not runtime.available:
            raise RequestError(
                "runtime_unavailable",
                f"runtime {runtime.name!r} is not installed on this worker",
                {"missing": runtime.missing_tools},
            )
        try:
            limits = runtime.default_limits.merged(request.limits, runtime.maximum_limits)
            if request.code is not None:
                files = [(runtime.code_name(request.code), request.code.encode())]
            else:
                files = [(f.name, f.data()) for f in request.files or []]
        except ValueError as exc:
            raise RequestError("invalid_request", str(exc)) from exc
        if sum(len(data) for _, data in files) > MAX_TOTAL_BYTES:
            raise RequestError("invalid_request", f"files total more than {MAX_TOTAL_BYTES} bytes")
        names = [name for name, _ in files]
        entry = runtime.entry if runtime.entry in names else names[0]
        return PreparedRun(runtime, limits, files, entry)

    # -- the lifecycle -------------------------------------------------------------------
    def run(self, request: RunRequest, cancel: Cancel | None = None) -> RunResult:
        """Run a request to its result; raise Cancelled if `cancel` fires first."""
        started = time.perf_counter()
        prepared = self.prepare(request)
        runtime = prepared.runtime
        result = RunResult(
            status="ok",
            runtime=RuntimeInfo(name=runtime.name, version=runtime.toolchain_version),
            context=request.context,
        )
        with contextlib.ExitStack() as stack:
            cold_box: Box | None = None

            def cold() -> Box:
                """The request's own box, made (and its files written) on first need."""
                nonlocal cold_box
                if cold_box is None:
                    cold_box = self.sandbox.box()
                    stack.callback(self.sandbox.retire, cold_box)
                    for name, data in prepared.files:
                        cold_box.write_file(name, data)
                return cold_box

            def run_once(stdin: bytes, args: list[str]) -> StageResult:
                if runtime.compile is None and self.warm is not None:
                    limits = self._process_limits(runtime, prepared.limits)
                    member = self.warm.take(runtime, limits, prepared.entry)
                    if member is not None:
                        stage = self._warm_stage(member, prepared, stdin, args, cancel)
                        if stage is not None:
                            return stage
                return self._stage(cold(), prepared, runtime.run, prepared.limits, stdin, args, cancel)

            if runtime.compile is not None:
                result.compile = self._stage(cold(), prepared, runtime.compile, runtime.compile_limits, b"", [], cancel)
                if result.compile.status != "ok":
                    result.status = "internal_error" if result.compile.status == "internal_error" else "compile_error"
                    result.meta = Meta(elapsed_ms=_ms_since(started))
                    return result
            if request.tests:
                for index, test in enumerate(request.tests):
                    args = request.args if test.args is None else test.args
                    stage = run_once(test.stdin.encode(), args)
                    status = stage.status
                    if status == "ok" and not matches(stage.stdout, test.expected_stdout, test.compare, test.tolerance):
                        status = "wrong_answer"
                    if stage.encoding == "base64" and status == "ok":
                        status = "wrong_answer"
                    result.tests.append(
                        TestResult(
                            name=test.name or f"test {index + 1}",
                            status=status,
                            expected_stdout=test.expected_stdout,
                            run=stage,
                        )
                    )
                failed = [t.status for t in result.tests if t.status != "ok"]
                result.status = failed[0] if failed else "ok"
            else:
                result.run = run_once(request.stdin.encode(), request.args)
                result.status = result.run.status
        result.meta = Meta(elapsed_ms=_ms_since(started))
        return result

    def _stage(
        self,
        box: Box,
        prepared: PreparedRun,
        command: Command,
        limits: ResolvedLimits,
        stdin: bytes,
        args: list[str],
        cancel: Cancel | None,
    ) -> StageResult:
        runtime = prepared.runtime
        workdir = str(box.workdir)
        sources = [n for n, _ in prepared.files if PurePosixPath(n).suffix in runtime.extensions]
        argv = runtime.expand(command, prepared.entry, sources or [prepared.entry], workdir, limits.memory_mb)
        if command is runtime.run:
            argv += args
        env = runtime.environment(command, prepared.entry, workdir, limits.memory_mb)
        process = box.run(argv, env, self._process_limits(runtime, limits), stdin, cancel)
        if process.cancelled:
            raise Cancelled()
        return self._stage_result(runtime, process)

    def _warm_stage(
        self, member: Member, prepared: PreparedRun, stdin: bytes, args: list[str], cancel: Cancel | None
    ) -> StageResult | None:
        """Run on a prewarmed member: its files, then the header and stdin on its stdin.
        None when the member turned out dead: the caller starts the run cold."""
        box = member.box
        try:
            for name, data in prepared.files:
                box.write_file(name, data)
            if not box.hand_over(member.spawned):
                box.discard(member.spawned)
                return None
            process = box.finish(member.spawned, header(prepared.entry, args) + stdin, cancel)
        finally:
            self.sandbox.retire(box)
        if process.cancelled:
            raise Cancelled()
        return self._stage_result(prepared.runtime, process)

    @staticmethod
    def _process_limits(runtime: Runtime, limits: ResolvedLimits) -> ProcessLimits:
        memory = runtime.memory
        rlimit_mb = limits.memory_mb + memory.data_extra_mb
        return ProcessLimits(
            cpu_time_ms=limits.cpu_time_ms,
            wall_time_ms=limits.wall_time_ms,
            memory_mb=limits.memory_mb,
            output_bytes=limits.output_bytes,
            processes=limits.processes,
            disk_bytes=limits.disk_mb << 20,
            disk_inodes=limits.disk_inodes,
            data_mb=rlimit_mb if memory.rlimit == "data" else None,
            address_space_mb=rlimit_mb if memory.rlimit == "as" else None,
        )

    @staticmethod
    def _stage_result(runtime: Runtime, p: ProcessResult) -> StageResult:
        if p.error is not None:
            return StageResult(status="internal_error", message=p.error)
        limit = p.limit
        failed = p.exit_code != 0
        if limit is None and failed:
            # Go prints its verdict first and a long stack after; Python the reverse.
            tail = (p.stderr[:2048] + p.stderr[-2048:]).decode(errors="replace")
            if any(pattern in tail for pattern in runtime.oom_patterns):
                limit = "memory"
            else:
                limit = next((name for hint, name in LIMIT_HINTS if hint in tail), None)
        if limit in LIMIT_STATUS:
            status: Status = LIMIT_STATUS[limit]
        else:
            status = "runtime_error" if failed else "ok"
        stdout, stderr, encoding = _texts(p.stdout, p.stderr, p.stdout_truncated, p.stderr_truncated)
        return StageResult(
            status=status,
            exit_code=p.exit_code,
            signal=p.signal,
            stdout=stdout,
            stderr=stderr,
            encoding=encoding,
            stdout_truncated=p.stdout_truncated,
            stderr_truncated=p.stderr_truncated,
            cpu_time_ms=p.cpu_time_ms,
            wall_time_ms=p.wall_time_ms,
            memory_kb=p.memory_kb,
            limit=limit,
            message=LIMIT_MESSAGE.get(limit) if limit else None,
        )


def _texts(out: bytes, err: bytes, out_cut: bool, err_cut: bool) -> tuple[str, str, str]:
    """Both streams as UTF-8 text, or both base64 when either is not valid UTF-8.
    A stream cut by the output cap may end inside a character: that tail is dropped."""
    try:
        return _decode(out, out_cut), _decode(err, err_cut), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(out).decode(), base64.b64encode(err).decode(), "base64"


def _decode(data: bytes, truncated: bool) -> str:
    if truncated:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    return data.decode("utf-8")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
