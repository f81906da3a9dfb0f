"""Timing helpers shared by the benchmarks: repeat a call, summarise in milliseconds."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def measure(fn: Callable[[], object], runs: int, warmup: int = 3, pause_s: float = 0.0) -> list[float]:
    """`runs` timed calls after `warmup` untimed ones; `pause_s`: an untimed wait before each
    (a learner's pace, rather than requests back to back)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        time.sleep(pause_s)
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"median": statistics.median(ordered), "p95": pct(95), "p99": pct(99), "n": len(ordered)}


def versions() -> dict[str, str]:
    """The toolchains and engine a result was measured with."""
    import subprocess

    probes = {"python3": ["python3", "--version"], "node": ["node", "--version"], "java": ["java", "-version"],
              "gcc": ["gcc", "-dumpfullversion"], "docker": ["docker", "version", "--format", "{{.Server.Version}}"]}  # fmt: skip
    found = {}
    for name, argv in probes.items():
        try:
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}  # the sandbox's toolchains
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env)
            text = (out.stdout or out.stderr).strip()
            found[name] = text.splitlines()[0] if text else "?"
        except (OSError, subprocess.TimeoutExpired):
            found[name] = "absent"
    return found


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release(), "versions": versions()}


def save(name: str, data: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    path.write_text(json.dumps({"measured": stamp, "machine": machine(), **data}, indent=2))
    return path
