"""Nothing of a run outlives its worker: `serve` stopping, a worker SIGKILLed mid-run, the
disk a run may fill, and per-request disk limits.

The serve tests give their instance a sandbox root and a uid range of its own, so that
what they count is theirs alone, whatever else runs on the host."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codering_x.localprocs import call, wait_ready
from codering_x.models import RunRequest
from codering_x.sandbox.procs import processes
from codering_x.sandbox.storage import BoxStorage
from tests.dispatcher.test_embedded import worker_pids

UID_BASE = 59000  # apart from the host's (60000+) and the containers' (61000+)
SLEEPER = "import time\nopen('data', 'wb').write(b'x' * (1 << 20))\nprint('started', flush=True)\ntime.sleep(30)"


@pytest.fixture
def own_sandbox() -> Iterator[tuple[Path, dict[str, str]]]:
    """A sandbox root of this test's own (where sandbox uids may traverse: not under /tmp's
    0700 pytest dirs), and its uid range."""
    root = Path(tempfile.mkdtemp(prefix="codering-x-test-", dir="/run"))
    os.chmod(root, 0o711)
    yield root, {"CODERING_SANDBOX_ROOT": str(root), "CODERING_UID_BASE": str(UID_BASE)}
    for mount in mounts_under(root):
        BoxStorage(per_box=True).remove(Path(mount))
    shutil.rmtree(root, ignore_errors=True)


def boxes(root: Path) -> set[str]:
    return {p.name for p in (root / "boxes").iterdir()} if (root / "boxes").exists() else set()


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(str(root))]


def processes_of_range() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for proc in processes():
        if UID_BASE <= proc.uid < UID_BASE + 256 and not proc.zombie:
            found.setdefault(proc.uid, []).append(proc.pid)
    return found


def start_sleeper(url: str) -> threading.Thread:
    """A run that holds its box (1 MB of files) for 30 s; its answer is not awaited."""
    thread = threading.Thread(target=call, args=(url,), kwargs={"body": {"runtime": "python", "code": SLEEPER}})
    thread.daemon = True
    thread.start()
    return thread


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_serve_stopped_mid_run_leaves_no_box_mount_or_process(procs, own_sandbox):
    root, env = own_sandbox
    serve = procs.serve("--runtimes", "python", "c", "--workers-per-runtime", "2", env=env)
    wait_ready(serve.url)
    for runtime, code in (("python", "print(1)"), ("c", "int main(void) { return 0; }")):
        assert call(serve.url, body={"runtime": runtime, "code": code})[0] == 200
    start_sleeper(serve.url)
    assert wait_for(lambda: len(processes_of_range()) >= 2, 10), "the sleeper never started"
    assert boxes(root), "no box while runs and members exist"
    started = time.monotonic()
    serve.stop()
    assert serve.popen.returncode == 0
    assert boxes(root) == set(), f"boxes left behind: {boxes(root)}"
    assert mounts_under(root) == []
    assert processes_of_range() == {}
    print(f"serve stopped, everything removed, in {time.monotonic() - started:.1f} s")


def test_boxes_of_a_sigkilled_worker_are_removed_when_it_respawns(procs, own_sandbox):
    root, env = own_sandbox
    serve = procs.serve("--runtimes", "python", "--workers-per-runtime", "2", env=env)
    wait_ready(serve.url)
    start_sleeper(serve.url)
    assert wait_for(lambda: len(processes_of_range()) >= 2, 10), "the sleeper never started"
    held, running = boxes(root), {pid for pids in processes_of_range().values() for pid in pids}
    for pid in worker_pids(serve.popen.pid).values():  # both: each runs a copy of the hedged run
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not held & boxes(root), 15), f"boxes of the killed workers remain: {held & boxes(root)}"
    assert wait_for(lambda: call(serve.url, "/readyz")[0] == 200, 30)
    status, body, _ = call(serve.url, body={"runtime": "python", "code": "print('after')"})
    assert status == 200 and body["run"]["stdout"] == "after\n"
    # the killed run's sleeper and the killed workers' members are gone too (their uids reclaimed)
    survivors = lambda: running & {pid for pids in processes_of_range().values() for pid in pids}  # noqa: E731
    assert wait_for(lambda: not survivors(), 10), f"processes of the killed workers' runs remain: {survivors()}"
    assert not [m for m in mounts_under(root) if Path(m).name not in boxes(root)], "a mount without its box"


def test_per_request_disk_limit_and_the_compile_stage_has_its_own(engine):
    writer = "open('f', 'wb').write(b'x' * (3 << 20))\nprint('wrote')"
    small = engine.run(RunRequest(runtime="python", code=writer, limits={"disk_mb": 2}))
    assert small.status == "output_limit" and small.run.limit == "disk", small.run
    assert engine.run(RunRequest(runtime="python", code=writer, limits={"disk_mb": 8})).run.stdout == "wrote\n"
    # the C compile (512 MB of its own) succeeds; the run may write 1 MB besides its binary
    c_writer = r"""#include <stdio.h>
int main(void) { FILE *f = fopen("f", "wb"); static char b[1 << 21];
    if (fwrite(b, 1, sizeof b, f) != sizeof b || fclose(f)) { perror("write"); return 1; } puts("wrote"); }"""
    result = engine.run(RunRequest(runtime="c", code=c_writer, limits={"disk_mb": 1}))
    assert result.compile.status == "ok" and result.run.limit == "disk", result
    files = engine.run(RunRequest(runtime="bash", code="touch f{1..50} && echo ok", limits={"disk_inodes": 20}))
    assert files.run.limit == "inodes", files.run


def test_disk_limits_are_listed_and_bounded_by_their_maximum(engine):
    python = engine.catalogue.get("python")
    assert (python.default_limits.disk_mb, python.default_limits.disk_inodes) == (64, 10000)
    assert python.describe()["maximum_limits"]["disk_mb"] == python.maximum_limits.disk_mb
    from codering_x.errors import RequestError

    with pytest.raises(RequestError, match=r"limits\.disk_mb=100000 is above"):
        engine.run(RunRequest(runtime="python", code="1", limits={"disk_mb": 100000}))


def test_box_storage_bounds_never_below_what_the_box_holds(tmp_path):
    storage = BoxStorage.probe(tmp_path)
    assert storage.per_box, "the tests run as root on a host: each box is a tmpfs"
    box = tmp_path / "box"
    box.mkdir()
    storage.make(box, 59999)
    try:
        (box / "input").write_bytes(b"x" * (1 << 20))
        storage.bound(box, 4096, 3)  # one more page, on top of the 1 MiB it holds
        with pytest.raises(OSError):
            (box / "more").write_bytes(b"x" * 8192)
        assert storage.exhausted(box, failed=False) in ("disk", "inodes")
        storage.bound(box, 8 << 20, 100)
        (box / "more").write_bytes(b"x" * (2 << 20))
        assert storage.exhausted(box, failed=False) is None
    finally:
        storage.remove(box)
    assert not box.exists() and not os.path.ismount(box)
    plain = tmp_path / "plain" / "nested"
    plain.mkdir(parents=True)
    (plain / "f").write_text("x")
    BoxStorage(per_box=False).remove(tmp_path / "plain")
    assert not (tmp_path / "plain").exists()
