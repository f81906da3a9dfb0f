"""The dispatcher's HTTP front (aiohttp): the API, its middlewares, and start/stop."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from ..interactive import asyncapi_document
from ..models import ErrorResponse, RunRequest, validation_details
from .config import Settings
from .health import HealthChecker
from .hedging import Hedger, Outcome, error_outcome
from .metrics import Metrics
from .openapi import openapi_document
from .pool import Registry
from .sessions import SessionProxy

log = logging.getLogger("codering_x.dispatcher")
PLAYGROUND_DIR = Path(__file__).with_name("playground")  # built from web/ (README: The playground)
# The page talks to this origin only (its WebSocket included); CodeMirror and xterm set styles inline.
PLAYGROUND_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, details: object = None, **headers: str) -> web.Response:
    return web.json_response(ErrorResponse.body(code, message, details), status=status, headers=headers or None)


def invalid_body(exc: ValidationError) -> Outcome:
    """400: `invalid_json` when the body is not JSON at all, else `invalid_request` with the errors."""
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return error_outcome(400, "invalid_json", f"the body is not valid JSON: {errors[0]['msg']}")
    if any(e["type"] == "model_type" and not e["loc"] for e in errors):
        return error_outcome(400, "invalid_request", "the body must be a JSON object (a RunRequest)")
    details = validation_details(exc)
    return error_outcome(400, "invalid_request", "the request does not match the RunRequest schema", details)


class Dispatcher:
    """Owns the registry, the health checker, the hedger and the HTTP app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.registry = Registry(settings.health)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.session: aiohttp.ClientSession | None = None
        self.health: HealthChecker | None = None
        self.hedger: Hedger | None = None
        self.sessions: SessionProxy | None = None
        self.tasks: list[asyncio.Task] = []

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        self.health = HealthChecker(self.registry, self.session, self.metrics)
        self.hedger = Hedger(self.registry, self.session, self.settings.hedge, self.metrics)
        self.sessions = SessionProxy(self.registry, self.session, self.settings, self.metrics)
        self.tasks.append(asyncio.create_task(self.health.run(), name="health"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def workers_changed(self) -> None:
        """Discovery calls this after registry.replace(): probe the new workers now."""
        if self.health is not None:
            self.health.changed.set()

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self.request_id, self.cors, self.auth], client_max_size=self.settings.max_body_bytes
        )
        app.router.add_post("/v1/run", self.run)
        app.router.add_get("/v1/interactive", self.interactive)
        app.on_shutdown.append(self._close_sessions)
        app.router.add_get("/v1/runtimes", self.runtimes)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_text)
        app.router.add_get("/openapi.json", self.openapi_json)
        app.router.add_get("/asyncapi.json", self.asyncapi_json)
        if self.settings.playground:
            app.router.add_get("/", self.playground)
            app.router.add_static("/playground/", PLAYGROUND_DIR)
            app.on_response_prepare.append(self._playground_headers)
        return app

    # -- middlewares -------------------------------------------------------------------
    @web.middleware
    async def request_id(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        request["request_id"] = rid
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405/...: in our error shape
            response = error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
            if "Allow" in exc.headers:  # a 405 must say which methods are allowed (RFC 9110)
                response.headers["Allow"] = exc.headers["Allow"]
        response.headers["X-Request-Id"] = rid
        return response

    @web.middleware
    async def cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and ("*" in self.settings.cors_origins or origin in self.settings.cors_origins)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not allowed:
                return error_response(403, "cors_origin", f"origin {origin!r} is not allowed")
            response: web.StreamResponse = web.Response(status=204)
            response.headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-Id",
                    "Access-Control-Max-Age": "600",
                }
            )
        else:
            response = await handler(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
            response.headers["Vary"] = "Origin"
        return response

    @web.middleware
    async def auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.settings.token
        # A browser cannot set headers on a WebSocket: a session's token is in its start frame.
        if token and request.path.startswith("/v1/") and request.path != "/v1/interactive":
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return error_response(
                    401, "unauthorized", "a valid bearer token is required", None, **{"WWW-Authenticate": "Bearer"}
                )
        return await handler(request)

    # -- endpoints -----------------------------------------------------------------------
    async def run(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        outcome, runtime = await self._run(request)
        status_label = outcome.body.get("status") or outcome.body.get("error", {}).get("code", "error")
        self.metrics.requests.labels(runtime or "-", status_label).inc()
        if runtime:
            self.metrics.latency.labels(runtime).observe(time.monotonic() - started)
            compiled = outcome.body.get("compile")
            if isinstance(compiled, dict):
                self.metrics.compile_cache.labels(runtime, "hit" if compiled.get("cached") else "miss").inc()
        headers = {"Retry-After": "1"} if outcome.status in (429, 503) else None
        return web.json_response(outcome.body, status=outcome.status, headers=headers)

    async def _run(self, request: web.Request) -> tuple[Outcome, str | None]:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return error_outcome(413, "too_large", f"the body is larger than {limit} bytes"), None
        try:
            body = await asyncio.wait_for(request.read(), self.settings.body_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return error_outcome(413, "too_large", f"the body is larger than {limit} bytes"), None
        except TimeoutError:
            return error_outcome(408, "body_timeout", "the body did not arrive in time"), None
        try:  # one pass: pydantic parses the JSON and validates it together
            run_request = RunRequest.model_validate_json(body)
        except ValidationError as exc:
            return invalid_body(exc), None
        runtime = self.registry.resolve(run_request.runtime)
        if runtime is None:
            known = sorted(self.registry.runtimes())
            message = f"unknown runtime {run_request.runtime!r}; known runtimes: {', '.join(known)}"
            return error_outcome(400, "unknown_runtime", message, {"known": known}), None
        if self.in_flight[runtime] >= self.settings.max_in_flight_per_runtime:
            return error_outcome(429, "busy", f"too many {runtime} runs in flight; retry shortly"), runtime
        self.in_flight[runtime] += 1
        self.metrics.in_flight.labels(runtime).inc()
        try:
            assert self.hedger is not None
            gone = lambda: request.transport is None or request.transport.is_closing()  # noqa: E731
            return await self.hedger.dispatch(runtime, body, request["request_id"], gone), runtime
        finally:
            self.in_flight[runtime] -= 1
            self.metrics.in_flight.labels(runtime).dec()

    async def interactive(self, request: web.Request) -> web.StreamResponse:
        assert self.sessions is not None
        return await self.sessions.handle(request)

    async def _close_sessions(self, app: web.Application) -> None:
        if self.sessions is not None:
            await self.sessions.close_all()

    async def runtimes(self, request: web.Request) -> web.Response:
        catalogue = self.registry.catalogue()
        entries = []
        for name in sorted(self.registry.runtimes()):
            entry = dict(catalogue.get(name, {"name": name}))
            entry["healthy_workers"] = self.registry.healthy_count(name)
            entries.append(entry)
        return web.json_response({"runtimes": entries})

    async def playground(self, request: web.Request) -> web.StreamResponse:
        """The playground page: it runs code through this API, as any client would."""
        return web.FileResponse(PLAYGROUND_DIR / "index.html")

    @staticmethod
    async def _playground_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path == "/" or request.path.startswith("/playground/"):
            response.headers.update(PLAYGROUND_HEADERS)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        # What the registry expects (the server sets it before discovery starts), else what is found.
        expected = self.registry.expected or sorted({w.spec.runtime for w in self.registry.workers.values()})
        short = {r: self.registry.healthy_count(r) for r in expected if self.registry.healthy_count(r) < 2}
        if not expected or short:
            message = "no runtime discovered yet" if not expected else "runtimes with fewer than 2 healthy workers"
            return web.json_response({"status": "not_ready", "message": message, "short": short}, status=503)
        return web.json_response({"status": "ready", "runtimes": expected})

    async def metrics_text(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi_json(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(sorted(self.registry.names())))

    async def asyncapi_json(self, request: web.Request) -> web.Response:
        """The interactive sessions' protocol (GET /v1/interactive)."""
        return web.json_response(asyncapi_document())
