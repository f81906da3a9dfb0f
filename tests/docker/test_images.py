"""Every runtime image: it builds, the handler answers inside it, and the sandbox's
self-test passes in a container started with the dev mode's hardening."""

from __future__ import annotations

import json

import pytest

from codering_x.cli import EXAMPLES
from codering_x.hardening import worker_container_options
from tests.conftest import ALL_RUNTIMES

HANDLER_ONE_LINER = """
import json, sys, nuclio_sdk, nuclio_sdk.test
from codering_x import handler
platform = nuclio_sdk.test.Platform()
event = nuclio_sdk.Event(body=sys.argv[1].encode(), content_type="application/json", method="POST", path="/")
response = platform.call_handler(handler.handler, event)
print(json.dumps({"status_code": response.status_code, "body": json.loads(response.body)}))
"""


def run_in(docker, image: str, command: list[str]) -> tuple[int, str]:
    container = docker.containers.run(image, command, detach=True, network_mode="none", **worker_container_options())
    try:
        code = container.wait(timeout=300)["StatusCode"]
        return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_handler_runs_hello_world_inside_the_image(docker, images, catalogue, runtime):
    entry = catalogue.get(runtime).entry
    request = {"runtime": runtime, "files": [{"name": entry, "content": (EXAMPLES / "hello" / entry).read_text()}]}
    code, logs = run_in(docker, images[runtime], ["python3", "-c", HANDLER_ONE_LINER, json.dumps(request)])
    assert code == 0, logs
    answer = json.loads(logs.strip().splitlines()[-1])
    assert answer["status_code"] == 200, logs
    assert answer["body"]["status"] == "ok", logs
    assert answer["body"]["run"]["stdout"].startswith("Hello from ")


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_sandbox_self_test_passes_in_a_hardened_container(docker, images, runtime):
    code, logs = run_in(docker, images[runtime], ["codering-x", "selftest"])
    assert code == 0, logs
    report = json.loads(logs[logs.index("{") :])
    assert report["passed"] and report["sandbox"]["landlock_abi"] >= 1


def test_images_hold_no_setuid_binary(docker, images):
    code, logs = run_in(docker, images["python"], ["find", "/", "-xdev", "-type", "f", "-perm", "/6000"])
    assert code == 0 and logs.strip() == ""
