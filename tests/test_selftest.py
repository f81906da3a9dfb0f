"""The start-up self-test passes here, and fails closed when the sandbox is weakened."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from codering_x.engine import Engine
from codering_x.selftest import SelfTestFailed, run_self_test


def test_self_test_passes_on_this_host(engine):
    assert engine.self_test is not None and engine.self_test.passed, engine.self_test


def test_a_sandbox_without_seccomp_or_landlock_is_refused(engine, tmp_path):
    allow_all = tmp_path / "allow.bpf"
    allow_all.write_bytes(struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000))  # BPF_RET|BPF_K, SECCOMP_RET_ALLOW
    weak = dataclasses.replace(engine.sandbox, seccomp_path=allow_all, landlock_abi=0)
    result = run_self_test(weak)
    assert not result.passed
    assert any(f.startswith("tcp") for f in result.failures) and any(f.startswith("udp") for f in result.failures)
    with pytest.raises(SelfTestFailed, match="tcp"):
        Engine(engine.catalogue, weak)
