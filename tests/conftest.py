"""Shared fixtures: one real engine (real sandbox, real toolchains) for the whole session,
and, for the tests that need them, a real Docker engine, the ten images and `codering-x up`.

A missing toolchain or Docker engine is a failure, never a skip: `make test` provides both.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from codering_x.catalogue import Catalogue
from codering_x.engine import Engine
from codering_x.models import RunRequest, RunResult

PROJECT = "codering-x-test"
LABEL = f"codering.project={PROJECT}"
ALL_RUNTIMES = ["bash", "c", "cpp", "go", "java", "javascript", "php", "python", "ruby", "rust"]


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine as workers run it: prewarmed members for the runtimes that have them, so
    every engine test of those runtimes (hostile programs included) runs on a member."""
    engine = Engine.create(prewarm=2)
    missing = {r.name: r.missing_tools for r in engine.catalogue.runtimes.values() if not r.available}
    assert not missing, f"toolchains missing (run `make toolchains` as root): {missing}"
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def cold_engine(engine: Engine) -> Engine:
    """The same sandbox without prewarming: every run starts its interpreter."""
    return Engine(engine.catalogue, engine.sandbox, self_test=False)


@pytest.fixture(scope="session")
def catalogue(engine: Engine) -> Catalogue:
    return engine.catalogue


@pytest.fixture
def run(engine: Engine):
    """Run code through the engine: run("python", "print(1)", stdin=..., limits=...)."""

    def _run(runtime: str, code: str, **fields) -> RunResult:
        return engine.run(RunRequest(runtime=runtime, code=code, **fields))

    return _run


@pytest.fixture
def procs(tmp_path, engine):
    """Real worker and dispatcher processes on 127.0.0.1, stopped after the test.
    (`engine` makes sure the toolchains are here first.)"""
    from codering_x.localprocs import Procs

    started = Procs(tmp=tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def no_leftovers(engine: Engine):
    """After the test, no process of any sandbox uid may remain."""
    yield
    left = engine.sandbox.uids.leftovers()
    assert not left, f"sandbox processes left behind: {left}"


def cli(*args: str) -> subprocess.CompletedProcess:
    from codering_x.localprocs import ROOT

    return subprocess.run([sys.executable, "-m", "codering_x.cli", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="session")
def docker():
    from codering_x.images import DockerUnavailable, docker_client

    try:
        return docker_client()
    except DockerUnavailable as exc:
        pytest.fail(f"no Docker engine: run `make engine` (or start dockerd): {exc}")


@pytest.fixture(scope="session")
def images(docker) -> dict[str, str]:
    """runtime name → image tag, built (or found up to date in the layer cache) once."""
    from codering_x.images import build

    return build(Catalogue.load().runtimes.values(), client=docker)


@pytest.fixture(scope="session")
def up(docker, images, tmp_path_factory):
    """`codering-x up` in the foreground, as a developer runs it: ten runtimes, two
    replicas each, shared by every test that needs containers; `down` afterwards."""
    from codering_x.localprocs import Procs, wait_ready

    procs = Procs(tmp=tmp_path_factory.mktemp("devmode"))
    url = procs.up("--project", PROJECT, "--replicas", "2").url
    ready = wait_ready(url, timeout=300)
    assert sorted(ready["runtimes"]) == ALL_RUNTIMES
    yield url
    procs.stop_all()
    down = cli("down", "--project", PROJECT)
    assert down.returncode == 0, down.stderr
    assert docker.containers.list(all=True, filters={"label": LABEL}) == []
    assert docker.networks.list(filters={"label": LABEL}) == []
    assert docker.volumes.list(filters={"label": LABEL}) == []


@pytest.fixture
def listener():
    """A loopback TCP listener of the server's; no sandboxed program may reach it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    try:
        server.accept()
        connected = True
    except BlockingIOError:
        connected = False
    server.close()
    assert not connected, "a sandboxed program connected to the server's port"


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Headless Chromium under selenium (the playground's tests); `make toolchains` installs it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("no chromium or chromedriver: run `make toolchains` (Debian's chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                f"--user-data-dir={profile}", "--no-first-run", "--disable-background-networking"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
