"""One request's lifecycle, after Piston's job: prime → compile once → run (or run per
test) → close.

Prime makes the request's box (an exclusive uid and an empty work dir) and writes every
file into it before anything untrusted starts; it happens lazily, so a run a prewarmed
member serves never makes one. Compile and run are each one confined process. Closing
hands the box to the sandbox's janitor: the answer does not wait for its removal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from .catalogue import Command, Runtime
from .errors import Cancelled
from .models import Meta, ResolvedLimits, RunRequest, RunResult, RuntimeInfo, StageResult, TestResult
from .sandbox import Box, Cancel, ProcessResult, Sandbox
from .verdict import stage_result, test_status
from .warmpool import WarmPool


@dataclass(frozen=True)
class PreparedRun:
    """A request checked against its runtime: what the job needs and nothing else."""

    runtime: Runtime
    limits: ResolvedLimits
    files: list[tuple[str, bytes]]
    entry: str


class Job:
    def __init__(self, sandbox: Sandbox, warm: WarmPool | None, prepared: PreparedRun, cancel: Cancel | None) -> None:
        self.sandbox, self.warm, self.prepared, self.cancel = sandbox, warm, prepared, cancel
        self.runtime = prepared.runtime
        self._box: Box | None = None

    def execute(self, request: RunRequest) -> RunResult:
        """Compile once (if the runtime compiles), then run once or once per test."""
        started = time.perf_counter()
        runtime = self.runtime
        result = RunResult(
            status="ok",
            runtime=RuntimeInfo(name=runtime.name, version=runtime.toolchain_version),
            context=request.context,
        )
        self._fill(result, request)
        result.meta = Meta(elapsed_ms=round((time.perf_counter() - started) * 1000, 1))
        return result

    def _fill(self, result: RunResult, request: RunRequest) -> None:
        runtime = self.runtime
        if runtime.compile is not None:
            result.compile = self._stage(runtime.compile, runtime.compile_limits, b"", [])
            if result.compile.status != "ok":
                result.status = "internal_error" if result.compile.status == "internal_error" else "compile_error"
                return
        if not request.tests:
            result.run = self.run(request.stdin.encode(), request.args)
            result.status = result.run.status
            return
        for index, test in enumerate(request.tests):
            stage = self.run(test.stdin.encode(), request.args if test.args is None else test.args)
            result.tests.append(
                TestResult(
                    name=test.name or f"test {index + 1}",
                    status=test_status(stage, test),
                    expected_stdout=test.expected_stdout,
                    run=stage,
                )
            )
        failed = [t.status for t in result.tests if t.status != "ok"]
        result.status = failed[0] if failed else "ok"

    def run(self, stdin: bytes, args: list[str]) -> StageResult:
        """One run of the program: on a prewarmed member when one fits, else in the box."""
        prepared = self.prepared
        if self.runtime.compile is None and self.warm is not None:
            member = self.warm.take(self.runtime, self.runtime.process_limits(prepared.limits), prepared.entry)
            if member is not None:
                process = member.run(prepared.files, prepared.entry, args, stdin, self.cancel)
                if process is not None:  # None: it had died; run cold
                    return self._verdict(process)
        return self._stage(self.runtime.run, prepared.limits, stdin, args)

    def close(self) -> None:
        if self._box is not None:
            self._box.retire()
            self._box = None

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _primed(self) -> Box:
        """The request's own box, made and its files written on first need."""
        if self._box is None:
            self._box = self.sandbox.box()
            for name, data in self.prepared.files:
                self._box.write_file(name, data)
        return self._box

    def _stage(self, command: Command, limits: ResolvedLimits, stdin: bytes, args: list[str]) -> StageResult:
        runtime, prepared = self.runtime, self.prepared
        box = self._primed()
        workdir = str(box.workdir)
        sources = [n for n, _ in prepared.files if PurePosixPath(n).suffix in runtime.extensions]
        argv = runtime.expand(command, prepared.entry, sources or [prepared.entry], workdir, limits.memory_mb)
        if command is runtime.run:
            argv += args
        env = runtime.environment(command, prepared.entry, workdir, limits.memory_mb)
        return self._verdict(box.run(argv, env, runtime.process_limits(limits), stdin, self.cancel))

    def _verdict(self, process: ProcessResult) -> StageResult:
        if process.cancelled:
            raise Cancelled()
        return stage_result(self.runtime, process)
