"""Kubernetes discovery through the real `kubernetes` client, against a stand-in API over
real HTTP: pods appear, turn not-ready, disappear; the watch expires; the API goes away and
comes back. After each, the registry matches the cluster."""

from __future__ import annotations

import asyncio
import time

import pytest

from codering_x.dispatcher.config import HealthConfig
from codering_x.dispatcher.kubernetes_discovery import KubernetesDiscovery, api_client_from
from codering_x.dispatcher.pool import Registry
from tests.kubernetes.fake_api import FakeKubeAPI, endpoint_slice

SERVICE = "nuclio-codering-python"


@pytest.fixture
def api():
    fake = FakeKubeAPI()
    fake.url = fake.start()
    yield fake
    fake.stop()


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the registry did not catch up")
        await asyncio.sleep(0.02)


def urls(registry: Registry) -> dict[str, str]:
    return {w.name: w.spec.url for w in registry.workers.values()}


def test_the_registry_follows_the_cluster(api):
    api.put(endpoint_slice("python-a", SERVICE, 9001, {"pod-a": True}))
    api.put(endpoint_slice("other", "nuclio-someone-else", 9009, {"pod-x": True}))

    async def scenario() -> None:
        registry = Registry(HealthConfig())
        discovery = KubernetesDiscovery(
            api_client_from(api.url), "nuclio", ["python", "go"], "codering-", registry, lambda: None,
            watch_timeout_s=30, backoff_max_s=0.2,
        )  # fmt: skip
        task = asyncio.create_task(discovery.run())
        try:
            await until(lambda: urls(registry) == {"python/pod-a": "http://127.0.0.1:9001"})  # listed, others ignored
            api.put(endpoint_slice("python-b", SERVICE, 9002, {"pod-b": True}, sessions=9102))  # a pod appears
            await until(lambda: set(urls(registry)) == {"python/pod-a", "python/pod-b"})
            sessions = {w.name: w.spec.session_url for w in registry.workers.values()}
            assert sessions == {  # the sidecar's port, else the default path on the http port
                "python/pod-a": "http://127.0.0.1:9001/v1/interactive",
                "python/pod-b": "http://127.0.0.1:9102/v1/interactive",
            }
            api.put(endpoint_slice("go-a", "nuclio-codering-go", 9003, {"pod-g": True}))
            await until(lambda: registry.workers.get("go/pod-g") is not None)
            assert registry.workers["go/pod-g"].spec.runtime == "go"
            api.put(endpoint_slice("python-b", SERVICE, 9002, {"pod-b": False}))  # not ready
            await until(lambda: "python/pod-b" not in urls(registry))
            api.delete("python-a")  # a pod disappears
            await until(lambda: set(urls(registry)) == {"go/pod-g"})

            lists = api.lists
            api.expire()  # the watch expires: 410 Gone, relist
            api.put(endpoint_slice("python-c", SERVICE, 9004, {"pod-c": True}))
            await until(lambda: "python/pod-c" in urls(registry) and api.lists > lists)

            port = api.port
            api.stop()  # the API server goes away ...
            await asyncio.sleep(0.5)
            assert "python/pod-c" in urls(registry)  # ... the last known pods keep serving
            api.slices.pop("go-a")
            api.put(endpoint_slice("python-d", SERVICE, 9005, {"pod-d": True}))
            api.start(port)  # ... and comes back, changed meanwhile
            await until(lambda: set(urls(registry)) == {"python/pod-c", "python/pod-d"}, timeout=15)
        finally:
            task.cancel()

    asyncio.run(scenario())
