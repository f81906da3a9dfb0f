"""Prewarmed members: a program cannot tell a member from a cold start, nothing of one run
reaches the next, and the pool replaces dead members and falls back to a cold start."""

from __future__ import annotations

import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from codering_x.engine import Engine
from codering_x.models import RunRequest, RunResult

pytestmark = pytest.mark.usefixtures("no_leftovers")

UTIL = {"python": ("util.py", "x = 5\n")}

# Programs whose every observable result must be the same cold and prewarmed.
PROGRAMS = {
    "python": {
        "argv and stdin": "import sys\nprint(sys.argv, sys.orig_argv[1:])\nprint(repr(sys.stdin.read()))",
        "exit code": "import sys\nprint('before')\nsys.exit(3)",
        "exit message": "raise SystemExit('bye')",
        "exception and its lines": "def f():\n    raise ValueError('boom')\n\nf()\n",
        "chained exceptions": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    raise KeyError('k') from e\n",
        "syntax error": "print('a')\nprint(\n",
        "name and file": "import __main__, os\nprint(__name__, __file__, __main__.__dict__ is globals(), __spec__, __package__)",
        "own source": "print(open(__file__).read())",
        "module import": "import util\nprint(util.x, util.__file__)",
        "environment": "import os\nprint(sorted(os.environ.items()))",
        "modules and path": "import sys\nprint(sorted(sys.modules))\nprint(sys.path)",
        "globals": "print(sorted(globals()))",
        "work dir": "import os\nprint(sorted(os.listdir('.')), os.getcwd())",
        "threads and atexit": "import atexit, threading, time\natexit.register(lambda: print('atexit'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.05), print('thread'))).start()\nprint('main')",
        "no tty": "import sys\nprint(sys.stdin.isatty(), sys.stdout.isatty())",
    },
}
CASES = [(runtime, name) for runtime, programs in PROGRAMS.items() for name in programs]


def catalogue_cases() -> list:
    """The javascript, ruby and php programs of tests/prewarm_equivalence.py (argv, stdin,
    exits, exceptions, modules, ...), except its documented differences and header tests."""
    from tests import prewarm_equivalence as eq

    cases = []
    for runtime, programs in eq.PROGRAMS.items():
        for program in programs:
            entry = program.entry or eq.ENTRY_DEFAULT[runtime]
            if program.known or program.raw_stdin is not None or entry != eq.ENTRY_DEFAULT[runtime]:
                continue
            try:
                stdin = program.stdin.decode()
            except UnicodeDecodeError:
                continue
            files = [{"name": name, "content": content} for name, content in program.files.items()]
            files.sort(key=lambda f: f["name"] != entry)
            request = RunRequest(runtime=runtime, files=files, args=program.args, stdin=stdin)
            cases.append(pytest.param(request, id=f"{runtime}-{program.name}"))
    return cases


def wait_for_members(engine: Engine, runtime: str) -> None:
    """Until the runtime's slots are full (refills run in the background)."""
    deadline = time.monotonic() + 60
    slots = [(runtime, "compile"), (runtime, "run")] if engine.catalogue.get(runtime).compile else [(runtime, "run")]
    while any(engine.warm.ready()[slot] < engine.warm.sizes[slot] for slot in slots):
        assert time.monotonic() < deadline, "the pool did not fill"
        time.sleep(0.02)


def mask(text: str) -> str:
    """`text` with a run's own work dir (its uid and name) masked: every box has its own."""
    return re.sub(r"/boxes/\d+-[^/\s'\"]+", "/boxes/BOX", text)


def observable(result: RunResult) -> tuple:
    """What the program showed, with the run's own work dir masked."""
    run = result.run
    assert run is not None, result
    return result.status, run.exit_code, run.signal, mask(run.stdout), mask(run.stderr)


@pytest.mark.parametrize(("runtime", "name"), CASES, ids=[f"{r}-{n}" for r, n in CASES])
def test_a_program_cannot_tell_a_member_from_a_cold_start(engine, cold_engine, runtime, name):
    util_name, util_code = UTIL[runtime]
    entry = engine.catalogue.get(runtime).entry
    request = RunRequest(
        runtime=runtime,
        files=[{"name": entry, "content": PROGRAMS[runtime][name]}, {"name": util_name, "content": util_code}],
        args=["a", "", "b c"],
        stdin="line one\nline two",
    )
    wait_for_members(engine, runtime)
    hits = engine.warm.hits
    warm = engine.run(request)
    assert engine.warm.hits == hits + 1, "the run did not use a prewarmed member"
    assert observable(warm) == observable(cold_engine.run(request))


@pytest.mark.parametrize("request_", catalogue_cases())
def test_programs_in_other_runtimes_cannot_tell_either(engine, cold_engine, request_):
    wait_for_members(engine, request_.runtime)
    hits = engine.warm.hits
    warm = engine.run(request_)
    assert engine.warm.hits == hits + 1, "the run did not use a prewarmed member"
    assert observable(warm) == observable(cold_engine.run(request_))


@pytest.mark.parametrize("runtime", sorted(PROGRAMS))
def test_nothing_of_one_run_reaches_the_next(engine, runtime):
    """Run 1 leaves a file, a variable, a daemon; run 2 (another member) sees none of it."""
    first = {
        "python": "import os, subprocess\nopen('left.txt', 'w').write('x')\nos.environ['LEFT'] = '1'\n"
        "subprocess.Popen(['sleep', '30'], start_new_session=True)\nprint(os.getuid())",
    }[runtime]
    second = {
        "python": "import os\nprint(os.listdir('.'), 'LEFT' in os.environ)\n"
        "mine = [p for p in os.listdir('/proc') if p.isdigit() and os.stat(f'/proc/{p}').st_uid == os.getuid()]\n"
        "print(sorted(mine) == sorted([str(os.getpid()), str(os.getppid())]))",  # itself and its helper
    }[runtime]
    wait_for_members(engine, runtime)
    hits = engine.warm.hits
    one = engine.run(RunRequest(runtime=runtime, code=first))
    two = engine.run(RunRequest(runtime=runtime, code=second))
    assert engine.warm.hits == hits + 2
    assert one.status == "ok" and two.status == "ok", (one, two)
    assert two.run.stdout.splitlines() == ["['main.py'] False", "True"], two.run.stdout


def test_wall_and_cpu_time_count_from_the_hand_over(engine):
    """A member that waited a second before its run does not report that second."""
    time.sleep(1.0)
    result = engine.run(RunRequest(runtime="python", code="pass"))
    assert result.status == "ok" and result.run.wall_time_ms < 1000


def test_dead_members_are_replaced_and_an_empty_pool_starts_cold(engine):
    pool = engine.warm
    wait_for_members(engine, "python")
    with pool._lock:
        victims = list(pool.members[("python", "run")])
    for member in victims:  # e.g. the OOM killer took them while they waited
        member.spawned.signal(signal.SIGKILL)
    for member in victims:
        assert member.spawned.exited(timeout=5)
    result = engine.run(RunRequest(runtime="python", code="print('still served')"))
    assert result.status == "ok" and result.run.stdout == "still served\n"
    misses = pool.misses
    with ThreadPoolExecutor(8) as threads:  # more at once than the pool holds: some start cold
        results = list(threads.map(lambda i: engine.run(RunRequest(runtime="python", code=f"print({i})")), range(8)))
    assert [r.run.stdout for r in results] == [f"{i}\n" for i in range(8)]
    assert pool.misses > misses
    wait_for_members(engine, "python")  # and it refills


def test_other_limits_start_cold_with_those_limits(engine):
    hits = engine.warm.hits
    code = "import resource\nprint(resource.getrlimit(resource.RLIMIT_CPU)[0])"
    result = engine.run(RunRequest(runtime="python", code=code, limits={"cpu_time_ms": 1000}))
    assert result.run.stdout == "1\n" and engine.warm.hits == hits


def test_prewarm_can_be_turned_off(engine):
    assert Engine(engine.catalogue, engine.sandbox, self_test=False, prewarm=0).warm is None
