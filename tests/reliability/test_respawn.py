"""Nothing lost when workers die faster than they come back (issue 20): a request whose
workers have all failed waits, within its deadline, for a respawned one. No client retries
here: every request must be answered, correctly, the first time."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time

import aiohttp

from codering_x.localprocs import call, wait_ready
from tests.dispatcher.test_embedded import worker_pids

C_HELLO = (
    '#include <stdio.h>\nint main(void){int n; if (scanf("%d", &n) != 1) return 9; printf("%d\\n", n * 2); return 0;}\n'
)
# (request, what the answer must say), each tagged with n so that no answer can pass for another
MIXES = [
    (lambda n: {"runtime": "python", "code": "print(int(input()) * 2)", "stdin": f"{n}\n"}, ("ok", "2n")),
    (lambda n: {"runtime": "c", "code": C_HELLO, "stdin": f"{n}\n"}, ("ok", "2n")),
    (lambda n: {"runtime": "c", "code": f"int main(void) {{ return {n} +; }}"}, ("compile_error", None)),
    (lambda n: {"runtime": "python", "code": f"raise SystemExit({n % 100 + 1})"}, ("runtime_error", "exit")),
    (lambda n: {"runtime": "python", "code": "while True: pass", "limits": {"cpu_time_ms": 300}}, ("time_limit", None)),
    (lambda n: {"runtime": "python", "code": "while True: print('x' * 100)", "limits": {"output_bytes": 1000}},
     ("output_limit", None)),
]  # fmt: skip


def check(n: int, status: int, body: dict) -> str | None:
    """None if the answer is the right one for request n, else what is wrong."""
    expected, detail = MIXES[n % len(MIXES)][1]
    if status != 200 or body.get("status") != expected:
        return f"{n}: HTTP {status} {str(body)[:300]}"
    if detail == "2n" and body["run"]["stdout"] != f"{2 * n}\n":
        return f"{n}: stdout {body['run']['stdout']!r}"
    if detail == "exit" and body["run"]["exit_code"] != n % 100 + 1:
        return f"{n}: exit code {body['run']['exit_code']}"
    return None


async def load(url: str, total: int, concurrency: int) -> tuple[list[str], list[float]]:
    """Send `total` mixed requests, `concurrency` at a time, once each: (wrong answers, seconds)."""
    wrong: list[str] = []
    seconds: list[float] = []
    numbers = iter(range(total))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def client() -> None:
            for n in numbers:
                started = time.monotonic()
                async with session.post(f"{url}/v1/run", json=MIXES[n % len(MIXES)][0](n)) as response:
                    body = await response.json()
                seconds.append(time.monotonic() - started)
                problem = check(n, response.status, body)
                if problem:
                    wrong.append(problem)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return wrong, seconds


def healthy(url: str, runtime: str) -> int:
    body = call(url, "/v1/runtimes")[1]
    return next(r["healthy_workers"] for r in body["runtimes"] if r["name"] == runtime)


def chaos(url: str, serve_pid: int, stop: threading.Event, kills: list[str], respawns: list[float]) -> None:
    """Every 3 s, SIGKILL one worker of each runtime; time how long until the dispatcher has
    two healthy workers of it again."""
    rng = random.Random(20)
    while not stop.wait(3.0):
        workers = worker_pids(serve_pid)
        killed_at = time.monotonic()
        runtimes = []
        for runtime in ("python", "c"):
            mine = sorted((name, pid) for name, pid in workers.items() if name.startswith(f"{runtime}-"))
            if mine:
                name, pid = rng.choice(mine)
                os.kill(pid, signal.SIGKILL)
                kills.append(name)
                runtimes.append(runtime)
        time.sleep(0.3)  # the dispatcher has seen them go
        for runtime in runtimes:
            while healthy(url, runtime) < 2 and not stop.is_set():
                time.sleep(0.02)
            if not stop.is_set():
                respawns.append(time.monotonic() - killed_at)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def test_a_worker_of_each_runtime_killed_every_3_s_loses_nothing(procs):
    serve = procs.serve("--runtimes", "python", "c", "--workers-per-runtime", "2")
    wait_ready(serve.url, timeout=120)
    stop, kills, respawns = threading.Event(), [], []
    thread = threading.Thread(target=chaos, args=(serve.url, serve.popen.pid, stop, kills, respawns))
    thread.start()
    try:
        wrong, seconds = asyncio.run(load(serve.url, 600, 32))
    finally:
        stop.set()
        thread.join()
    assert not wrong, f"{len(wrong)} of 600 wrong or unanswered: {wrong[:5]}; killed {kills}"
    assert len(kills) >= 4, kills
    print(
        f"600 requests, 0 lost, {len(kills)} workers killed; p50 {percentile(seconds, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(seconds, 0.99) * 1000:.0f} ms; respawn to healthy: median "
        f"{percentile(respawns, 0.5):.2f} s, max {max(respawns, default=0):.2f} s"
    )


def test_both_workers_of_a_runtime_killed_at_once_lose_nothing(procs):
    serve = procs.serve("--runtimes", "python", "--workers-per-runtime", "2")
    wait_ready(serve.url, timeout=120)
    request = {"runtime": "python", "code": "import time\ntime.sleep(0.5)\nprint(int(input()) * 2)"}
    answers: list = [None] * 8

    def send(i: int) -> None:
        answers[i] = call(serve.url, body={**request, "stdin": f"{i}\n"})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.25)  # in flight on both workers
    killed = time.monotonic()
    for pid in worker_pids(serve.popen.pid).values():
        os.kill(pid, signal.SIGKILL)
    later = [threading.Thread(target=send, args=(i,)) for i in range(4, 8)]  # sent while none is alive
    for t in later:
        t.start()
    for t in threads + later:
        t.join(60)
    waited = time.monotonic() - killed
    for i, (status, body, _) in enumerate(answers):
        assert status == 200 and body["run"]["stdout"] == f"{2 * i}\n", (i, status, body)
    print(f"both python workers killed: 8 of 8 answered, the last {waited:.2f} s after the kill")


def test_a_request_whose_client_leaves_while_it_waits_costs_no_run(procs):
    serve = procs.serve("--runtimes", "python", "--workers-per-runtime", "2")
    wait_ready(serve.url, timeout=120)

    async def leave_while_waiting() -> None:
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                async with session.post(f"{serve.url}/v1/run", json={"runtime": "python", "code": "print(1)"}):
                    raise AssertionError("answered while no worker was alive")
            except TimeoutError:
                pass

    for pid in worker_pids(serve.popen.pid).values():
        os.kill(pid, signal.SIGKILL)
    asyncio.run(leave_while_waiting())
    wait_ready(serve.url, timeout=60)
    time.sleep(0.5)
    metrics = call_text(serve.url + "/metrics")
    assert 'codering_requests_total{runtime="python",status="cancelled"} 1.0' in metrics
    assert 'status="ok"' not in metrics  # it was never sent: no worker answered it


def call_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
