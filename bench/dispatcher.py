"""Dispatcher overhead and tail (`make bench-dispatcher`), all on 127.0.0.1 in one run:

floor     python3 hello world started by a plain subprocess
engine    the same through the engine in this process
worker    POSTed straight to one worker over HTTP
hedged    through the dispatcher, hedging over two workers (delay 0)
stall     through the dispatcher when one of its two workers stalls 200 ms on every
          third request: hedged, and with hedging off (fan-out 1)
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from bench.stats import measure, save, summary
from codering_x.catalogue import resolve
from codering_x.engine import Engine
from codering_x.localprocs import Procs
from codering_x.models import RunRequest

HELLO = {"runtime": "python", "code": "print('hello')"}
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


class Client:
    """One keep-alive connection: the client's own cost is the same for every target."""

    def __init__(self, url: str, path: str) -> None:
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        self.path, self.body = path, json.dumps(HELLO).encode()

    def __call__(self) -> None:
        self.conn.request("POST", self.path, self.body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and answer["status"] == "ok", answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hello.py"
        script.write_text("print('hello')\n")
        python = resolve("python3")
        rows["floor"] = summary(
            measure(lambda: subprocess.run([python, str(script)], env=CLEAN_ENV, capture_output=True), args.runs)
        )
        engine = Engine.create()
        request = RunRequest.model_validate(HELLO)
        rows["engine"] = summary(measure(lambda: engine.run(request), args.runs))
        procs = Procs(tmp=Path(tmp))
        try:
            a, b = procs.worker(name="python-a"), procs.worker(name="python-b")
            stalling = procs.worker(name="python-stall", fault="stall:200:3")
            hedged = procs.dispatcher([a, b])
            stall_hedged = procs.dispatcher([a, stalling])
            stall_unhedged = procs.dispatcher([a, stalling], hedge={"fanout": 1})
            rows["worker"] = summary(measure(Client(a.url, "/"), args.runs))
            rows["hedged"] = summary(measure(Client(hedged.url, "/v1/run"), args.runs))
            rows["stall, hedged"] = summary(measure(Client(stall_hedged.url, "/v1/run"), args.runs))
            rows["stall, unhedged"] = summary(measure(Client(stall_unhedged.url, "/v1/run"), args.runs))
        finally:
            procs.stop_all()
    floor = rows["floor"]["median"]
    print(f"\nPython hello world, {args.runs} requests each, sequential, after 3 warm-ups (ms)")
    print(f"{'path':<18}{'median':>8}{'p95':>8}{'p99':>8}{'x floor':>9}")
    for name, r in rows.items():
        print(f"{name:<18}{r['median']:>8.1f}{r['p95']:>8.1f}{r['p99']:>8.1f}{r['median'] / floor:>9.2f}")
    print(
        f"dispatcher overhead at the median, (hedged - worker): {rows['hedged']['median'] - rows['worker']['median']:+.2f} ms"
    )
    sh, su = rows["stall, hedged"], rows["stall, unhedged"]
    print(f"stall: hedged p99/median {sh['p99'] / sh['median']:.2f}; unhedged p99 {su['p99']:.1f} ms")
    print(f"results: {save('dispatcher', {'runs': args.runs, 'rows': rows})}")


if __name__ == "__main__":
    main()
