from __future__ import annotations

import pytest

from codering_x.localprocs import Procs


@pytest.fixture
def procs(tmp_path, engine):
    """Real processes, stopped after the test. (`engine` ensures the toolchains are here.)"""
    started = Procs(tmp=tmp_path)
    yield started
    started.stop_all()
