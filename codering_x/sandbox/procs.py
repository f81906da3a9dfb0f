"""The one /proc scanner: who owns which process, and which of them are dead.

Read from /proc/PID/status, not from the owner of /proc/PID: that turns to root when a
process makes itself non-dumpable, and a learner's program may do that to hide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Proc:
    pid: int
    uid: int  # the real uid: what RLIMIT_NPROC counts and kill(-1) as that uid reaches
    parent: int
    zombie: bool


def processes() -> list[Proc]:
    """Every process on the host (those that vanish while we read are skipped)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                status = f.read(1024)
            found.append(
                Proc(
                    pid=int(name),
                    uid=int(_field(status, b"Uid").split(b"\t", 1)[0]),
                    parent=int(_field(status, b"PPid")),
                    zombie=_field(status, b"State").startswith(b"Z"),
                )
            )
        except (OSError, ValueError):
            continue
    return found


def processes_of_uid(uid: int) -> list[int]:
    """The pids of `uid`, zombies included (a zombie still counts against its uid's limit)."""
    return [p.pid for p in processes() if p.uid == uid]


def _field(status: bytes, name: bytes) -> bytes:
    start = status.index(b"\n" + name + b":\t") + len(name) + 3
    return status[start : status.index(b"\n", start)]
