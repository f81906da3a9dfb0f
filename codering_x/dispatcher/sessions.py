"""The dispatcher's interactive sessions: GET /v1/interactive, proxied to a worker.

Hedged as a run is: the session is started on two workers (`?hold=1`); each prepares (box,
files, compile) and says `ready`; the first ready is told `go`, the other is closed before
its program starts (closing a session cancels it). From then on the session is pinned to
its worker: frames pass both ways, the worker's renumbered (`seq` is the dispatcher's), and
the loser's never reach the client. What the client sends before the pin is held, then
passed on. A pinned worker that goes away without a result is `worker_lost`: its stdin
cannot be replayed, so the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import WSMsgType, web

from ..interactive import ENDED, GO, HOLD_PARAM, MAX_FRAME_BYTES, PING_S, READY, StartRefused, receive_start
from ..models import ErrorResponse
from .config import Settings
from .metrics import Metrics
from .pool import Registry, WorkerState

log = logging.getLogger("codering_x.dispatcher")


class Ended(Exception):
    """The client's session is over (closed with a frame that says why, or gone)."""


class Client:
    """The client's end: frames numbered here."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws, self.seq = ws, 0

    async def send(self, frame: dict[str, Any]) -> None:
        frame["seq"] = self.seq
        self.seq += 1
        await self.ws.send_str(json.dumps(frame))

    async def fail(self, close_code: int, code: str, message: str, details: Any = None) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send({"type": "error", **ErrorResponse.body(code, message, details)})
        await self.ws.close(code=close_code, message=code.encode()[:120])


@dataclass
class Candidate:
    """A worker asked to prepare the session, and what it said so far."""

    worker: WorkerState
    ws: aiohttp.ClientWebSocketResponse | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    async def prepare(self, http: aiohttp.ClientSession, start: str) -> str:
        """Connect, send `start`, read until `ready` ('ready'), a request error ('error'),
        or a failure ('failed')."""
        try:
            self.ws = await http.ws_connect(
                self.worker.spec.session_url, params={HOLD_PARAM: "1"}, heartbeat=PING_S,
                max_msg_size=MAX_FRAME_BYTES, timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
            )  # fmt: skip
            await self.ws.send_str(start)
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    break
                frame = json.loads(message.data)
                if frame.get("type") == READY:
                    return "ready"
                self.frames.append(frame)
            self.close_code = self.ws.close_code
        except (aiohttp.ClientError, ConnectionError, TimeoutError, ValueError) as exc:
            log.warning("session on %s failed: %s", self.worker.name, exc)
            return "failed"
        errors = [f for f in self.frames if f.get("type") == "error"]
        return "error" if errors and self.close_code in (4400, 4429) else "failed"

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def origin_allowed(origin: str | None, request: web.Request, allowed: list[str]) -> bool:
    """A WebSocket is not under CORS: a page of any site may open one to us, so its Origin is
    checked here. Allowed: no Origin (not a browser), a listed one, or this host's own (the
    playground, served by this dispatcher)."""
    if origin is None or "*" in allowed or origin in allowed:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


class SessionProxy:
    def __init__(self, registry: Registry, http: aiohttp.ClientSession, settings: Settings, metrics: Metrics):
        self.registry, self.http, self.settings, self.metrics = registry, http, settings, metrics
        self.active: dict[str, int] = defaultdict(int)
        self.clients: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, request, self.settings.cors_origins):
            body = ErrorResponse.body("origin", f"origin {origin!r} is not allowed (the cors_origins setting)")
            return web.json_response(body, status=403)
        ws = web.WebSocketResponse(heartbeat=PING_S, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        client = Client(ws)
        self.clients.add(ws)
        try:
            start_text, runtime = await self._start(client, request)
            if self.active[runtime] >= self.settings.max_sessions_per_runtime:
                limit = self.settings.max_sessions_per_runtime
                await client.fail(
                    4429, "busy", f"{limit} {runtime} sessions at once; retry shortly", {"retry_after_s": 1}
                )
                return ws
            self.active[runtime] += 1
            self.metrics.sessions.labels(runtime).inc()
            try:
                await self._proxy(client, runtime, start_text)
            finally:
                self.active[runtime] -= 1
                self.metrics.sessions.labels(runtime).dec()
        except Ended:
            pass
        finally:
            self.clients.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws

    async def close_all(self) -> None:
        """On shutdown: every client is told the server is going away (1001)."""
        for ws in list(self.clients):
            await ws.close(code=1001, message=b"shutting down")

    async def _start(self, client: Client, request: web.Request) -> tuple[str, str]:
        """The start frame, checked (the token, the runtime) as POST /v1/run would be; the
        text to send on (without the token) and the runtime."""
        try:
            frame = await receive_start(client.ws)
        except StartRefused as exc:
            await client.fail(4400, exc.code, exc.message, exc.details)
            raise Ended from exc
        if frame is None:
            raise Ended
        token = self.settings.token
        if token:
            header = request.headers.get("Authorization", "").removeprefix("Bearer ")
            given = frame.token or header
            if not hmac.compare_digest(given.encode(), token.encode()):
                await client.fail(4400, "unauthorized", "a valid token is required (the start frame's `token`)")
                raise Ended
        runtime = self.registry.resolve(frame.runtime)
        if runtime is None:
            known = sorted(self.registry.runtimes())
            await client.fail(4400, "unknown_runtime", f"unknown runtime {frame.runtime!r}", {"known": known})
            raise Ended
        return frame.model_copy(update={"token": None}).model_dump_json(exclude_none=True), runtime

    async def _proxy(self, client: Client, runtime: str, start: str) -> None:
        held: list[str] = []  # the client's frames before the pin
        candidates = self._candidates(runtime)
        if not candidates:
            await client.fail(1011, "no_worker", f"no healthy worker for runtime {runtime!r}; retry shortly")
            return
        preparing = {asyncio.create_task(c.prepare(self.http, start)): c for c in candidates}
        listening = asyncio.create_task(client.ws.receive())
        winner: Candidate | None = None
        refused: Candidate | None = None  # a worker said the request is wrong
        outcomes: list[tuple[str, Candidate]] = []
        try:
            while preparing and winner is None:
                done, _ = await asyncio.wait([*preparing, listening], return_when=asyncio.FIRST_COMPLETED)
                if listening in done:
                    message = listening.result()
                    if message.type in ENDED:
                        return  # the client left: the candidates are closed below
                    held.append(message.data)
                    listening = asyncio.create_task(client.ws.receive())
                for task in done & preparing.keys():
                    candidate = preparing.pop(task)
                    outcome = task.result()
                    outcomes.append((outcome, candidate))
                    if outcome == "ready":
                        winner = candidate
                    elif outcome == "failed":
                        self.registry.failed(candidate.worker)
                        self.metrics.worker_failures.labels(candidate.worker.name, runtime).inc()
                    elif candidate.close_code == 4400:  # the request's fault: any worker says the same
                        refused = candidate
                if refused is not None:
                    break
        finally:
            for task in preparing:
                task.cancel()
            await asyncio.gather(*preparing, return_exceptions=True)
            for candidate in candidates:  # the losers: closed before their programs start
                if candidate is not winner:
                    await candidate.close()
            if winner is None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
        if refused is not None:
            await self._relay(client, refused.frames)
            await client.ws.close(code=4400)
            return
        if winner is None:
            if outcomes and all(c.close_code == 4429 for _, c in outcomes):
                await client.fail(4429, "busy", f"every {runtime} worker has all the sessions it takes; retry shortly")
            else:
                await client.fail(1011, "workers_failed", f"every worker tried for {runtime!r} failed")
            return
        await self._pinned(client, winner, held, listening)

    def _candidates(self, runtime: str) -> list[Candidate]:
        picked: list[Candidate] = []
        while len(picked) < self.settings.hedge.fanout:
            worker = self.registry.pick(runtime, {c.worker.serial for c in picked})
            if worker is None:
                break
            picked.append(Candidate(worker))
        return picked

    async def _pinned(self, client: Client, winner: Candidate, held: list[str], listening: asyncio.Task) -> None:
        """The session on its worker, both ways, until one side ends."""
        assert winner.ws is not None
        worker_ws = winner.ws

        async def upstream(listening: asyncio.Task) -> None:
            """The client's frames to the worker, until the client leaves."""
            while True:
                message = await listening
                if message.type in ENDED:
                    return
                await worker_ws.send_str(message.data)
                listening = asyncio.create_task(client.ws.receive())

        async def downstream() -> bool:
            """The worker's frames to the client; True if its last one ended the session."""
            ended = await self._relay(client, winner.frames)
            async for message in worker_ws:
                if message.type != WSMsgType.TEXT:
                    break
                ended = await self._relay(client, [json.loads(message.data)])
            return ended

        ended = False
        try:
            await worker_ws.send_str(json.dumps({"type": GO}))
            for text in held:
                await worker_ws.send_str(text)
            up, down = asyncio.create_task(upstream(listening)), asyncio.create_task(downstream())
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            ended = down.done() and not down.cancelled() and down.exception() is None and down.result()
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.warning("session on %s broke: %s", winner.worker.name, exc)
        finally:
            await worker_ws.close()  # the client left: this ends the run
        if client.ws.closed:
            return
        if ended:
            await client.ws.close(code=worker_ws.close_code if worker_ws.close_code in (1000, 4400) else 1011)
        else:
            self.registry.failed(winner.worker)
            await client.fail(1011, "worker_lost", f"the worker running the session ({winner.worker.name}) went away")

    @staticmethod
    async def _relay(client: Client, frames: list[dict[str, Any]]) -> bool:
        """Pass a worker's frames on; True if the last was the session's end (result, or
        an error after which the worker closes)."""
        last = False
        for frame in frames:
            await client.send(frame)
            last = frame.get("type") in ("result", "error")
        return last
