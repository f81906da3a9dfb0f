"""A real browser (Debian's chromium, driven by selenium through chromium-driver) on the
playground that a real `codering-x serve` serves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codering_x.localprocs import Procs, wait_ready
from tests.browser.page import Page


@pytest.fixture(scope="session")
def served(tmp_path_factory, engine) -> Iterator[str]:
    """`codering-x serve` with every runtime, as `make run` starts it. `engine`: toolchains are here."""
    procs = Procs(tmp=tmp_path_factory.mktemp("playground"))
    url = procs.serve().url
    wait_ready(url, timeout=180)
    yield url
    procs.stop_all()


@pytest.fixture
def page(chromium, served, tmp_path) -> Iterator[Page]:
    """A fresh playground (nothing saved); no test may leave a console error behind."""
    chromium.get_log("browser")  # drop what earlier tests left
    opened = Page(chromium, served, tmp_path).open()
    yield opened
    errors = opened.console_errors()
    assert not errors, f"console errors: {errors}"
