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
from tests.attacks import ATTACKS, planted_path, request_body
from tests.conftest import LABEL

WORKER_PORT = 8080  # the worker's own port inside its container: must stay unreachable
SANDBOX_UIDS_FROM = 61000  # the images' CODERING_UID_BASE


def sandbox_processes(container) -> list[str]:
    """Processes of a sandbox uid in the container (`docker top` reads them from the host),
    but for prewarmed members waiting for a run: their work dirs are still empty."""
    top = container.top(ps_args="-o uid,pid,args")
    return [" ".join(p) for p in top["Processes"] or [] if int(p[0]) >= SANDBOX_UIDS_FROM and not waiting(int(p[1]))]


def waiting(pid: int) -> bool:
    try:
        in_a_box = Path(os.readlink(f"/proc/{pid}/cwd")).parent.name == "boxes"
        return in_a_box and not any(Path(f"/proc/{pid}/cwd").iterdir())  # (the container's view)
    except OSError:
        return False


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.name}-{a.runtime}")
def test_attack_is_contained_in_the_runtime_container(up, docker, attack):
    status, body, _ = call(up, body=request_body(attack, WORKER_PORT))
    assert status == 200, body
    problem = attack.check(RunResult.model_validate(body))
    assert problem is None, problem
    containers = docker.containers.list(filters={"label": [LABEL, f"codering.runtime={attack.runtime}"]})
    assert len(containers) == 2
    deadline = time.monotonic() + 5  # the hedge's loser is being cancelled: give it a moment
    while (left := [p for c in containers for p in sandbox_processes(c)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"sandbox processes left in the container: {left}"
    if attack.name == "plant":
        for container in containers:
            assert container.exec_run(["test", "-e", planted_path(attack.runtime)]).exit_code == 1
