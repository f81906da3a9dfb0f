"""Shared fixtures: one real engine (real sandbox, real toolchains) for the whole session."""

from __future__ import annotations

import pytest

from codering_x.catalogue import Catalogue
from codering_x.engine import Engine
from codering_x.models import RunRequest, RunResult

ALL_RUNTIMES = ["bash", "c", "cpp", "go", "java", "javascript", "php", "python", "ruby", "rust"]


@pytest.fixture(scope="session")
def engine() -> Engine:
    engine = Engine.create()
    missing = {r.name: r.missing_tools for r in engine.catalogue.runtimes.values() if not r.available}
    assert not missing, f"toolchains missing (run `make toolchains` as root): {missing}"
    return engine


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
