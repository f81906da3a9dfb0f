"""`python -m bench [SCENARIO...]`: the benchmark harness (docs/benchmarks.md).

Scenarios: floor engine embedded prewarm tail tests compiled interactive docker throughput (default: all). Every run
measures the floor first, prints a table per scenario, and writes bench/results/<name>.json;
`--report` also writes docs/benchmarks.md and docs/benchmarks.png from all results on disk.
"""

from __future__ import annotations

import argparse

from bench import scenarios
from bench.report import write_report
from bench.stats import RESULTS, save

ALL = ["floor", "engine", "embedded", "prewarm", "tail", "tests", "compiled", "interactive", "docker", "throughput"]
RUNTIMES = ["python", "javascript", "ruby", "php", "c", "java"]


def table(title: str, rows: dict) -> None:
    print(f"\n{title} (ms)")
    print(f"{'':<34}{'n':>6}{'median':>9}{'p95':>9}{'p99':>9}{'x floor':>9}")
    for label, r in rows.items():
        ratio = f"{r['x_floor']:>9.2f}" if "x_floor" in r else f"{'':>9}"
        print(f"{label:<34}{r['n']:>6}{r['median']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of: {' '.join(ALL)} (default: all)")
    parser.add_argument("--runs", type=int, default=200, help="requests per latency row")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per throughput step")
    parser.add_argument("--levels", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32], help="throughput concurrency")
    parser.add_argument("--report", action="store_true", help="write docs/benchmarks.md and its chart")
    args = parser.parse_args()
    chosen = args.scenarios or ALL
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    bench = scenarios.Workbench()
    try:
        floors = scenarios.floor(bench, args.runs, RUNTIMES)
        table("floor: the bare program, plain subprocess", floors)
        save("floor", {"rows": floors})
        if "engine" in chosen:
            rows = scenarios.engine(bench, args.runs, RUNTIMES, floors)
            table("engine: in-process", rows)
            save("engine", {"rows": rows, "floor": floors})
        if "embedded" in chosen:
            rows = scenarios.embedded(bench, args.runs, floors)
            table("embedded: worker processes on 127.0.0.1", rows)
            save("embedded", {"rows": rows, "floor": floors})
        if "prewarm" in chosen:
            result = scenarios.prewarm(bench, args.runs, floors, args.duration)
            table("prewarm: hello world, hedged dispatcher, cold vs prewarmed workers", result["rows"])
            for label, row in result["saturation"].items():
                print(f"  python at concurrency 16, {label}: {row['per_second']:.0f} runs/s, p99 {row['p99']:.1f} ms")
            save("prewarm", {**result, "floor": floors})
        if "tail" in chosen:
            rows = scenarios.tail(bench, max(args.runs, 300), floors)
            table("tail: one of two workers stalls 200 ms every 3rd request", rows)
            for label, r in rows.items():
                print(f"  {label}: p99.9 {r['p99.9']:.1f} ms, p99/median {r['p99'] / r['median']:.2f}")
            save("tail", {"rows": rows, "floor": floors})
        if "tests" in chosen:
            rows = scenarios.tests(bench, args.runs)
            table("tests: a C++ solution, 20 test cases", rows)
            save("tests", {"rows": rows})
        if "compiled" in chosen:
            rows = scenarios.compiled(bench, args.runs)
            table("compiled: hello world, hedged dispatcher, vs the bare toolchain (x floor: x bare)", rows)
            save("compiled", {"rows": rows})
        if "interactive" in chosen:
            result = scenarios.interactive(bench, args.runs, floors)
            table("interactive: hello world through the dispatcher, a session vs POST /v1/run", result["rows"])
            idle = result["idle"]
            print(
                f"  {idle['sessions']} idle sessions: server RSS {idle['server_rss_mb_before']} -> "
                f"{idle['server_rss_mb_during']} MB ({idle['per_session_kb']} KiB each), "
                f"CPU {idle['server_cpu_percent']}% over {idle['seconds']:g} s"
            )
            save("interactive", {**result, "floor": floors})
        if "docker" in chosen:
            rows = scenarios.docker(bench, args.runs, floors)
            table("docker: warm containers vs a container per request", rows)
            save("docker", {"rows": rows, "floor": floors})
        if "throughput" in chosen:
            curves = scenarios.throughput(bench, args.duration, args.levels)
            print(f"\nthroughput: python hello world, closed loop, {args.duration:g} s per step (runs/s, p50/p99 ms)")
            print(f"{'concurrency':<34}" + "".join(f"{c:>16}" for c in args.levels))
            for name, steps in curves.items():
                cells = "".join(f"{s['per_second']:>7.0f} {s['median']:>3.0f}/{s['p99']:<4.0f}" for s in steps.values())
                print(f"{name:<34}{cells}")
            save("throughput", {"curves": curves, "duration_s": args.duration})
    finally:
        bench.close()
    if args.report:
        print(f"\nreport: {write_report()}")
    print(f"results in {RESULTS}")


if __name__ == "__main__":
    main()
