"""The benchmark scenarios. Each returns rows {label: summary}, every latency row carrying
its ratio to the floor measured in the same run."""

from __future__ import annotations

import http.client
import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from bench.stats import measure, summary
from codering_x.catalogue import SANDBOX_PATH, Catalogue, resolve
from codering_x.dispatcher.hedging import MIN_ANSWERS
from codering_x.engine import Engine
from codering_x.localprocs import Procs, wait_ready
from codering_x.models import RunRequest

CLEAN_ENV = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": "/nonexistent"}
PACE_S = 0.1  # between hello worlds "at a learner's pace": what a request leaves behind is done by then
EDIT_PACE_S = 1.0  # between a learner's edits
PRIMING = MIN_ANSWERS + 1  # untimed requests first: the p90 policy hedges at once until it has seen these
HELLO = {
    "python": ("main.py", "print('hello')\n"),
    "javascript": ("main.js", "console.log('hello')\n"),
    "ruby": ("main.rb", "puts 'hello'\n"),
    "php": ("main.php", '<?php echo "hello\\n";\n'),
    "c": ("main.c", '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'),
    "java": (
        "Main.java",
        'public class Main { public static void main(String[] a) { System.out.println("hello"); } }\n',
    ),
}


class Client:
    """One keep-alive HTTP connection posting one body: the same client cost for every target."""

    def __init__(self, url: str, path: str, body: dict) -> None:
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.path, self.body = path, json.dumps(body).encode()

    def __call__(self) -> dict:
        self.conn.request("POST", self.path, self.body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and answer["status"] in ("ok", "wrong_answer"), answer
        return answer


class Workbench:
    """What the scenarios share: a scratch dir, compiled floors, an engine, local processes."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="codering-bench-"))
        self.procs = Procs(tmp=self.tmp)
        self._engine: Engine | None = None
        self._floor_argv: dict[str, list[str]] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.create()
        return self._engine

    def floor_argv(self, runtime: str) -> list[str]:
        """The bare program: an interpreter on the source, or the binary compiled once."""
        if runtime not in self._floor_argv:
            name, code = HELLO[runtime]
            work = self.tmp / f"floor-{runtime}"
            work.mkdir()
            (work / name).write_text(code)
            if runtime == "c":
                subprocess.run([resolve("gcc"), "-O2", "-o", str(work / "main"), str(work / name)], check=True)
                argv = [str(work / "main")]
            elif runtime == "java":
                subprocess.run([resolve("javac"), "-d", str(work), str(work / name)], check=True)
                argv = [
                    resolve("java"),
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Xshare:auto",
                    "-cp",
                    str(work),
                    "Main",
                ]
            else:
                interpreter = {"python": "python3", "javascript": "node", "ruby": "ruby", "php": "php"}[runtime]
                argv = [resolve(interpreter), str(work / name)]
            self._floor_argv[runtime] = argv
        return self._floor_argv[runtime]

    def bare(self, runtime: str) -> Callable[[], None]:
        argv = self.floor_argv(runtime)
        return lambda: subprocess.run(argv, env=CLEAN_ENV, capture_output=True, check=True)

    def close(self) -> None:
        self.procs.stop_all()


def with_ratio(row: dict, floor: float) -> dict:
    return {**row, "x_floor": row["median"] / floor}


# -- scenarios ---------------------------------------------------------------------------
def floor(bench: Workbench, runs: int, runtimes: list[str]) -> dict:
    rows = {rt: summary(measure(bench.bare(rt), runs)) for rt in runtimes}
    return {rt: with_ratio(row, row["median"]) for rt, row in rows.items()}


def engine(bench: Workbench, runs: int, runtimes: list[str], floors: dict) -> dict:
    rows = {}
    for rt in runtimes:
        code = HELLO[rt][1]
        if rt in ("c", "java"):  # compiled once; a run in a full box (uid, limits, helper, teardown)
            runtime = bench.engine.catalogue.get(rt)
            artefacts = Path(bench.floor_argv(rt)[-1] if rt == "c" else bench.floor_argv(rt)[-2])
            call = _boxed_run(bench.engine, runtime, artefacts)
            label = f"{rt} (run only)"
        else:
            request = RunRequest(runtime=rt, code=code)
            call, label = (lambda r=request: bench.engine.run(r)), rt
        rows[label] = with_ratio(summary(measure(call, runs)), floors[rt]["median"])
    return rows


def _boxed_run(engine: Engine, runtime, artefact: Path) -> Callable[[], None]:
    def call() -> None:
        with engine.sandbox.box() as box:
            if artefact.is_dir():  # java classes
                for f in artefact.glob("*.class"):
                    box.write_file(f.name, f.read_bytes())
            else:
                box.write_file("main", artefact.read_bytes(), mode=0o755)
            argv = runtime.expand(runtime.run, runtime.entry, [], str(box.workdir), 256)
            env = runtime.environment(runtime.run, runtime.entry, str(box.workdir), 256)
            limits = runtime.default_limits.model_copy(update={"processes": 64, "cpu_time_ms": 5000})
            result = box.run(argv, env, runtime.process_limits(limits))
            assert result.exit_code == 0, result

    return call


def embedded(bench: Workbench, runs: int, floors: dict) -> dict:
    """Through the dispatcher over worker processes on 127.0.0.1, hedged and not."""
    rows = {}
    workers = {rt: [bench.procs.worker(rt, name=f"{rt}-{i}") for i in (1, 2)] for rt in ("python", "javascript")}
    every = [w for ws in workers.values() for w in ws]
    dispatchers = {
        "hedged, both at once (default)": bench.procs.dispatcher(every),
        "hedged at the p90 (adaptive)": bench.procs.dispatcher(every, hedge={"delay_quantile": 0.9}),
        "unhedged": bench.procs.dispatcher(every, hedge={"fanout": 1}),
    }
    for rt in workers:
        body = {"runtime": rt, "code": HELLO[rt][1]}
        rows[f"{rt}, one worker"] = with_ratio(
            summary(measure(Client(workers[rt][0].url, "/", body), runs)), floors[rt]["median"]
        )
        for label, dispatcher in dispatchers.items():
            row = summary(measure(Client(dispatcher.url, "/v1/run", body), runs, warmup=PRIMING))
            rows[f"{rt}, {label}"] = with_ratio(row, floors[rt]["median"])
        # At a learner's pace: what a request leaves behind (a hedge's loser, refills) is done.
        paced = {"one worker": Client(workers[rt][0].url, "/", body)}
        for label in ("hedged, both at once (default)", "hedged at the p90 (adaptive)"):
            paced[label] = Client(dispatchers[label].url, "/v1/run", body)
        for label, client in paced.items():
            row = summary(measure(client, runs // 2, warmup=PRIMING, pause_s=PACE_S))
            rows[f"{rt}, {label}, {PACE_S:g} s apart"] = with_ratio(row, floors[rt]["median"])
    return rows


PREWARMED = ("python", "javascript", "ruby", "php")


def prewarm(bench: Workbench, runs: int, floors: dict, duration: float) -> dict:
    """Hello world through the hedged dispatcher, workers without and with prewarmed
    members (CODERING_PREWARM=0 / the default), and python at saturation both ways."""
    rows, saturation = {}, {}
    for label, env in (("cold", {"CODERING_PREWARM": "0"}), ("prewarmed", {})):
        workers = {rt: [bench.procs.worker(rt, name=f"{rt}-{label}{i}", env=env) for i in (1, 2)] for rt in PREWARMED}
        dispatcher = bench.procs.dispatcher([w for ws in workers.values() for w in ws])
        time.sleep(2)  # the pools fill
        for rt in PREWARMED:
            body = {"runtime": rt, "code": HELLO[rt][1]}
            row = summary(measure(Client(dispatcher.url, "/v1/run", body), runs))
            rows[f"{rt}, hedged, {label}"] = with_ratio(row, floors[rt]["median"])
        body = {"runtime": "python", "code": HELLO["python"][1]}
        saturation[label] = _closed_loop(lambda u=dispatcher.url, b=body: Client(u, "/v1/run", b), 16, duration)
        for proc in (dispatcher, *[w for ws in workers.values() for w in ws]):
            proc.stop()
    return {"rows": rows, "saturation": saturation}


def tail(bench: Workbench, runs: int, floors: dict) -> dict:
    """One of two workers stalls 200 ms on every third request."""
    good = bench.procs.worker(name="python-good")
    stalling = bench.procs.worker(name="python-stall", fault="stall:200:3")
    body = {"runtime": "python", "code": HELLO["python"][1]}
    rows = {}
    for label, hedge in (("hedged", {}), ("unhedged", {"fanout": 1})):
        dispatcher = bench.procs.dispatcher([good, stalling], hedge=hedge)
        samples = measure(Client(dispatcher.url, "/v1/run", body), runs)
        row = summary(samples)
        ordered = sorted(samples)
        row["p99.9"] = ordered[min(len(ordered) - 1, round(0.999 * (len(ordered) - 1)))]
        rows[f"stall 1 in 3, {label}"] = with_ratio(row, floors["python"]["median"])
    return rows


def tests(bench: Workbench, runs: int) -> dict:
    """A C++ solution with 20 test cases: one request (compile once, run 20) versus 20 requests."""
    code = "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }\n"
    cases = [{"stdin": f"{i} {i}", "expected_stdout": str(2 * i)} for i in range(20)]
    workers = [bench.procs.worker("cpp", name=f"cpp-{i}") for i in (1, 2)]
    dispatcher = bench.procs.dispatcher(workers)
    one = Client(dispatcher.url, "/v1/run", {"runtime": "cpp", "code": code, "tests": cases})
    separate = [Client(dispatcher.url, "/v1/run", {"runtime": "cpp", "code": code, "stdin": c["stdin"]}) for c in cases]

    def twenty_requests() -> None:
        for client in separate:
            client()

    n = max(3, runs // 20)
    return {
        "20 tests, 1 request": summary(measure(one, n, warmup=1)),
        "20 separate requests": summary(measure(twenty_requests, n, warmup=1)),
    }


COMPILED = {
    "c": HELLO["c"],
    "cpp": ("main.cpp", '#include <iostream>\nint main() { std::cout << "hello" << std::endl; }\n'),
    "go": ("main.go", 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello") }\n'),
    "java": HELLO["java"],
    "rust": ("main.rs", 'fn main() { println!("hello"); }\n'),
}


def _bare_toolchain(bench: Workbench, runtime_name: str) -> Callable[[], None]:
    """The runtime's own compile and run commands, outside any sandbox, in a fresh temp dir
    each time (a new source compiles from nothing, go's build cache included)."""
    runtime = Catalogue.load().get(runtime_name)
    name, code = COMPILED[runtime_name]
    counter = iter(range(1_000_000))

    def call() -> None:
        work = bench.tmp / f"bare-{runtime_name}-{next(counter)}"
        work.mkdir()
        (work / name).write_text(code)
        for command in (runtime.compile, runtime.run):
            assert command is not None
            argv = runtime.expand(command, name, [name], str(work), 256)
            env = {**CLEAN_ENV, **runtime.environment(command, name, str(work), 256)}
            subprocess.run(argv, cwd=work, env=env, capture_output=True, check=True)
        subprocess.run(["rm", "-rf", str(work)], check=True)

    return call


class NewSource(Client):
    """A client whose every request is a source never sent before (a comment makes it new)."""

    def __init__(self, url: str, runtime: str, code: str) -> None:
        super().__init__(url, "/v1/run", {})
        self.runtime, self.code, self.sent, self.tag = runtime, code, 0, uuid.uuid4().hex

    def __call__(self) -> dict:
        self.sent += 1
        code = f"{self.code}// {self.tag} {self.sent}\n"
        self.body = json.dumps({"runtime": self.runtime, "code": code}).encode()
        return super().__call__()


def compiled(bench: Workbench, runs: int) -> dict:
    """Hello world in each compiled runtime through the dispatcher: a new source each time
    (a learner's edit, pressed at a learner's pace and back to back; hedged at once, the
    default, and at the p90), and the same source again (the compile cache), against the
    bare toolchain."""
    n = max(5, runs // 20)
    rows = {}
    for rt, (_, code) in COMPILED.items():
        workers = [bench.procs.worker(rt, name=f"{rt}-{i}") for i in (1, 2)]
        at_once = bench.procs.dispatcher(workers, hedge={"runtimes": {}})  # at once, even for java
        adaptive = bench.procs.dispatcher(workers, hedge={"delay_quantile": 0.9, "runtimes": {}})
        bare = summary(measure(_bare_toolchain(bench, rt), n, warmup=1))
        rows[f"{rt}, bare toolchain"] = with_ratio(bare, bare["median"])
        cases = {
            f"new source, {EDIT_PACE_S:g} s apart, at once": (at_once, EDIT_PACE_S),
            "new source, back to back, at once": (at_once, 0.0),
            f"new source, {EDIT_PACE_S:g} s apart, at the p90": (adaptive, EDIT_PACE_S),
        }
        for label, (dispatcher, pause) in cases.items():
            warmup = PRIMING if dispatcher is adaptive else 1
            fresh = summary(measure(NewSource(dispatcher.url, rt, code), n, warmup=warmup, pause_s=pause))
            rows[f"{rt}, {label}"] = with_ratio(fresh, bare["median"])
        again = summary(measure(Client(at_once.url, "/v1/run", {"runtime": rt, "code": code}), n, warmup=2))
        rows[f"{rt}, same source again"] = with_ratio(again, bare["median"])
        for proc in (at_once, adaptive, *workers):
            proc.stop()
    return rows


def docker(bench: Workbench, runs: int, floors: dict) -> dict:
    """Warm worker containers through the dispatcher, beside `docker run --rm` per request."""
    from codering_x.devmode import DevMode
    from codering_x.functions import image_name

    project = "codering-x-bench"
    dev = DevMode.connect(project)
    image = image_name(Catalogue.load().get("python"))
    up = bench.procs.up("python", "--project", project)
    try:
        url = up.url
        wait_ready(url, timeout=600)
        rows = {
            "containers, hedged": summary(
                measure(Client(url, "/v1/run", {"runtime": "python", "code": HELLO["python"][1]}), runs)
            )
        }

        def docker_run() -> None:
            assert (
                dev.client.containers.run(image, ["python3", "-c", "print('hello')"], remove=True, network_mode="none")
                == b"hello\n"
            )

        rows["docker run --rm"] = summary(measure(docker_run, max(10, runs // 10), warmup=2))
    finally:
        up.stop()
        dev.down()
    return {k: with_ratio(v, floors["python"]["median"]) for k, v in rows.items()}


def throughput(bench: Workbench, duration: float, levels: list[int]) -> dict:
    """Closed-loop load on python hello world: runs per second and p50/p99 at each concurrency."""
    body = {"runtime": "python", "code": HELLO["python"][1]}
    workers = [bench.procs.worker(name=f"python-t{i}", concurrency=max(levels)) for i in (1, 2)]
    hedged = bench.procs.dispatcher(workers, max_in_flight_per_runtime=1024)
    unhedged = bench.procs.dispatcher(workers, max_in_flight_per_runtime=1024, hedge={"fanout": 1})
    p95 = summary(measure(Client(hedged.url, "/v1/run", body), 50))["p95"]
    delayed = bench.procs.dispatcher(workers, max_in_flight_per_runtime=1024, hedge={"delay_ms": round(p95)})
    targets: dict[str, Callable[[], Callable[[], object]]] = {
        "floor": lambda: bench.bare("python"),
        "hedged": lambda: Client(hedged.url, "/v1/run", body),
        f"hedged, delay {round(p95)} ms (p95)": lambda: Client(delayed.url, "/v1/run", body),
        "unhedged": lambda: Client(unhedged.url, "/v1/run", body),
    }
    return {name: {str(c): _closed_loop(make, c, duration) for c in levels} for name, make in targets.items()}


def _closed_loop(make: Callable[[], Callable[[], object]], concurrency: int, duration: float) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def loop() -> None:
        call = make()
        mine = []
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            call()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    row = summary(latencies)
    row["per_second"] = len(latencies) / elapsed
    return row


def interactive(bench: Workbench, runs: int, floors: dict, idle_sessions: int = 50, idle_s: float = 10.0) -> dict:
    """Interactive sessions through the dispatcher: from `start` to the first `output` frame
    (a new WebSocket each, as a page opens one per run) beside POST /v1/run of the same
    hello world; then `idle_sessions` sessions waiting for input, and what they cost the
    server (the dispatcher and the workers) in memory and CPU while they wait."""
    import asyncio

    workers = [bench.procs.worker(rt, name=f"{rt}-i{i}") for rt in ("python", "c") for i in (1, 2)]
    dispatcher = bench.procs.dispatcher(workers)
    url = dispatcher.url.replace("http://", "ws://", 1) + "/v1/interactive"
    loop = asyncio.new_event_loop()
    http = loop.run_until_complete(_client_session())

    async def first_output(start: str) -> float:
        began = time.perf_counter()
        first = None
        async with http.ws_connect(url) as ws:
            await ws.send_str(start)
            async for message in ws:
                frame = json.loads(message.data)
                if frame["type"] == "output" and first is None:
                    first = (time.perf_counter() - began) * 1000
                assert frame["type"] != "error", frame
        assert first is not None
        return first

    rows = {}
    try:
        for rt in ("python", "c"):
            body = {"runtime": rt, "code": HELLO[rt][1]}
            start = json.dumps({"type": "start", **body})
            for _ in range(3):
                loop.run_until_complete(first_output(start))
            samples = []
            for _ in range(runs):
                time.sleep(PACE_S)
                samples.append(loop.run_until_complete(first_output(start)))
            rows[f"{rt}, session: start to first output"] = with_ratio(summary(samples), floors[rt]["median"])
            post = summary(measure(Client(dispatcher.url, "/v1/run", body), runs, pause_s=PACE_S))
            rows[f"{rt}, POST /v1/run"] = with_ratio(post, floors[rt]["median"])
        idle = loop.run_until_complete(_idle(http, url, [dispatcher, *workers], idle_sessions, idle_s))
    finally:
        loop.run_until_complete(http.close())
        loop.close()
        for proc in (dispatcher, *workers):
            proc.stop()
    return {"rows": rows, "idle": idle}


async def _client_session():  # made inside the loop that uses it
    import aiohttp

    return aiohttp.ClientSession()


async def _idle(http, url: str, procs: list, count: int, seconds: float) -> dict:
    """`count` python sessions blocked on input(): the server's RSS and CPU meanwhile."""
    import asyncio

    pids = [p.popen.pid for p in procs]
    rss_before = sum(_rss_kb(pid) for pid in pids)
    sockets = []
    start = json.dumps({"type": "start", "runtime": "python", "code": "input()", "limits": {"wall_time_ms": 600000}})
    try:
        for _ in range(count):
            ws = await http.ws_connect(url)
            await ws.send_str(start)
            sockets.append(ws)
        for ws in sockets:
            while json.loads((await ws.receive()).data)["type"] != "stage":
                pass
        await asyncio.sleep(1.0)  # the losers of the hedges are gone
        rss_during = sum(_rss_kb(pid) for pid in pids)
        cpu_before = sum(_cpu_s(pid) for pid in pids)
        await asyncio.sleep(seconds)
        cpu_used = sum(_cpu_s(pid) for pid in pids) - cpu_before
    finally:
        for ws in sockets:
            await ws.close()
    return {
        "sessions": count,
        "seconds": seconds,
        "server_rss_mb_before": round(rss_before / 1024, 1),
        "server_rss_mb_during": round(rss_during / 1024, 1),
        "per_session_kb": round((rss_during - rss_before) / count),
        "server_cpu_percent": round(100 * cpu_used / seconds, 2),
    }


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
