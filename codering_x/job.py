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

from .catalogue import Command, Runtime
from .compile_cache import WORKDIR_MARK, Artifact, CompileCache, Compiled, collect_artifacts
from .errors import Cancelled
from .models import Meta, ResolvedLimits, RunRequest, RunResult, RuntimeInfo, StageResult, TestResult
from .sandbox import Box, Cancel, ProcessLimits, ProcessResult, Sandbox
from .verdict import stage_result, test_status
from .warmpool import WarmPool


@dataclass(frozen=True)
class PreparedRun:
    """A request checked against its runtime: what the job needs, worked out once."""

    runtime: Runtime
    limits: ResolvedLimits
    files: list[tuple[str, bytes]]
    entry: str
    sources: list[str]  # what a compile is given: the files in the runtime's languages (else the entry)
    run_limits: ProcessLimits  # what the sandbox enforces on each run (and a member must match)


# A compile that ended so is the same next time; limits hit under load may not be.
CACHEABLE = ("ok", "runtime_error")


class Job:
    def __init__(
        self,
        sandbox: Sandbox,
        warm: WarmPool | None,
        cache: CompileCache | None,
        prepared: PreparedRun,
        cancel: Cancel | None,
    ) -> None:
        self.sandbox, self.warm, self.cache, self.prepared, self.cancel = sandbox, warm, cache, prepared, cancel
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
            result.compile = self._compile(runtime.compile, runtime.compile_limits)
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
            member = self.warm.take(self.runtime, prepared.run_limits, prepared.entry)
            if member is not None:
                process = member.run(prepared.files, prepared.entry, args, stdin, self.cancel)
                if process is not None:  # None: it had died; run cold
                    return self._verdict(process)
        return self._stage(self.runtime.run, prepared.limits, prepared.run_limits, stdin, args)

    def close(self) -> None:
        if self._box is not None:
            self._box.retire()
            self._box = None

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _primed(self, artifacts: tuple[Artifact, ...] = ()) -> Box:
        """The request's own box, made and its files written on first need (with a cached
        compile's artifacts, when the compile is skipped)."""
        if self._box is None:
            self._box = self.sandbox.box()
            for name, data in self.prepared.files:
                self._box.write_file(name, data)
            for artifact in artifacts:
                self._box.write_file(artifact.name, artifact.data, artifact.mode)
        return self._box

    def _compile(self, command: Command, limits: ResolvedLimits) -> StageResult:
        """The compile stage, or a cached one: then its artifacts are written instead."""
        sandbox_limits = self.runtime.process_limits(limits)
        if self.cache is None:
            return self._stage(command, limits, sandbox_limits, b"", [])
        runtime, files = self.runtime, self.prepared.files
        argv, env = self._command(command, limits, WORKDIR_MARK)
        key = CompileCache.key([runtime.name, runtime.toolchain_version, argv, env, limits.model_dump()], files)
        hit = self.cache.get(key)
        if hit is not None:
            self._primed(hit.artifacts)
            return hit.stage.model_copy(update={"cached": True})
        stage = self._stage(command, limits, sandbox_limits, b"", [])
        if stage.status in CACHEABLE:
            # Copied now, before any of the learner's code runs: a run cannot change them.
            inputs = {name for name, _ in files}
            workdir = self._primed().workdir  # the box the compile just ran in
            artifacts = collect_artifacts(workdir, inputs, self.cache.max_bytes) if stage.status == "ok" else ()
            if artifacts is not None:
                self.cache.put(key, Compiled(stage, artifacts))
        return stage

    def _command(self, command: Command, limits: ResolvedLimits, workdir: str) -> tuple[list[str], dict[str, str]]:
        runtime, prepared = self.runtime, self.prepared
        argv = runtime.expand(command, prepared.entry, prepared.sources, workdir, limits.memory_mb)
        return argv, runtime.environment(command, prepared.entry, workdir, limits.memory_mb)

    def _stage(
        self, command: Command, limits: ResolvedLimits, sandbox_limits: ProcessLimits, stdin: bytes, args: list[str]
    ) -> StageResult:
        box = self._primed()
        argv, env = self._command(command, limits, str(box.workdir))
        if command is self.runtime.run:
            argv += args
        return self._verdict(box.run(argv, env, sandbox_limits, stdin, self.cancel))

    def _verdict(self, process: ProcessResult) -> StageResult:
        if process.cancelled:
            raise Cancelled()
        return stage_result(self.runtime, process)
