"""Every hostile program of tests/attacks.py, in every runtime it applies to, through the engine."""

from __future__ import annotations

import os

import pytest

from codering_x.models import RunRequest
from tests.attacks import ATTACKS, planted_path, request_body
from tests.test_prewarm import wait_for_members

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.name}-{a.runtime}")
def test_attack_is_contained(engine, listener, monkeypatch, attack):
    port = listener.getsockname()[1]
    monkeypatch.setenv("CODERING_TEST_SECRET", "hunter2")  # the server's environment must not leak
    monkeypatch.setenv("HOSTNAME", "codering-host")
    prewarmed = engine.warm is not None and attack.runtime in engine.warm.members and not attack.limits
    if prewarmed:  # the attack must run on a prewarmed member, as most runs of this runtime do
        wait_for_members(engine, attack.runtime)
        hits = engine.warm.hits
    result = engine.run(RunRequest(**request_body(attack, port)))
    if prewarmed:
        assert engine.warm.hits == hits + 1
    problem = attack.check(result)
    assert problem is None, problem
    if attack.name == "plant":
        assert not os.path.exists(planted_path(attack.runtime)), "the planted file exists on the host"
