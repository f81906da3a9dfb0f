"""Load: 2,000 requests at concurrency 64 against `codering-x serve`, mixed runtimes and
outcomes. Every request gets exactly one well-formed answer with the right status, no 5xx,
and the dispatcher's memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import aiohttp

from codering_x.localprocs import wait_ready

# (request, expected status, a check of the answer)
CASES = [
    ({"runtime": "python", "code": "print(sum(range(int(input()))))", "stdin": "1000\n"}, "ok", "499500\n"),
    ({"runtime": "javascript", "code": "console.log(6 * 7)"}, "ok", "42\n"),
    ({"runtime": "bash", "code": "echo $((2 + 3))"}, "ok", "5\n"),
    ({"runtime": "c", "code": "int main(void) { return missing; }"}, "compile_error", None),
    ({"runtime": "python", "code": "import time\ntime.sleep(5)", "limits": {"wall_time_ms": 300}}, "time_limit", None),
    (
        {"runtime": "python", "code": "while True: print('x' * 100)", "limits": {"output_bytes": 4096}},
        "output_limit",
        None,
    ),
    ({"runtime": "python", "code": "raise SystemExit(4)"}, "runtime_error", None),
]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def load(url: str, total: int, concurrency: int) -> list[tuple[int, int, dict]]:
    rng = random.Random(7)
    plan = [rng.randrange(len(CASES)) for _ in range(total)]
    queue: asyncio.Queue = asyncio.Queue()
    for item in enumerate(plan):
        queue.put_nowait(item)
    answers: list[tuple[int, int, dict]] = []
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def client() -> None:
            while not queue.empty():
                _index, case = queue.get_nowait()
                async with session.post(f"{url}/v1/run", json=CASES[case][0]) as response:
                    answers.append((case, response.status, json.loads(await response.read())))

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return answers


def test_two_thousand_mixed_requests_at_concurrency_64(procs):
    serve = procs.serve("--runtimes", "python", "javascript", "bash", "c", "--workers-per-runtime", "2")
    wait_ready(serve.url, timeout=120)
    asyncio.run(load(serve.url, 50, 16))  # warm up
    before = rss_kb(serve.popen.pid)
    answers = asyncio.run(load(serve.url, 2000, 64))
    after = rss_kb(serve.popen.pid)
    assert len(answers) == 2000
    wrong = []
    for case, status, body in answers:
        _, expected, stdout = CASES[case]
        if status != 200 or body.get("status") != expected or (stdout is not None and body["run"]["stdout"] != stdout):
            wrong.append((case, status, str(body)[:300]))
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:3]}"
    print(f"dispatcher RSS: {before} KiB before, {after} KiB after 2,000 requests")
    assert after < before + 64 * 1024, (before, after)  # bounded: no per-request growth
