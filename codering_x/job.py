"""One request's lifecycle, after Piston's job: prime → compile once → run (or run per
test) → close.

Prime makes the request's box (an exclusive uid and an empty work dir) and writes every
file into it before anything untrusted starts; it happens lazily, so a run a prewarmed
member serves never makes one. Compile and run are each one confined process. Closing
hands the box to the sandbox's janitor: the answer does not wait for its removal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import WORKDIR_MARK, Command, Runtime, Stage
from .compile_cache import Artifact, CompileCache, Compiled, collect_artifacts
from .errors import Cancelled
from .models import Meta, ResolvedLimits, RunRequest, RunResult, RuntimeInfo, StageResult, TestResult
from .sandbox import Box, Cancel, Live, ProcessLimits, ProcessResult, Sandbox
from .verdict import stage_result, test_status
from .warmpool import Slot, WarmPool


@dataclass(frozen=True)
class PreparedRun:
    """A request checked against its runtime: what the job needs, worked out once."""

    runtime: Runtime
    limits: ResolvedLimits
    files: list[tuple[str, bytes]]
    entry: str
    sources: list[str]  # what a compile is given: the files in the runtime's languages (else the entry)
    run_limits: ProcessLimits  # what the sandbox enforces on each run (and a member must match)
    interactive: bool = False  # a session's: its run gets the runtime's `interactive` additions
    compile_options: tuple[str, ...] = ()  # checked, defaults filled in (Runtime.stage_options)
    run_options: tuple[str, ...] = ()


ENV_PROGRAM = "/usr/bin/env"  # runs a program with variables added (coreutils: on every host and image)
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
        # What the compile made, copied out (from a member, the cache, or the box): a run
        # may take place in any box. None: it lives only in this request's box.
        self._artifacts: tuple[Artifact, ...] | None = ()
        self._taken: list[Slot] = []  # the pool replaces them when this job ends

    def execute(self, request: RunRequest) -> RunResult:
        """Compile once (if the runtime compiles), then run once or once per test."""
        started = time.perf_counter()
        result = self.new_result(request.context)
        if self.compiled(result):
            self._runs(result, request)
        result.meta = Meta(elapsed_ms=round((time.perf_counter() - started) * 1000, 1))
        return result

    def new_result(self, context: dict[str, Any] | None) -> RunResult:
        runtime = self.runtime
        return RunResult(
            status="ok", runtime=RuntimeInfo(name=runtime.name, version=runtime.toolchain_version), context=context
        )

    def compiled(self, result: RunResult) -> bool:
        """Compile once, if the runtime compiles. False: there is nothing to run (`result`
        says why)."""
        runtime = self.runtime
        if runtime.compile is not None:
            result.compile = self._compile(runtime.compile, runtime.compile_limits)
            if result.compile.status != "ok":
                result.status = "internal_error" if result.compile.status == "internal_error" else "compile_error"
                return False
        return True

    def _runs(self, result: RunResult, request: RunRequest) -> None:
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

    def run(self, stdin: bytes, args: list[str], live: Live | None = None) -> StageResult:
        """One run of the program: on a prewarmed member when one fits, else in the box.
        `live`: its stdin, signals and output are an interactive session's."""
        prepared, runtime = self.prepared, self.runtime
        # An interpreter's member has its environment already, and no member has the files.
        extras = runtime.interactive.files or (runtime.interactive.env and runtime.run.interpreted)
        # An interpreter's options are its start's: its members started without them.
        cold = (prepared.interactive and extras) or (prepared.run_options and runtime.run.interpreted)
        if self._artifacts is not None and not cold:  # the compile's output can move
            stage = self._on_member("run", runtime.run, prepared.limits, prepared.run_limits, stdin, args, live=live)
            if stage is not None:
                return stage
        return self._stage(runtime.run, prepared.limits, prepared.run_limits, stdin, args, live)

    def close(self) -> None:
        if self._box is not None:
            self._box.retire()
            self._box = None
        if self.warm is not None and self._taken:
            self.warm.refill(self._taken)
            self._taken = []

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _primed(self) -> Box:
        """The request's own box, made and its files (and the compile's artifacts, when it
        ran elsewhere) written on first need."""
        if self._box is None:
            self._box = self.sandbox.box()
            for name, data, mode in self._files():
                self._box.write_file(name, data, mode)
        return self._box

    def _files(self) -> list[tuple[str, bytes, int]]:
        artifacts = [(a.name, a.data, a.mode) for a in self._artifacts or ()]
        files = [(name, data, 0o644) for name, data in self.prepared.files] + artifacts
        if self.prepared.interactive:  # dot-files: never taken for a compile's artifacts
            files += [(name, text.encode(), 0o644) for name, text in self.runtime.interactive.files.items()]
        return files

    def _compile(self, command: Command, limits: ResolvedLimits) -> StageResult:
        """The compile stage, or a cached one: then its artifacts are written instead."""
        if self.cache is None:
            return self._compile_now(command, limits)
        runtime, files = self.runtime, self.prepared.files
        argv, env = self._command(command, limits, WORKDIR_MARK)
        key = CompileCache.key([runtime.name, runtime.toolchain_version, argv, env, limits.model_dump()], files)
        hit = self.cache.get(key)
        if hit is not None:
            self._artifacts = hit.artifacts
            return hit.stage.model_copy(update={"cached": True})
        stage = self._compile_now(command, limits)
        if stage.status in CACHEABLE and self._artifacts is not None:
            self.cache.put(key, Compiled(stage, self._artifacts))
        return stage

    def _compile_now(self, command: Command, limits: ResolvedLimits) -> StageResult:
        """Compile on a prewarmed member, else in the request's box. What the compile made
        is copied out at once, before any of the learner's code runs (a run cannot change
        it): for the cache, and for a run in another box. `_artifacts` None: too large to
        copy, it stays in the request's box, and the runs happen there."""
        sandbox_limits = self.runtime.process_limits(limits)
        max_bytes = self.cache.max_bytes if self.cache is not None else sandbox_limits.disk_bytes
        inputs = {name for name, _ in self.prepared.files}

        def keep(stage: StageResult, workdir: Path) -> None:
            self._artifacts = collect_artifacts(workdir, inputs, max_bytes) if stage.status == "ok" else ()

        stage = self._on_member("compile", command, limits, sandbox_limits, b"", [], keep)
        if stage is not None and self._artifacts is not None:
            return stage
        stage = self._stage(command, limits, sandbox_limits, b"", [])
        keep(stage, self._primed().workdir)
        return stage

    def _on_member(
        self,
        stage: Stage,
        command: Command,
        limits: ResolvedLimits,
        sandbox_limits: ProcessLimits,
        stdin: bytes,
        args: list[str],
        keep: Callable[[StageResult, Path], None] | None = None,
        live: Live | None = None,
    ) -> StageResult | None:
        """Run a stage on a prewarmed member, if one fits and is alive; None: run it cold.
        `keep` is given the stage's result and the member's work dir before it goes."""
        if self.warm is None:
            return None
        member = self.warm.take(self.runtime, stage, sandbox_limits, self.prepared.entry)
        if member is None:
            return None
        self._taken.append(member.slot)
        with member:
            if command.interpreted:
                fields = [self.prepared.entry, *args]
            else:
                fields = self._command(command, limits, str(member.box.workdir))[0] + args
            process = member.run(self._files(), fields, stdin, self.cancel, live)
            if process is None:  # it had died
                return None
            result = self._verdict(process)
            if keep is not None:
                keep(result, member.box.workdir)
            return result

    def _command(self, command: Command, limits: ResolvedLimits, workdir: str) -> tuple[list[str], dict[str, str]]:
        runtime, prepared = self.runtime, self.prepared
        options = prepared.compile_options if command is runtime.compile else prepared.run_options
        argv = runtime.expand(command, prepared.entry, prepared.sources, workdir, limits.memory_mb, list(options))
        env = runtime.environment(command, prepared.entry, workdir, limits.memory_mb)
        if prepared.interactive and command is runtime.run and runtime.interactive.env:
            # Through env(1), not the process's environment: a member started with the run's
            # environment still fits.
            argv = [ENV_PROGRAM, *(f"{k}={v}" for k, v in runtime.interactive.env.items()), *argv]
        return argv, env

    def _stage(
        self,
        command: Command,
        limits: ResolvedLimits,
        sandbox_limits: ProcessLimits,
        stdin: bytes,
        args: list[str],
        live: Live | None = None,
    ) -> StageResult:
        box = self._primed()
        argv, env = self._command(command, limits, str(box.workdir))
        if command is self.runtime.run:
            argv += args
        return self._verdict(box.run(argv, env, sandbox_limits, stdin, self.cancel, live))

    def _verdict(self, process: ProcessResult) -> StageResult:
        if process.cancelled:
            raise Cancelled()
        return stage_result(self.runtime, process)
