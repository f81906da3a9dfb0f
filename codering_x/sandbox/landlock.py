"""Probe the kernel's Landlock ABI; the exec helper applies the ruleset itself."""

from __future__ import annotations

import ctypes

SYS_LANDLOCK_CREATE_RULESET = 444
LANDLOCK_CREATE_RULESET_VERSION = 1


def landlock_abi() -> int:
    """Return the Landlock ABI version, or 0 where the kernel (or a seccomp profile) lacks it."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(version), 0)
