"""Every hostile program of tests/attacks.py, in every runtime it applies to, through the engine."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from codering_x.models import RunRequest
from tests.attacks import ATTACKS, FILLERS, planted_path, request_body
from tests.test_prewarm import wait_for_members

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.name}-{a.runtime}")
def test_attack_is_contained(engine, listener, monkeypatch, attack):
    port = listener.getsockname()[1]
    monkeypatch.setenv("CODERING_TEST_SECRET", "hunter2")  # the server's environment must not leak
    monkeypatch.setenv("HOSTNAME", "codering-host")
    prewarmed = engine.warm is not None and not attack.limits
    if prewarmed:  # the attack must run on prewarmed members, as most runs do
        wait_for_members(engine, attack.runtime)
        hits = engine.warm.hits
    before = footprint(engine.sandbox.boxes) if attack.name in FILLERS else (0, 0)
    result = engine.run(RunRequest(**request_body(attack, port)))
    if prewarmed:  # its compile unless the cache had it, and its run unless the compile failed
        compiled = result.compile is not None and not result.compile.cached
        assert engine.warm.hits == hits + compiled + (result.run is not None)
    problem = attack.check(result)
    assert problem is None, problem
    if attack.name == "plant":
        assert not os.path.exists(planted_path(attack.runtime)), "the planted file exists on the host"
    if attack.name in FILLERS:  # what the run wrote is gone once its box is closed
        deadline = time.monotonic() + 5
        while (after := footprint(engine.sandbox.boxes)) and time.monotonic() < deadline:
            if after[0] - before[0] < 8 << 20 and after[1] - before[1] < 100:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the boxes still hold bytes and inodes: before {before}, after {after}")


def footprint(boxes: Path) -> tuple[int, int]:
    """Bytes and inodes the boxes take from the host (tmpfs pages or disk blocks): the
    filesystem's own free space is no measure while anything else on the host writes."""
    total_bytes = total_inodes = 0
    for box in boxes.iterdir():
        with contextlib.suppress(OSError):  # a box removed while we look
            if os.path.ismount(box):
                st = os.statvfs(box)
                total_bytes += (st.f_blocks - st.f_bfree) * st.f_frsize
                total_inodes += st.f_files - st.f_ffree
                continue
            for path in [box, *box.rglob("*")]:
                total_bytes += path.lstat().st_blocks * 512
                total_inodes += 1
    return total_bytes, total_inodes
