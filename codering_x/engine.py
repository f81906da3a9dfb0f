"""The worker's engine: a request checked against the catalogue, then run as one Job.

It owns what outlives a request: the catalogue, the sandbox and the pool of prewarmed
members. What happens to one request (its box, compile, runs, verdicts) is `job.Job`'s.
The engine knows runtimes and the sandbox, nothing of HTTP.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from .catalogue import Catalogue, InvalidOption, UnknownRuntime
from .compile_cache import CompileCache
from .errors import RequestError
from .job import Job, PreparedRun
from .models import MAX_TOTAL_BYTES, RunRequest, RunResult
from .sandbox import Cancel, ProcessLimits, Sandbox
from .selftest import SelfTestResult, run_self_test
from .settings import WorkerSettings
from .warmpool import Slot, WarmPool


class Engine:
    def __init__(
        self,
        catalogue: Catalogue,
        sandbox: Sandbox,
        self_test: bool = True,
        prewarm: int = 0,
        runtimes: list[str] | None = None,
        compile_cache_mb: int = 0,
        prewarm_stages: int | None = None,
    ) -> None:
        """`prewarm`: members kept started for each interpreter's run (of `runtimes`, or every
        available one), `prewarm_stages` (default: as many) for every other stage; 0 starts
        those stages cold. `compile_cache_mb`:
        the compile cache's bound; 0: every compile runs."""
        self.catalogue = catalogue
        self.sandbox = sandbox
        self.compile_cache = CompileCache(compile_cache_mb << 20) if compile_cache_mb > 0 else None
        self.self_test: SelfTestResult | None = run_self_test(sandbox) if self_test else None
        if self.self_test is not None:
            self.self_test.raise_if_failed()
        self.warm: WarmPool | None = None
        if prewarm > 0:
            available = [r for r in map(catalogue.get, runtimes or list(catalogue.runtimes)) if r.available]
            limits: dict[Slot, ProcessLimits] = {(r.name, "run"): r.process_limits(r.default_limits) for r in available}
            limits |= {(r.name, "compile"): r.process_limits(r.compile_limits) for r in available if r.compile}
            others = prewarm if prewarm_stages is None else prewarm_stages
            sizes = {slot: prewarm if _interpreter(catalogue, slot) else others for slot in limits}
            sizes = {slot: size for slot, size in sizes.items() if size > 0}
            if sizes:
                self.warm = WarmPool(sandbox, catalogue, sizes, {slot: limits[slot] for slot in sizes})

    @classmethod
    def create(
        cls,
        settings: WorkerSettings | None = None,
        *,
        catalogue: Catalogue | None = None,
        self_test: bool = True,
        prewarm: int = 0,
        prewarm_stages: int | None = None,
        runtimes: list[str] | None = None,
    ) -> Engine:
        """An engine on this host's sandbox, configured by `settings` (else the environment):
        the one way a worker, the CLI and the tests make one."""
        settings = settings or WorkerSettings()
        return cls(
            catalogue or Catalogue.load(), Sandbox.create(settings), self_test=self_test, prewarm=prewarm,
            runtimes=runtimes, compile_cache_mb=settings.compile_cache_mb, prewarm_stages=prewarm_stages,
        )  # fmt: skip

    def close(self) -> None:
        """Stop the members, then leave no box behind (the sandbox's close)."""
        if self.warm is not None:
            self.warm.close()
        self.sandbox.close()

    # -- validation ----------------------------------------------------------------------
    def prepare(self, request: RunRequest, interactive: bool = False) -> PreparedRun:
        """Check everything a model cannot: runtime, limits against its maxima, file data.
        `interactive`: a session's run, with its own wall limits."""
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
            compile_options = runtime.stage_options("compile", request.compile_options)
            run_options = runtime.stage_options("run", request.run_options)
            defaults, maxima = runtime.limits_for(interactive)
            limits = defaults.merged(request.limits, maxima)
            if request.code is not None:
                files = [(runtime.code_name(request.code), request.code.encode())]
            else:
                files = [(f.name, f.data()) for f in request.files or []]
        except InvalidOption as exc:
            raise RequestError("invalid_option", str(exc), exc.details) from exc
        except ValueError as exc:
            raise RequestError("invalid_request", str(exc)) from exc
        if sum(len(data) for _, data in files) > MAX_TOTAL_BYTES:
            raise RequestError("invalid_request", f"files total more than {MAX_TOTAL_BYTES} bytes")
        names = [name for name, _ in files]
        entry = runtime.entry if runtime.entry in names else names[0]
        sources = [name for name in names if PurePosixPath(name).suffix in runtime.extensions]
        return PreparedRun(
            runtime=runtime, limits=limits, files=files, entry=entry, sources=sources or [entry],
            run_limits=runtime.process_limits(limits), interactive=interactive,
            compile_options=tuple(compile_options), run_options=tuple(run_options),
        )  # fmt: skip

    def run(self, request: RunRequest, cancel: Cancel | None = None) -> RunResult:
        """Run a request to its result; raise Cancelled if `cancel` fires first."""
        with self.job(self.prepare(request), cancel) as job:
            return job.execute(request)

    def job(self, prepared: PreparedRun, cancel: Cancel | None = None) -> Job:
        """A prepared request's job, on this engine's sandbox, pool and cache."""
        return Job(self.sandbox, self.warm, self.compile_cache, prepared, cancel)


def _interpreter(catalogue: Catalogue, slot: Slot) -> bool:
    """Is this slot an interpreter's run, whose member spares the interpreter's start?"""
    command = catalogue.get(slot[0]).stage(slot[1])
    return command is not None and command.interpreted
