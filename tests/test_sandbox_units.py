"""The sandbox's pure parts, on their own: how the helper's report is read, and which limit
a set of observations names (go-judge's convertStatus, as a table)."""

from __future__ import annotations

import signal

import pytest

from codering_x.sandbox.limits import which_limit
from codering_x.sandbox.report import HelperReport

NOTHING = dict(
    timed_out=False, overflowed=False, signal_number=None, cpu_ms=10, cpu_limit_ms=2000,
    cgroup_oom=False, container_oom=False, pids_max_hit=False, disk_full=None,
)  # fmt: skip


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ({}, None),
        ({"signal_number": signal.SIGSEGV}, None),  # the program's own crash: no limit
        ({"timed_out": True}, "wall"),
        ({"timed_out": True, "overflowed": True, "cgroup_oom": True}, "wall"),  # the deadline first
        ({"overflowed": True, "signal_number": signal.SIGTERM}, "output"),
        ({"cgroup_oom": True, "signal_number": signal.SIGKILL}, "memory"),
        ({"container_oom": True, "signal_number": signal.SIGKILL}, "memory"),
        ({"container_oom": True, "signal_number": signal.SIGSEGV}, None),  # another process's OOM kill
        ({"signal_number": signal.SIGXCPU}, "cpu"),
        ({"cpu_ms": 2001}, "cpu"),
        ({"cpu_ms": 2000}, None),  # at the limit is within it
        ({"cgroup_oom": True, "cpu_ms": 5000}, "memory"),  # memory before cpu: reclaim burns CPU
        ({"signal_number": signal.SIGXFSZ}, "file_size"),
        ({"signal_number": signal.SIGXFSZ, "disk_full": "disk"}, "file_size"),
        ({"disk_full": "disk"}, "disk"),
        ({"disk_full": "inodes", "pids_max_hit": True}, "inodes"),
        ({"pids_max_hit": True}, "processes"),
    ],
)
def test_which_limit(observed, expected):
    assert which_limit(**{**NOTHING, **observed}) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", HelperReport()),
        (b"pid 42\n", HelperReport(payload_pid=42)),
        (b"pid 4", HelperReport()),  # a line not yet complete
        (
            b"pid 42\nrusage 1500 2600 8120\nexit 256\n",
            HelperReport(payload_pid=42, cpu_ms=4, memory_kb=8120, exit_status=256),
        ),
        (b"sbexec: chdir /run/x: Permission denied\n", HelperReport(failure="sbexec: chdir /run/x: Permission denied")),
        (b"sbexec: first\nsbexec: second\n", HelperReport(failure="sbexec: first")),
        (b"pid x\nrusage 1 2\nnoise\n\n", HelperReport()),  # malformed lines are not ours
    ],
)
def test_helper_report_parse(raw, expected):
    assert HelperReport.parse(raw) == expected


def test_a_report_is_finished_once_usage_is_reported():
    assert not HelperReport.parse(b"pid 7\n").finished
    assert HelperReport.parse(b"pid 7\nrusage 0 0 100\n").finished
