"""Kubernetes discovery: the ready pods behind each function's Service, from EndpointSlices.

A Kubernetes Service would pick a pod at random, perhaps the same one for both sends of
a hedge; the dispatcher needs the pods themselves. Nuclio names a function's Service
`nuclio-<function name>`, and EndpointSlices carry `kubernetes.io/service-name`. One list
then watch over all of them keeps the registry current: a 410 Gone (an expired
resourceVersion) relists, and any other error backs off and relists. A slice's `sessions`
port, when it has one, is where its pods serve interactive sessions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from .pool import Registry, WorkerSpec

log = logging.getLogger("codering_x.dispatcher")
SERVICE_LABEL = "kubernetes.io/service-name"
# The port of the function pods' sessions sidecar (functions.py): Nuclio names it after the
# sidecar. A WebSocket cannot go through Nuclio's HTTP trigger, so sessions go there.
SESSIONS_PORT = "sessions"


def service_name(function_prefix: str, runtime: str) -> str:
    return f"nuclio-{function_prefix}{runtime}"


def slice_workers(item: Any, runtime: str) -> list[WorkerSpec]:
    """The ready endpoints of one EndpointSlice, as workers: runs go to its `http` port (or
    its first), interactive sessions to its `sessions` port, the sidecar's, when it has one."""
    ports = [p for p in (item.ports or []) if (p.protocol or "TCP") == "TCP" and p.port]
    sessions_port = next((p.port for p in ports if p.name == SESSIONS_PORT), None)
    ports = [p for p in ports if p.name != SESSIONS_PORT]
    if not ports:
        return []
    port = next((p.port for p in ports if p.name == "http"), ports[0].port)
    workers = []
    for endpoint in item.endpoints or []:
        conditions = endpoint.conditions
        if conditions is not None and conditions.ready is False:
            continue
        for address in endpoint.addresses or []:
            host = f"[{address}]" if ":" in address else address
            name = endpoint.target_ref.name if endpoint.target_ref is not None else address
            sessions = f"http://{host}:{sessions_port}/v1/interactive" if sessions_port else None
            workers.append(WorkerSpec(f"{runtime}/{name}", runtime, f"http://{host}:{port}", sessions))
    return workers


class KubernetesDiscovery:
    def __init__(
        self,
        api_client: Any,
        namespace: str,
        runtimes: list[str],
        function_prefix: str,
        registry: Registry,
        changed: Callable[[], None],
        watch_timeout_s: int = 300,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.api_client, self.namespace = api_client, namespace
        self.runtimes = sorted(runtimes)
        self.services = {service_name(function_prefix, r): r for r in runtimes}
        self.registry, self.changed = registry, changed
        self.watch_timeout_s, self.backoff_max_s = watch_timeout_s, backoff_max_s
        self.slices: dict[str, list[WorkerSpec]] = {}  # slice name → its workers

    @property
    def selector(self) -> str:
        return f"{SERVICE_LABEL} in ({','.join(sorted(self.services))})"

    def expected_runtimes(self) -> list[str]:
        return self.runtimes

    async def stop(self) -> None:
        """Nothing to release first: cancelling `run` stops the list-and-watch thread."""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        thread = threading.Thread(target=self._loop, args=(loop, stop), daemon=True, name="k8s-discovery")
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            stop.set()

    def _publish(self, loop: asyncio.AbstractEventLoop) -> None:
        specs = [w for workers in self.slices.values() for w in workers]
        loop.call_soon_threadsafe(self._apply, specs)

    def _apply(self, specs: list[WorkerSpec]) -> None:
        self.registry.replace("kubernetes", specs)
        self.changed()

    def _loop(self, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        from kubernetes import client, watch
        from kubernetes.client.rest import ApiException

        api = client.DiscoveryV1Api(self.api_client)
        backoff = 0.5
        while not stop.is_set():
            try:
                listed = api.list_namespaced_endpoint_slice(self.namespace, label_selector=self.selector)
                self.slices = {item.metadata.name: self._workers(item) for item in listed.items}
                self._publish(loop)
                version = listed.metadata.resource_version
                backoff = 0.5
                while not stop.is_set():
                    stream = watch.Watch().stream(
                        api.list_namespaced_endpoint_slice,
                        self.namespace,
                        label_selector=self.selector,
                        resource_version=version,
                        timeout_seconds=self.watch_timeout_s,
                        allow_watch_bookmarks=True,
                    )
                    for event in stream:
                        item = event["object"]
                        version = item.metadata.resource_version or version
                        if event["type"] == "BOOKMARK":
                            continue
                        if event["type"] == "DELETED":
                            self.slices.pop(item.metadata.name, None)
                        else:
                            self.slices[item.metadata.name] = self._workers(item)
                        self._publish(loop)
                        if stop.is_set():
                            return
            except ApiException as exc:
                if exc.status == 410:
                    log.info("endpointslice watch expired; relisting")
                    continue
                log.warning("kubernetes API error %s; retrying in %.1f s", exc.status, backoff)
            except Exception as exc:  # the API server went away: back off, then relist
                log.warning("kubernetes API unreachable (%s); retrying in %.1f s", type(exc).__name__, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)

    def _workers(self, item: Any) -> list[WorkerSpec]:
        runtime = self.services.get((item.metadata.labels or {}).get(SERVICE_LABEL, ""))
        return slice_workers(item, runtime) if runtime else []


def api_client_from(url: str | None) -> Any:
    """In-cluster credentials, or a kubeconfig, or (for tests) a plain URL."""
    from kubernetes import client, config

    if url:
        configuration = client.Configuration()
        configuration.host = url
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()
