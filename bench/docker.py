"""Docker mode beside the alternatives (`make bench-docker`), in one run on this machine:

floor          python3 hello world started by a plain subprocess on the host
dispatcher     through the dispatcher of `codering-x up` to warm worker containers
docker run     `docker run --rm` of the same image with the same program, per request
               (what Codapi and glot do)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.dispatcher import CLEAN_ENV, Client
from bench.stats import measure, save, summary
from codering_x.catalogue import Catalogue, resolve
from codering_x.devmode import DevMode
from codering_x.functions import image_name
from codering_x.localprocs import ROOT, wait_ready

PROJECT = "codering-x-bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--docker-run-runs", type=int, default=20)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hello.py"
        script.write_text("print('hello')\n")
        python = resolve("python3")
        rows["floor"] = summary(
            measure(lambda: subprocess.run([python, str(script)], env=CLEAN_ENV, capture_output=True), args.runs)
        )
    dev = DevMode.connect(PROJECT)
    image = image_name(Catalogue.load().get("python"))
    up = subprocess.Popen(
        [sys.executable, "-m", "codering_x.cli", "up", "python", "--project", PROJECT, "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        url = next(line.split()[4] for line in up.stdout if line.startswith("codering-x dispatcher listening on "))
        wait_ready(url, timeout=300)
        rows["dispatcher"] = summary(measure(Client(url, "/v1/run"), args.runs))

        def docker_run() -> None:
            out = dev.client.containers.run(
                image, ["python3", "-c", "print('hello')"], remove=True, network_mode="none"
            )
            assert out == b"hello\n"

        rows["docker run"] = summary(measure(docker_run, args.docker_run_runs, warmup=2))
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        up.wait(30)
        dev.down()
    floor, disp = rows["floor"]["median"], rows["dispatcher"]["median"]
    print("\nPython hello world (ms)")
    print(f"{'path':<12}{'runs':>6}{'median':>9}{'p95':>9}{'p99':>9}")
    for name, r in rows.items():
        print(f"{name:<12}{r['n']:>6}{r['median']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}")
    print(
        f"dispatcher - floor: {disp - floor:+.1f} ms; docker run / dispatcher: {rows['docker run']['median'] / disp:.1f}x"
    )
    print(f"results: {save('docker', {'rows': rows})}")


if __name__ == "__main__":
    main()
