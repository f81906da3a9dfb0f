"""`codering-x worker`: serve the Nuclio handler over HTTP, as Nuclio's processor does for
its HTTP trigger, for the embedded and docker modes.

Each request becomes a nuclio_sdk.Event (body, headers, method, path) handed to the same
handler Nuclio runs; its Response becomes the HTTP answer. Up to `concurrency` runs go at
once, each in a thread (the sandbox launch is synchronous and thread-safe). When a client
disconnects, its run is cancelled and every process of it killed: the loser of a hedge
stops burning CPU at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import nuclio_sdk
from aiohttp import web

from . import aio
from . import handler as nuclio_handler
from .faults import Fault
from .models import ErrorResponse
from .sandbox import Cancel
from .session import Sessions
from .settings import WorkerSettings

log = logging.getLogger("codering_x.worker")
SHUTDOWN_GRACE_S = 5.0  # on SIGTERM, runs in flight may finish this long before they are killed


def nuclio_context(worker_id: str) -> nuclio_sdk.Context:
    """A context like the one Nuclio's wrapper builds: a JSON logger on stderr, user_data."""
    logger = nuclio_sdk.Logger(logging.INFO, name=f"codering-x.worker.{worker_id}")
    logger.set_handler("default", sys.stderr, nuclio_sdk.logger.JSONFormatter())
    platform = nuclio_sdk.Platform("local", namespace="codering-x")
    return nuclio_sdk.Context(logger, platform, worker_id, nuclio_sdk.TriggerInfo("http", "http"))


class Worker:
    def __init__(self, runtime: str, name: str, concurrency: int, fault: Fault | None = None) -> None:
        self.name = name
        self.context = nuclio_context(name)
        # the flags over the environment; concurrency also sizes the prewarm pool
        settings = WorkerSettings().model_copy(update={"runtime": runtime, "concurrency": concurrency})
        nuclio_handler.init_context(self.context, settings)  # loads the runtime, runs the self-test
        self.runtime = self.context.user_data.runtime
        self.threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="run")
        self.concurrency = concurrency
        self.cancels: set[Cancel] = set()  # one per run in flight: fired when the worker stops
        self.draining = False
        self.fault = fault
        self.sessions = Sessions(
            self.context.user_data.engine, self.runtime, name, settings.interactive_sessions, self.cancels
        )

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 << 20)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_post("/", self.run)
        app.router.add_post("/v1/run", self.run)
        app.router.add_get("/v1/interactive", self.interactive)
        return app

    async def interactive(self, request: web.Request) -> web.StreamResponse:
        if self.draining:
            return self._stopping()
        return await self.sessions.handle(request)

    async def healthz(self, request: web.Request) -> web.Response:
        if self.draining:
            return self._stopping()
        return web.json_response({**nuclio_handler.health(self.context), "in_flight": len(self.cancels)})

    @staticmethod
    def _stopping() -> web.Response:
        """A 503: the dispatcher sends the request to another worker."""
        return web.json_response(ErrorResponse.body("worker_stopping", "this worker is shutting down"), status=503)

    async def drain(self, runner: web.AppRunner) -> None:
        """Stop without leaving anything behind: new requests are refused (503), runs in
        flight get a grace and are then killed, and the members, the janitor's queue and
        every box are closed before the process exits."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_S
        while self.cancels and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for cancel in list(self.cancels):
            cancel.cancel()
        await runner.cleanup()
        self.threads.shutdown(wait=True, cancel_futures=True)
        self.sessions.close()
        self.context.user_data.engine.close()

    async def run(self, request: web.Request) -> web.StreamResponse:
        if self.draining:
            return self._stopping()
        if self.fault is not None and self.fault.hits():
            if self.fault.kind == "error":
                return web.json_response(ErrorResponse.body("injected", "fault injected"), status=500)
            if self.fault.kind == "close":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            await self.fault.stall()
        event = nuclio_sdk.Event(
            body=await request.read(),
            content_type=request.content_type,
            headers=dict(request.headers),
            method=request.method,
            path=request.path,
            trigger=nuclio_sdk.TriggerInfo("http", "http"),
        )
        loop = asyncio.get_running_loop()
        with Cancel() as cancel:
            self.cancels.add(cancel)
            future = loop.run_in_executor(self.threads, nuclio_handler.handle, self.context, event, cancel)
            try:
                response = await asyncio.shield(future)
            except asyncio.CancelledError:  # the client went away: kill the run, then let go
                cancel.cancel()
                await asyncio.wait([future])
                raise
            finally:
                self.cancels.discard(cancel)
        headers = {k: str(v) for k, v in (response.headers or {}).items()}
        body = response.body if isinstance(response.body, bytes | str) else json.dumps(response.body)
        return web.Response(
            body=body.encode() if isinstance(body, str) else body,
            status=response.status_code,
            headers={**headers, "Content-Type": response.content_type or "application/json"},
        )


async def serve(worker: Worker, host: str, port: int) -> None:
    # handler_cancellation: a disconnected client cancels its handler, hence its run
    runner = web.AppRunner(worker.app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0]
    # The first line of stdout is the contract with `codering-x serve`: it reads the port here.
    print(f"listening http://{bound[0]}:{bound[1]} runtime={worker.runtime.name} worker={worker.name}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await worker.drain(runner)


def main(runtime: str, host: str, port: int, concurrency: int, name: str | None, fault: str | None) -> int:
    worker = Worker(runtime, name or f"{runtime}-{os.getpid()}", concurrency, Fault.parse(fault) if fault else None)
    with contextlib.suppress(KeyboardInterrupt):
        aio.run(serve(worker, host, port))
    return 0
