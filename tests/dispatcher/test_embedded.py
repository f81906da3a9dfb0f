"""`codering-x serve` and `make run`: real worker processes, supervised and respawned."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from codering_x.localprocs import ROOT, call, wait_ready


def worker_pids(parent: int) -> dict[str, int]:
    """Worker name → pid, for the `codering-x worker` children of `parent`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"worker" in cmdline and b"--name" in cmdline:
            found[cmdline[cmdline.index(b"--name") + 1].decode()] = int(entry.name)
    return found


def test_a_worker_killed_mid_run_loses_no_request_and_is_respawned(procs):
    serve = procs.serve("--runtimes", "python", "--workers-per-runtime", "2")
    wait_ready(serve.url)
    before = worker_pids(serve.popen.pid)
    assert set(before) == {"python-1", "python-2"}
    answer: list = []
    request = {"runtime": "python", "code": "import time\ntime.sleep(1)\nprint('survived')"}
    thread = threading.Thread(target=lambda: answer.append(call(serve.url, body=request)))
    thread.start()
    time.sleep(0.4)  # both workers are running it now
    os.kill(before["python-1"], signal.SIGKILL)
    thread.join(30)
    status, body, _ = answer[0]
    assert status == 200 and body["run"]["stdout"] == "survived\n" and body["meta"]["worker"] == "python-2"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = worker_pids(serve.popen.pid)
        if after.get("python-1") not in (None, before["python-1"]) and call(serve.url, "/readyz")[0] == 200:
            break
        time.sleep(0.1)
    assert after["python-1"] != before["python-1"], "python-1 was not respawned"
    assert call(serve.url, body={"runtime": "python", "code": "print(1)"})[1]["run"]["stdout"] == "1\n"


def readme_curl_example() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```sh\n(curl [^`]*?)\n```", readme)
    assert match, "the README shows a curl example"
    return match.group(1).replace("\\\n", " ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_starts_and_the_readme_curl_example_works():
    port = free_port()
    make = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env={**os.environ, "CODERING_PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}", timeout=180)
        assert len(ready["runtimes"]) == 10
        command = readme_curl_example().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        out = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60)
        assert '"status": "ok"' in out.stdout and "Hello, world!" in out.stdout, out.stdout + out.stderr
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(30)
