"""The hostile programs of tests/attacks.py again, now inside the runtime containers of
`codering-x up` (hardened as in production: no cgroup of their own to write, a read-only root,
a few capabilities): each contained, nothing planted, no sandbox process left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codering_x.localprocs import call
from codering_x.models import RunResult
from tests.attacks import ATTACKS, FILLERS, planted_path, request_body
from tests.conftest import LABEL

WORKER_PORT = 8080  # the worker's own port inside its container: must stay unreachable
SANDBOX_UIDS_FROM = 61000  # the images' CODERING_UID_BASE


def sandbox_processes(container) -> list[str]:
    """Processes of a sandbox uid in the container (`docker top` reads them from the host),
    but for prewarmed members waiting for a run: their work dirs are still empty."""
    top = container.top(ps_args="-o uid,pid,args")
    return [" ".join(p) for p in top["Processes"] or [] if int(p[0]) >= SANDBOX_UIDS_FROM and not waiting(int(p[1]))]


def boxes_usage(container) -> tuple[int, int]:
    """KiB and inodes used on the container's boxes tmpfs."""
    out = container.exec_run(["df", "-k", "--output=used,iused", "/run/codering-x"]).output.decode()
    used, iused = out.splitlines()[1].split()
    return int(used), int(iused)


def waiting(pid: int) -> bool:
    try:
        in_a_box = Path(os.readlink(f"/proc/{pid}/cwd")).parent.name == "boxes"
        return in_a_box and not any(Path(f"/proc/{pid}/cwd").iterdir())  # (the container's view)
    except OSError:
        return False


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.name}-{a.runtime}")
def test_attack_is_contained_in_the_runtime_container(up, docker, attack):
    containers = docker.containers.list(filters={"label": [LABEL, f"codering.runtime={attack.runtime}"]})
    assert len(containers) == 2
    before = [boxes_usage(c) for c in containers]
    status, body, _ = call(up, body=request_body(attack, WORKER_PORT))
    assert status == 200, body
    problem = attack.check(RunResult.model_validate(body))
    assert problem is None, problem
    if attack.name in FILLERS:  # both copies of the hedged run wrote; both boxes are removed
        deadline = time.monotonic() + 10
        while (after := [boxes_usage(c) for c in containers]) and time.monotonic() < deadline:
            if all(a[0] - b[0] < 8 << 10 and a[1] - b[1] < 100 for a, b in zip(after, before, strict=True)):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the boxes' tmpfs did not come back: KiB and inodes used before {before}, after {after}")
    deadline = time.monotonic() + 5  # the hedge's loser is being cancelled: give it a moment
    while (left := [p for c in containers for p in sandbox_processes(c)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"sandbox processes left in the container: {left}"
    if attack.name == "plant":
        for container in containers:
            assert container.exec_run(["test", "-e", planted_path(attack.runtime)]).exit_code == 1
