"""Each side reads its configuration once, and one environment can hold both sides'."""

from __future__ import annotations

import pytest

from codering_x.dispatcher.config import Settings
from codering_x.settings import WorkerSettings


def test_the_two_sides_share_no_key():
    """A CODERING_* variable meant for one side can never configure the other."""
    assert not set(WorkerSettings.model_fields) & set(Settings.model_fields)


def test_worker_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CODERING_RUNTIME", "ruby")
    monkeypatch.setenv("CODERING_UID_BASE", "61000")
    monkeypatch.setenv("CODERING_PREWARM", "3")
    monkeypatch.setenv("CODERING_HEDGE__DELAY_MS", "20")  # the dispatcher's: ignored here
    settings = WorkerSettings(concurrency=4)
    assert (settings.runtime, settings.uid_base, settings.prewarm_members) == ("ruby", 61000, 12)


def test_the_dispatcher_ignores_the_workers_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CODERING_UID_BASE", "61000")
    monkeypatch.setenv("CODERING_RUNTIME", "ruby")
    monkeypatch.setenv("CODERING_HEDGE__DELAY_MS", "20")
    assert Settings.load().hedge.delay_ms == 20


def test_a_bad_worker_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CODERING_BOX_TMPFS", "sometimes")
    with pytest.raises(ValueError, match="box_tmpfs"):
        WorkerSettings()
