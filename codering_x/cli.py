"""The `codering-x` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from . import REPO_ROOT
from .models import RunRequest, RunResult, SourceFile, StageResult, TestCase

EXAMPLES = REPO_ROOT / "examples"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codering-x", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run files through the engine in this process")
    run.add_argument("runtime")
    run.add_argument("files", nargs="+", type=Path)
    stdin = run.add_mutually_exclusive_group()
    stdin.add_argument("--stdin", default=None, help="text fed to the program")
    stdin.add_argument("--stdin-file", type=Path, default=None)
    run.add_argument("--arg", action="append", default=[], dest="args", help="a program argument (repeatable)")
    run.add_argument("--tests", type=Path, help="a JSON list of test cases")
    run.add_argument("--json", action="store_true", help="print the RunResult JSON")

    sub.add_parser("runtimes", help="list the runtimes and whether this host has them")
    sub.add_parser("selftest", help="prove the sandbox holds on this host")
    sub.add_parser("demo", help="run hello world in every runtime this host has")

    serve = sub.add_parser("serve", help="the dispatcher, with worker processes for every runtime here")
    serve.add_argument("--config", help="a YAML file (README: Configuration); CODERING_* variables override it")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers-per-runtime", type=int, default=None)
    serve.add_argument("--runtimes", nargs="*", default=None, help="default: every runtime this host has")

    up = sub.add_parser("up", help="docker dev mode: worker containers, then the dispatcher in the foreground")
    up.add_argument("runtimes", nargs="*", help="default: all ten")
    up.add_argument(
        "--replicas", type=int, default=2, choices=range(1, 17), metavar="1..16", help="worker containers per runtime"
    )
    up.add_argument("--host", default=None)
    up.add_argument("--port", type=int, default=None, help="the dispatcher's port (default 8000)")
    up.add_argument("--config", help="a YAML file, as for serve")
    up.add_argument("--no-build", action="store_true", help="fail instead of building missing or stale images")
    down = sub.add_parser("down", help="docker dev mode: remove every container, network and volume `up` made")
    status = sub.add_parser("status", help="docker dev mode: each runtime's containers, health and ports")
    for command in (up, down, status):
        command.add_argument("--project", default="codering-x", help="the label that groups one dev mode's containers")

    worker = sub.add_parser("worker", help="serve one runtime's Nuclio handler over HTTP")
    worker.add_argument("--runtime", required=True)
    worker.add_argument("--host", default="127.0.0.1")
    worker.add_argument("--port", type=int, default=0, help="0: any free port (printed on start-up)")
    worker.add_argument("--concurrency", type=int, default=4, help="runs at once")
    worker.add_argument("--name", help="how the dispatcher reports this worker (default RUNTIME-PID)")
    worker.add_argument("--fault", help="tests only: stall:MS[:EVERY], error[:EVERY], close[:EVERY], hang[:EVERY]")

    functions = sub.add_parser("functions", help="the Nuclio functions (functions/<runtime>/function.yaml)")
    functions.add_argument("action", choices=["render"])

    images = sub.add_parser("images", help="the runtime images (runtimes/<runtime>/Dockerfile)")
    images.add_argument("action", choices=["render", "build"])
    images.add_argument("runtimes", nargs="*", help="default: all")
    images.add_argument("--base", help="the base image (default debian:bookworm-slim)")

    args = parser.parse_args(argv)
    commands = {
        "run": _run,
        "runtimes": _runtimes,
        "selftest": _selftest,
        "demo": _demo,
        "functions": _functions,
        "worker": _worker,
        "serve": _serve,
        "up": _up,
        "down": _down,
        "status": _status,
        "images": _images,
    }
    from .dispatcher.config import ConfigError

    try:
        return commands[args.command](args)
    except ConfigError as exc:  # a mistyped key is named, never silently ignored
        print(f"codering-x: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .errors import RequestError

    try:
        files = [SourceFile(name=f.name, content=f.read_text()) for f in args.files]
        stdin = args.stdin_file.read_text() if args.stdin_file else (args.stdin or "")
        tests = [TestCase.model_validate(t) for t in json.loads(args.tests.read_text())] if args.tests else []
        request = RunRequest(runtime=args.runtime, files=files, stdin=stdin, args=args.args, tests=tests)
        result = Engine.create().run(request)
    except (OSError, ValueError, ValidationError, RequestError) as exc:
        print(f"codering-x: {_message(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_summary(result)
    return 0 if result.status == "ok" else 1


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _print_summary(result: RunResult) -> None:
    print(f"{result.runtime.name} {result.runtime.version}: {result.status}")
    if result.compile is not None and result.compile.status != "ok":
        _print_stage("compile", result.compile)
    if result.run is not None:
        _print_stage("run", result.run)
    for test in result.tests:
        print(f"  test {test.name}: {test.status} ({test.run.wall_time_ms} ms)")
        if test.status == "wrong_answer":
            print(f"    expected: {test.expected_stdout!r}\n    got:      {test.run.stdout!r}")


def _print_stage(name: str, stage: StageResult) -> None:
    how = f"exit {stage.exit_code}" if stage.signal is None else f"signal {stage.signal}"
    limit = f", {stage.message}" if stage.message else ""
    print(f"  {name}: {stage.status} ({how}, {stage.cpu_time_ms} ms cpu, {stage.wall_time_ms} ms wall, "
          f"{stage.memory_kb} KiB{limit})")  # fmt: skip
    for label, text in (("stdout", stage.stdout), ("stderr", stage.stderr)):
        if text:
            print(f"  --- {label} ---\n{text.rstrip()}")


def _runtimes(args: argparse.Namespace) -> int:
    from .catalogue import Catalogue

    for runtime in Catalogue.load().runtimes.values():
        state = (
            runtime.toolchain_version
            if runtime.available
            else f"unavailable (missing {', '.join(runtime.missing_tools)})"
        )
        print(f"{runtime.name:<11} {', '.join(runtime.aliases):<28} {state}")
    return 0


def _selftest(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox
    from .selftest import run_self_test

    sandbox = Sandbox.create()
    result = run_self_test(sandbox)
    print(json.dumps({"passed": result.passed, "failures": result.failures, "sandbox": sandbox.describe()}, indent=2))
    return 0 if result.passed else 1


def _demo(args: argparse.Namespace) -> int:
    from .engine import Engine

    engine = Engine.create()
    print(f"sandbox: {engine.sandbox.describe()}\n")
    for runtime in engine.catalogue.available():
        source = EXAMPLES / "hello" / runtime.entry
        if not source.exists():
            continue
        result = engine.run(
            RunRequest(runtime=runtime.name, files=[SourceFile(name=runtime.entry, content=source.read_text())])
        )
        out = (result.run.stdout.strip() if result.run else "") or result.status
        print(
            f"{runtime.name:<11} {runtime.toolchain_version:<10} {result.status:<14} {result.meta.elapsed_ms:>7.1f} ms  {out}"
        )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .dispatcher.config import Settings
    from .dispatcher.server import main as serve_main

    settings = Settings.load(args.config, host=args.host, port=args.port)
    embedded = settings.embedded.model_copy(
        update={
            k: v for k, v in {"workers_per_runtime": args.workers_per_runtime, "runtimes": args.runtimes}.items() if v
        }
    )
    return serve_main(settings.model_copy(update={"embedded": embedded}))


def _up(args: argparse.Namespace) -> int:
    from .devmode import run_up
    from .dispatcher.config import Settings
    from .images import DockerUnavailable

    settings = Settings.load(args.config, host=args.host, port=args.port)
    try:
        return run_up(args.runtimes, args.replicas, settings, build_missing=not args.no_build, project=args.project)
    except (DockerUnavailable, RuntimeError, LookupError) as exc:
        print(f"codering-x: {exc}", file=sys.stderr)
        return 1


def _devmode(project: str):
    """The project's dev mode, or None (said on stderr) when no Docker engine answers."""
    from .devmode import DevMode
    from .images import DockerUnavailable

    try:
        return DevMode.connect(project)
    except DockerUnavailable as exc:
        print(f"codering-x: {exc}", file=sys.stderr)
        return None


def _down(args: argparse.Namespace) -> int:
    if (dev := _devmode(args.project)) is None:
        return 1
    removed = dev.down()
    print(f"removed {len(removed)}: {' '.join(removed)}" if removed else "nothing to remove")
    return 0


def _status(args: argparse.Namespace) -> int:
    if (dev := _devmode(args.project)) is None:
        return 1
    rows = dev.status_rows()
    header = ("RUNTIME", "CONTAINER", "STATE", "HEALTH", "PORT")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .worker import main as worker_main

    return worker_main(args.runtime, args.host, args.port, args.concurrency, args.name, args.fault)


def _functions(args: argparse.Namespace) -> int:
    from .catalogue import Catalogue
    from .functions import render_all

    for path in render_all(Catalogue.load()):
        print(f"wrote {path}")
    return 0


def _images(args: argparse.Namespace) -> int:
    from .catalogue import Catalogue, UnknownRuntime
    from .images import DockerUnavailable, build, render_all, select

    catalogue = Catalogue.load()
    if args.action == "render":
        for path in render_all(catalogue):
            print(f"wrote {path}")
        return 0
    try:
        built = build(select(catalogue, args.runtimes), base=args.base)
    except (DockerUnavailable, UnknownRuntime, RuntimeError) as exc:
        print(f"codering-x: {exc}", file=sys.stderr)
        return 1
    for name, tag in built.items():
        print(f"{name:<11} {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
