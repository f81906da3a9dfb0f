"""The docker dev mode for real: `codering-x up` for all ten runtimes, two replicas each,
requests through the dispatcher, a killed container replaced, hostile programs contained,
and `codering-x down` leaving nothing behind."""

from __future__ import annotations

import threading
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from codering_x.localprocs import call, wait_ready
from tests.browser.page import Page
from tests.conftest import ALL_RUNTIMES, LABEL, PROJECT, cli
from tests.programs import ECHO, SUM
from tests.test_interactive import PROMPT_C, PROMPT_PY, live, opened


def test_status_shows_every_container_healthy_on_loopback(up):
    result = cli("status", "--project", PROJECT)
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["RUNTIME", "CONTAINER", "STATE", "HEALTH", "PORT"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 20 and all(r[2] == "running" and r[3] == "healthy" for r in rows)
    assert all(r[4].startswith("127.0.0.1:") for r in rows)


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_every_runtime_answers_through_the_dispatcher(up, runtime):
    from codering_x.catalogue import Catalogue
    from codering_x.cli import EXAMPLES

    entry = Catalogue.load().get(runtime).entry
    hello = {"runtime": runtime, "files": [{"name": entry, "content": (EXAMPLES / "hello" / entry).read_text()}]}
    status, body, _ = call(up, body=hello)
    assert status == 200 and body["status"] == "ok" and body["run"]["stdout"].startswith("Hello from "), body
    status, body, _ = call(
        up, body={"runtime": runtime, "code": ECHO[runtime], "stdin": "hi there\n", "args": ["a", "b"]}
    )
    assert body["run"]["stdout"].splitlines() == ["HI THERE", "a,b"], body
    tests = [{"stdin": "2 3", "expected_stdout": "5"}, {"stdin": "1 1", "expected_stdout": "3"}]
    status, body, _ = call(up, body={"runtime": runtime, "code": SUM[runtime], "tests": tests})
    assert [t["status"] for t in body["tests"]] == ["ok", "wrong_answer"], body


def test_a_container_killed_mid_run_loses_nothing_and_is_replaced(up, docker):
    victim = docker.containers.get(f"{PROJECT}-python-1")
    answer: list = []
    request = {"runtime": "python", "code": "import time\ntime.sleep(1.5)\nprint('survived')"}
    thread = threading.Thread(target=lambda: answer.append(call(up, body=request)))
    thread.start()
    time.sleep(0.5)
    victim.kill()
    thread.join(60)
    status, body, _ = answer[0]
    assert status == 200 and body["run"]["stdout"] == "survived\n"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replacement = docker.containers.list(filters={"name": f"{PROJECT}-python-1", "label": LABEL})
        if replacement and replacement[0].id != victim.id and replacement[0].status == "running":
            break
        time.sleep(0.5)
    else:
        pytest.fail("the killed container was not replaced")
    wait_ready(up, timeout=120)


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("fork bomb", "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", {"time_limit", "runtime_error"}),
        ("heap bomb", "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))", {"memory_limit"}),
        # Shared memory slips past RLIMIT_DATA; in a container only the container's limit stops
        # it (the run is the OOM victim, oom_score_adj 1000), or the CPU limit, spent reclaiming.
        ("shared memory bomb", "import mmap\nm = mmap.mmap(-1, 3 << 30)\nc = b'x' * (1 << 20)\nfor _ in range(3 << 10):\n    m.write(c)",
         {"memory_limit", "time_limit"}),
        ("network", "import socket\nsocket.create_connection(('127.0.0.1', 8080), timeout=2)", {"runtime_error"}),
    ],
)  # fmt: skip
def test_hostile_programs_leave_both_containers_serving(up, docker, name, code, expected):
    status, body, _ = call(up, body={"runtime": "python", "code": code, "limits": {"wall_time_ms": 3000}})
    assert status == 200 and body["status"] in expected, (name, body)
    if name == "network":
        assert "Permission denied" in body["run"]["stderr"]
    for container in docker.containers.list(filters={"label": [LABEL, "codering.runtime=python"]}):
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        direct = call(f"http://127.0.0.1:{port}", "/", body={"runtime": "python", "code": "print('alive')"})
        assert direct[1]["run"]["stdout"] == "alive\n", (container.name, direct)


def test_each_container_runs_its_programs_under_uids_of_its_own(up, docker):
    """Containers share the kernel and so each uid's process count: no two sandboxes (the
    host's, each container's) may hand out the same uids."""
    ranges = set()
    for container in docker.containers.list(filters={"label": [LABEL, "codering.runtime=python"]}):
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        _, body, _ = call(
            f"http://127.0.0.1:{port}", "/", body={"runtime": "python", "code": "import os\nprint(os.getuid())"}
        )
        uid = int(body["run"]["stdout"])
        assert uid >= 61000, (container.name, uid)  # the host's sandbox has 60000-60255
        ranges.add((uid - 61000) // 256)
    assert len(ranges) == 2


def own_up(procs, project: str) -> str:
    """`codering-x up python` of a project of this test's own (two replicas: ready means
    two healthy workers): what it starts is this test's alone."""
    url = procs.up("python", "--project", project, "--replicas", "2").url
    wait_ready(url, timeout=120)
    return url


def project_containers(docker, project: str) -> list:
    return docker.containers.list(all=True, filters={"label": f"codering.project={project}"})


def test_up_ends_when_down_removes_its_containers(procs, docker, images):
    project = "codering-x-test-down"
    own_up(procs, project)
    up = procs.started[-1]
    assert len(project_containers(docker, project)) == 2
    down = cli("down", "--project", project)
    assert down.returncode == 0, down.stderr
    assert up.popen.wait(30) == 0, "up kept running with no worker left"
    assert "removed (codering-x down)" in up.popen.stdout.read()
    assert project_containers(docker, project) == []


def test_ctrl_c_on_up_removes_what_it_started(procs, docker, images):
    import signal

    project = "codering-x-test-ctrl-c"
    own_up(procs, project)
    up = procs.started[-1]
    up.popen.send_signal(signal.SIGINT)
    assert up.popen.wait(60) == 0
    assert "removed 2 containers" in up.popen.stdout.read()
    assert project_containers(docker, project) == []


@pytest.mark.parametrize("runtime", ["python", "c"])
@live
async def test_an_interactive_session_runs_in_a_container(up, runtime):
    """The containers' workers serve sessions; the dispatcher proxies them."""
    code = {"python": PROMPT_PY, "c": PROMPT_C}[runtime]
    async with opened(up, {"runtime": runtime, "code": code}) as client:
        await client.prompt("Your name? ")
        await client.send(type="stdin", data="Ada\n")
        result = (await client.until("result"))["result"]
        assert result["status"] == "ok" and client.output() == b"Your name? hi Ada\n"
        assert result["meta"]["worker"].startswith(f"{runtime}-")


def test_the_playground_runs_programs_on_the_containers(up, chromium, tmp_path):
    """The page is served in the docker dev mode too; its runs and sessions reach the containers."""
    page = Page(chromium, up, tmp_path).open()
    assert page.run().startswith("OK · exit 0") and page.text("stdout") == "Hello, Ada!\n"
    assert f"worker {PROJECT}-python-" in page.text("status")  # a container of this test's
    page.js("window.codering.setCode(arguments[0])", 'print("got", input("> "))\n')
    page.find("run-interactive").click()
    page.wait(lambda: page.terminal().endswith(">"), "the prompt")
    page.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("docker" + Keys.ENTER)
    page.wait(lambda: "got docker" in page.terminal() and "[ok, exit 0]" in page.terminal(), "the answer")
    assert not page.console_errors()
