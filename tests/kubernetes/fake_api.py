"""A stand-in Kubernetes API server for EndpointSlices, over real HTTP: list with a
resourceVersion, a watch stream of ADDED/MODIFIED/DELETED events, 410 Gone for an expired
version, and an off switch. Enough for the real `kubernetes` client to talk to."""

from __future__ import annotations

import json
import queue
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PATH = re.compile(r"^/apis/discovery\.k8s\.io/v1/namespaces/([^/]+)/endpointslices$")


def endpoint_slice(
    name: str, service: str, port: int, pods: dict[str, bool], namespace: str = "nuclio", sessions: int | None = None
) -> dict:
    """An EndpointSlice of `service` with one endpoint per pod name → ready, and with
    `sessions`, the port of the pods' sessions sidecar, as Nuclio names it."""
    ports = [{"name": "http", "port": port, "protocol": "TCP"}]
    if sessions is not None:
        ports.append({"name": "sessions", "port": sessions, "protocol": "TCP"})
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["127.0.0.1"], "conditions": {"ready": ready}, "targetRef": {"kind": "Pod", "name": pod}}
            for pod, ready in pods.items()
        ],
        "ports": ports,
    }


class FakeKubeAPI:
    def __init__(self) -> None:
        self.slices: dict[str, dict] = {}
        self.version = 100
        self.oldest = 0  # versions below this are expired: a watch from them gets 410
        self.watchers: list[queue.Queue] = []
        self.lists = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    # -- the cluster changes ------------------------------------------------------------
    def put(self, item: dict) -> None:
        with self.lock:
            self.version += 1
            item["metadata"]["resourceVersion"] = str(self.version)
            kind = "MODIFIED" if item["metadata"]["name"] in self.slices else "ADDED"
            self.slices[item["metadata"]["name"]] = item
            self._send({"type": kind, "object": item})

    def delete(self, name: str) -> None:
        with self.lock:
            self.version += 1
            item = self.slices.pop(name)
            item["metadata"]["resourceVersion"] = str(self.version)
            self._send({"type": "DELETED", "object": item})

    def expire(self) -> None:
        """Compact history: every open watch gets a 410 Gone."""
        with self.lock:
            self.oldest = self.version + 1
            self._send({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                    "message": "too old resource version", "reason": "Expired", "code": 410}})  # fmt: skip

    def _send(self, event: dict) -> None:
        for watcher in self.watchers:
            watcher.put(event)

    # -- the server --------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                match = PATH.match(url.path)
                if not match:
                    self.send_error(404)
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                services = set(re.findall(r"[\w.-]+", query.get("labelSelector", "").partition("(")[2]))
                if query.get("watch", "").lower() in ("true", "1"):
                    api._watch(self, services, int(query.get("resourceVersion") or 0))
                    return
                with api.lock:
                    api.lists += 1
                    items = [s for s in api.slices.values() if api._selected(s, services)]
                    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
                            "metadata": {"resourceVersion": str(api.version)}, "items": items}  # fmt: skip
                self._json(200, body)

            def _json(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """The API server goes away: no more connections, open watches end."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            self._send({"type": "_CLOSE"})

    @staticmethod
    def _selected(item: dict, services: set[str]) -> bool:
        return not services or item["metadata"]["labels"].get("kubernetes.io/service-name") in services

    def _watch(self, handler: BaseHTTPRequestHandler, services: set[str], since: int) -> None:
        # Chunked, as the real API server streams: each event arrives as it happens.
        handler.protocol_version = "HTTP/1.1"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()

        def chunk(data: bytes) -> None:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        events: queue.Queue = queue.Queue()
        with self.lock:
            if since < self.oldest:
                events.put({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                        "message": "too old resource version", "reason": "Expired", "code": 410}})  # fmt: skip
            self.watchers.append(events)
        try:
            while True:
                try:
                    event = events.get(timeout=30)
                except queue.Empty:
                    break
                if event["type"] == "_CLOSE":
                    break
                if event["type"] != "ERROR" and not self._selected(event["object"], services):
                    continue
                chunk(json.dumps(event).encode() + b"\n")
                if event["type"] == "ERROR":
                    break
            chunk(b"")  # the last chunk: the watch ends
        except OSError:
            return
        finally:
            with self.lock:
                self.watchers.remove(events)
