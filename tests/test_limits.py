"""Every limit, hit by a program that hits it: the right status and the right `limit`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_leftovers")


def test_cpu_spin_is_a_cpu_time_limit(run):
    result = run("python", "while True: pass", limits={"cpu_time_ms": 1000})
    assert (result.status, result.run.limit) == ("time_limit", "cpu")
    assert 900 <= result.run.cpu_time_ms <= 2500


def test_sleep_is_a_wall_time_limit(run):
    result = run("python", "import time\nprint('started', flush=True)\ntime.sleep(60)", limits={"wall_time_ms": 700})
    assert (result.status, result.run.limit) == ("time_limit", "wall")
    assert (result.run.exit_code, result.run.signal) == (None, None)  # our stop: neither the program's
    assert 700 <= result.run.wall_time_ms < 2500
    assert result.run.stdout == "started\n"  # what it printed before the kill is kept


def test_blocking_read_on_stdin_is_a_wall_time_limit(run):
    result = run("bash", "read x; sleep 60", limits={"wall_time_ms": 500})
    assert (result.status, result.run.limit) == ("time_limit", "wall")


def test_heap_growth_is_a_memory_limit(run):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))"
    result = run("python", code, limits={"memory_mb": 128})
    assert (result.status, result.run.limit) == ("memory_limit", "memory")


def test_shared_memory_bomb_is_a_memory_limit(run):
    """MAP_SHARED anonymous memory slips past RLIMIT_DATA; the memory cgroup catches it."""
    code = "import mmap\nm = mmap.mmap(-1, 512 << 20)\nfor i in range(0, len(m), 4096):\n    m[i] = 1\nprint('escaped')"
    result = run("python", code, limits={"memory_mb": 128})
    assert result.status == "memory_limit" and "escaped" not in result.run.stdout


def test_output_flood_keeps_the_prefix(run):
    result = run("python", "while True: print('0123456789')", limits={"output_bytes": 1000})
    assert (result.status, result.run.limit) == ("output_limit", "output")
    assert result.run.stdout_truncated and len(result.run.stdout) == 1000
    assert result.run.stdout.startswith("0123456789\n0123456789\n")


def test_stderr_flood_is_an_output_limit_too(run):
    result = run("bash", "yes err >&2", limits={"output_bytes": 500})
    assert (result.status, result.run.limit) == ("output_limit", "output")
    assert result.run.stderr_truncated and len(result.run.stderr) == 500


def test_file_too_large(run):
    code = "with open('big', 'wb') as f:\n    for _ in range(100):\n        f.write(b'x' * (1 << 20))"
    result = run("python", code)
    assert (result.status, result.run.limit) == ("output_limit", "file_size")


def test_too_many_processes(run):
    code = "import subprocess\nps = [subprocess.Popen(['sleep', '5']) for _ in range(20)]"
    result = run("python", code, limits={"processes": 6})
    assert (result.status, result.run.limit) == ("runtime_error", "processes")
    assert "Resource temporarily unavailable" in result.run.stderr


def test_lower_limits_are_applied_and_reported_within_maxima(run):
    result = run("python", "print(1)", limits={"cpu_time_ms": 500, "memory_mb": 64, "processes": 4})
    assert result.status == "ok"


# 100 MB under a 256 MB limit must work; 400 MB must be a memory_limit, for the runtimes
# whose memory model fights RLIMIT_AS (JVM, Go, V8).
ALLOCATE = {
    "java": "public class Main { public static void main(String[] a) {\n"
    " byte[][] keep = new byte[{n}][];\n"
    " for (int i = 0; i < {n}; i++) { keep[i] = new byte[1 << 20]; java.util.Arrays.fill(keep[i], (byte) i); }\n"
    ' System.out.println("allocated " + keep.length); } }\n',
    "go": 'package main\nimport "fmt"\nfunc main() {\n keep := [][]byte{}\n for i := 0; i < {n}; i++ {\n'
    "  b := make([]byte, 1<<20)\n  for j := range b { b[j] = byte(i) }\n  keep = append(keep, b)\n }\n"
    ' fmt.Println("allocated", len(keep))\n}\n',
    "javascript": "const keep = [];\n"
    "for (let i = 0; i < {n}; i++) keep.push(new Array(131072).fill(i + 0.5));\n"
    'console.log("allocated", keep.length);\n',
}


@pytest.mark.parametrize("runtime", sorted(ALLOCATE))
def test_100_mb_fits_in_256(run, runtime):
    result = run(runtime, ALLOCATE[runtime].replace("{n}", "100"), limits={"memory_mb": 256})
    assert result.status == "ok", result.model_dump()
    assert result.run.stdout.split() == ["allocated", "100"]


@pytest.mark.parametrize("runtime", sorted(ALLOCATE))
def test_400_mb_is_a_memory_limit_under_256(run, runtime):
    result = run(runtime, ALLOCATE[runtime].replace("{n}", "400"), limits={"memory_mb": 256})
    assert (result.status, result.run.limit) == ("memory_limit", "memory"), result.model_dump()
