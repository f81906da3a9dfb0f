"""Start real worker and dispatcher processes on 127.0.0.1, and stop them: for the tests
and the benchmarks, which must measure and prove the real thing, not an in-process copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import REPO_ROOT

ROOT = REPO_ROOT


@dataclass
class Proc:
    popen: subprocess.Popen
    url: str
    name: str = ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Procs:
    started: list[Proc] = field(default_factory=list)
    tmp: Path = Path("/tmp")

    def worker(
        self,
        runtime: str = "python",
        name: str | None = None,
        fault: str | None = None,
        concurrency: int = 4,
        env: dict[str, str] | None = None,
    ) -> Proc:
        name = name or f"{runtime}-{len(self.started) + 1}"
        argv = [sys.executable, "-m", "codering_x.cli", "worker", "--runtime", runtime, "--name", name, "--port", "0",
                "--concurrency", str(concurrency)]  # fmt: skip
        if fault:
            argv += ["--fault", fault]
        return self._start(argv, "listening ", name, env)

    def dispatcher(self, workers: list[Proc], **settings: object) -> Proc:
        config = {
            "discovery": {"kind": "static", "static": [{"runtime": w.name.rsplit("-", 1)[0], "url": w.url, "name": w.name} for w in workers]},
            "health": {"interval_s": 0.5},
            **settings,
        }  # fmt: skip
        proc = self.dispatcher_with(config)
        token = settings.get("token")
        wait_healthy(proc.url, len(workers), {"Authorization": f"Bearer {token}"} if token else None)
        return proc

    def dispatcher_with(self, config: dict) -> Proc:
        """A dispatcher (`codering-x serve --config`) with this configuration, on any port."""
        path = self.tmp / f"dispatcher-{len(self.started)}.yaml"
        path.write_text(yaml.safe_dump(config))
        argv = [sys.executable, "-m", "codering_x.cli", "serve", "--config", str(path), "--port", "0"]
        return self._start(argv, "codering-x dispatcher listening on ", "dispatcher")

    def up(self, *args: str) -> Proc:
        """`codering-x up ARGS --port 0`, the docker dev mode, in the foreground."""
        argv = [sys.executable, "-m", "codering_x.cli", "up", *args, "--port", "0"]
        return self._start(argv, "codering-x dispatcher listening on ", "up")

    def serve(self, *args: str, env: dict[str, str] | None = None) -> Proc:
        argv = [sys.executable, "-m", "codering_x.cli", "serve", "--port", "0", *args]
        return self._start(argv, "codering-x dispatcher listening on ", "serve", env)

    def _start(self, argv: list[str], marker: str, name: str, env: dict[str, str] | None = None) -> Proc:
        popen = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = popen.stdout.readline()
            if not line:
                raise RuntimeError(f"{argv} exited with {popen.wait()}")
            if line.startswith(marker):
                url = line[len(marker) :].split()[0]
                proc = Proc(popen, url, name)
                self.started.append(proc)
                return proc
        popen.kill()
        raise RuntimeError(f"{argv} did not start")

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


def call(url: str, path: str = "/v1/run", body: object = None, method: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None, timeout: float = 60) -> tuple[int, dict, dict]:  # fmt: skip
    """One HTTP request; returns (status, JSON body, headers). 4xx/5xx are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read()), dict(exc.headers)


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw.decode(errors="replace")}


def wait_ready(url: str, timeout: float = 90) -> dict:
    """Poll /readyz until it answers 200; return its body."""
    deadline, body = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            status, body, _h = call(url, "/readyz", timeout=2)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready: {body}")


def wait_healthy(url: str, count: int, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
    """Poll /v1/runtimes until `count` workers are healthy in all."""
    deadline, healthy = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        try:
            _status, body, _h = call(url, "/v1/runtimes", headers=headers, timeout=2)
            healthy = sum(r["healthy_workers"] for r in body.get("runtimes", []))
            if healthy >= count:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}: {healthy} of {count} workers healthy")
