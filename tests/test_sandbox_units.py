"""The sandbox's parts, on their own: how the helper's report is read, which limit a set of
observations names (go-judge's convertStatus, as a table), when the wall clock starts, and
which uids a leak check may blame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from codering_x.sandbox.limits import which_limit
from codering_x.sandbox.report import HelperReport
from codering_x.sandbox.supervise import Stream, supervise
from codering_x.sandbox.uidpool import UidPool

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


# -- the wall clock starts with the payload --------------------------------------------
# A stand-in for the helper: it reports "pid N" on fd 3 after `delay` (the kernel keeping
# it waiting), then "runs" for `runs` seconds and exits.
FAKE_HELPER = "import os, time; time.sleep({delay}); os.write({fd}, b'pid 1\\n'); time.sleep({runs})"


def _supervise_fake(delay: float, runs: float, wall_s: float, setup_s: float):
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    st_r, st_w = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", FAKE_HELPER.format(delay=delay, runs=runs, fd=st_w)],
        stdin=in_r, stdout=out_w, stderr=err_w, pass_fds=(st_w,), close_fds=True,
    )  # fmt: skip
    for fd in (in_r, out_w, err_w, st_w):
        os.close(fd)
    pidfd = os.pidfd_open(child.pid)
    spawned_at = time.monotonic()
    try:
        return spawned_at, supervise(
            pidfd, None, b"", out_r, err_r, st_r, Stream(100), Stream(100),
            wall_s=wall_s, started=None, setup_deadline=spawned_at + setup_s,
        )  # fmt: skip
    finally:
        child.kill()
        child.wait()
        for fd in (in_w, out_r, err_r, st_r, pidfd):
            os.close(fd)


def test_time_before_the_payload_starts_is_not_the_programs():
    spawned_at, sup = _supervise_fake(delay=0.8, runs=0.3, wall_s=0.6, setup_s=5)
    assert sup.exited and not sup.timed_out and not sup.setup_timed_out
    assert sup.started is not None and sup.started - spawned_at >= 0.7


def test_a_payload_that_never_starts_is_a_setup_timeout_not_a_time_limit():
    _, sup = _supervise_fake(delay=30, runs=0, wall_s=0.2, setup_s=0.5)
    assert (sup.setup_timed_out, sup.timed_out, sup.started) == (True, False, None)


def test_the_wall_time_still_counts_once_the_payload_runs():
    _, sup = _supervise_fake(delay=0, runs=30, wall_s=0.5, setup_s=5)
    assert sup.timed_out and not sup.setup_timed_out


# -- leak checks look only at their own uids -------------------------------------------
def test_a_pool_counts_as_leaked_only_the_uids_it_held(tmp_path):
    pool = UidPool(tmp_path / "uids", first=59900, size=4)
    stranger = subprocess.Popen(["sleep", "30"], user=59901, group=59901)  # another instance's
    try:
        assert pool.leftovers() == {}
        uid = pool.acquire()
        mine = subprocess.Popen(["sleep", "30"], user=uid, group=uid)
        try:
            pool.release(uid, clean=False)
            assert pool.leftovers() == {uid: [mine.pid]}  # not the stranger's, though in range
        finally:
            mine.kill()
            mine.wait()
    finally:
        stranger.kill()
        stranger.wait()
