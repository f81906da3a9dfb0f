"""Engine overhead: the bare program started by a plain subprocess, beside the same program
through codering-x's engine, measured in the same run (`make bench-engine`).

Also measures spawn time while this process holds 1 GiB, to show the exec helper keeps
spawning flat where a fork()-based launch would grow with the parent's memory.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench.stats import measure, save, summary
from codering_x.catalogue import SANDBOX_PATH, resolve
from codering_x.engine import Engine
from codering_x.models import RunRequest
from codering_x.sandbox import ProcessLimits

PROGRAMS = {
    "python": ("main.py", "print('hello')\n"),
    "javascript": ("main.js", "console.log('hello')\n"),
    "c": ("main.c", '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'),
}
CLEAN_ENV = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def bare_argv(runtime: str, workdir: Path) -> list[str]:
    name, code = PROGRAMS[runtime]
    (workdir / name).write_text(code)
    if runtime == "c":
        subprocess.run([resolve("gcc"), "-O2", "-o", str(workdir / "main"), str(workdir / name)], check=True)
        return [str(workdir / "main")]
    return [resolve({"python": "python3", "javascript": "node"}[runtime]), str(workdir / name)]


def engine_call(engine: Engine, runtime: str, binary: bytes | None):
    code = PROGRAMS[runtime][1]
    if binary is None:
        request = RunRequest(runtime=runtime, code=code)

        def call() -> None:
            assert engine.run(request).status == "ok"

        return call

    def call_sandboxed_binary() -> None:
        # A compiled runtime: everything of a run except the compile (box, helper, limits, teardown).
        with engine.sandbox.box() as box:
            box.write_file("main", binary, mode=0o755)
            result = box.run([str(box.workdir / "main")], {"PATH": SANDBOX_PATH}, ProcessLimits())
            assert result.exit_code == 0

    return call_sandboxed_binary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--runtimes", nargs="*", default=list(PROGRAMS))
    args = parser.parse_args()
    engine = Engine.create()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for runtime in args.runtimes:
            workdir = Path(tmp) / runtime
            workdir.mkdir()
            argv = bare_argv(runtime, workdir)
            binary = (workdir / "main").read_bytes() if runtime == "c" else None
            bare = summary(
                measure(lambda argv=argv: subprocess.run(argv, env=CLEAN_ENV, capture_output=True), args.runs)
            )
            eng = summary(measure(engine_call(engine, runtime, binary), args.runs))
            rows.append({"runtime": runtime, "bare": bare, "engine": eng})
        python_call = engine_call(engine, "python", None)
        ballast = bytearray(1 << 30)  # the worker's memory grows: spawning must not slow down
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1
        big = summary(measure(python_call, args.runs))
        del ballast
    print(f"\nEngine overhead, {args.runs} runs each after 3 warm-ups (ms)")
    print(
        f"{'runtime':<12}{'bare median':>12}{'bare p95':>10}{'engine median':>15}{'engine p95':>12}{'diff':>8}{'ratio':>7}"
    )
    for row in rows:
        b, e = row["bare"], row["engine"]
        label = row["runtime"] + (" *" if row["runtime"] == "c" else "")
        print(f"{label:<12}{b['median']:>12.1f}{b['p95']:>10.1f}{e['median']:>15.1f}{e['p95']:>12.1f}"
              f"{e['median'] - b['median']:>+8.1f}{e['median'] / b['median']:>7.2f}")  # fmt: skip
    python_row = next((r for r in rows if r["runtime"] == "python"), None)
    print(f"python engine with 1 GiB held by the caller: median {big['median']:.1f}, p95 {big['p95']:.1f}"
          + (f" (vs {python_row['engine']['median']:.1f} without)" if python_row else ""))  # fmt: skip
    print("* c: the compiled binary in a full sandbox box (compile excluded; it runs once per request)")
    path = save("engine", {"runs": args.runs, "rows": rows, "python_engine_with_1gib_parent": big})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
