"""Thirty-two runs at once, mixed runtimes: the uid pool under contention keeps them apart."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from codering_x.models import RunRequest
from tests.programs import SUM

pytestmark = pytest.mark.usefixtures("no_leftovers")

MIX = ["python", "javascript", "bash", "c", "ruby", "php", "python", "go"]


def test_thirty_two_concurrent_runs_are_all_correct(engine):
    jobs = [(MIX[i % len(MIX)], i) for i in range(32)]

    def one(job: tuple[str, int]) -> tuple[str, str, int]:
        runtime, i = job
        result = engine.run(RunRequest(runtime=runtime, code=SUM[runtime], stdin=f"{i} 1000\n"))
        return result.status, result.run.stdout.strip() if result.run else "", i

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, jobs))
    assert [(s, out) for s, out, _ in results] == [("ok", str(i + 1000)) for _, i in jobs]


def test_concurrent_runs_cannot_see_each_other(engine):
    """Each run writes a marker, looks for the others' in every place it can reach, and
    tries to signal every process on the host: it reaches only itself and its helper."""
    code = (
        "import glob, os, sys, time\n"
        "me = sys.argv[1]\n"
        "open(f'marker-{me}', 'w').write(me)\n"
        "time.sleep(0.3)\n"
        "seen = set()\n"
        "for pattern in ('../*/marker-*', '/tmp/marker-*', '/dev/shm/marker-*', 'marker-*'):\n"
        "    seen.update(os.path.basename(p) for p in glob.glob(pattern))\n"
        "signalled = 0\n"
        "for p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        os.kill(int(p), 0)  # succeeds only for our own processes\n"
        "        signalled += int(p) not in (os.getpid(), os.getppid())\n"
        "    except OSError:\n"
        "        pass\n"
        "print(sorted(seen), signalled == 0)\n"
    )

    def one(i: int) -> str:
        result = engine.run(RunRequest(runtime="python", code=code, args=[str(i)]))
        return result.run.stdout.strip()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outputs = list(pool.map(one, range(16)))
    assert outputs == [f"['marker-{i}'] True" for i in range(16)]


def test_runs_cannot_reach_each_others_abstract_sockets_or_share_sysv_ipc(engine):
    """Run A listens on an abstract unix socket; run B, at the same time, tries to connect to
    it. Both try to create a SysV shared memory segment anyone could attach to."""
    listener = (
        "import socket, time, ctypes\n"
        "s = socket.socket(socket.AF_UNIX); s.bind('\\0codering-isolation'); s.listen(); s.settimeout(3)\n"
        "shm = ctypes.CDLL(None, use_errno=True).shmget(0, 4096, 0o1666)\n"
        "print('shm', shm, ctypes.get_errno())\n"
        "try:\n    s.accept(); print('ACCEPTED')\nexcept OSError:\n    print('alone')\n"
    )
    connector = (
        "import socket, time\n"
        "time.sleep(0.5)\n"
        "try:\n"
        "    socket.socket(socket.AF_UNIX).connect('\\0codering-isolation'); print('CONNECTED')\n"
        "except OSError as e:\n    print('denied', e.errno)\n"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(engine.run, RunRequest(runtime="python", code=listener))
        b = pool.submit(engine.run, RunRequest(runtime="python", code=connector))
        out_a, out_b = a.result().run.stdout, b.result().run.stdout
    assert out_a.splitlines() == ["shm -1 1", "alone"], out_a  # shmget: EPERM
    assert out_b.startswith("denied"), out_b
