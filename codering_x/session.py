"""A worker's interactive session: GET /v1/interactive, one job whose run is live.

The event loop talks to the client; the job's blocking stages (compile, run) go to a
thread each, as a POST's run does. The run's stdin, signals and output cross through a
`Live` (sandbox/live.py), bounded both ways. Whatever ends the session (result, client
gone, unanswered pings, worker stopping) ends the run: its processes are killed and its
box is retired, as for a request whose client left.

Frames: interactive.py. With `?hold=1` (the dispatcher's hedge) the worker says `ready`
once the program could start, and starts it only on `go`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ValidationError

from .catalogue import Runtime
from .engine import Engine
from .errors import Cancelled, RequestError
from .interactive import (
    ENDED,
    GO,
    HOLD_PARAM,
    MAX_FRAME_BYTES,
    PING_S,
    READY,
    AcceptedFrame,
    EofFrame,
    ErrorFrame,
    OutputFrame,
    ResultFrame,
    SignalFrame,
    StageFrame,
    StartFrame,
    StartRefused,
    StdinFrame,
    output_parts,
    parse_client_frame,
    receive_start,
)
from .models import ErrorDetail, ErrorResponse, RuntimeInfo, validation_details
from .sandbox import Cancel, Live

log = logging.getLogger("codering_x.session")
STDIN_BACKLOG = 1 << 20  # stdin not yet taken by the program: past it, the client's frames wait


class SessionEnded(Exception):
    """The session was closed with an error frame: nothing more to do."""


class Sessions:
    """A worker's sessions: at most `limit` at once (past it: close 4429)."""

    def __init__(self, engine: Engine, runtime: Runtime, worker: str, limit: int, cancels: set[Cancel]) -> None:
        self.engine, self.runtime, self.worker, self.limit = engine, runtime, worker, limit
        self.cancels = cancels  # the worker's: it cancels them when it stops
        self.active = 0
        self.tasks: set[asyncio.Task] = set()
        self.threads = ThreadPoolExecutor(max_workers=2 * limit, thread_name_prefix="session")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "Origin" in request.headers:  # a browser: it must come through the dispatcher
            body = ErrorResponse.body("origin", "workers take no browser sessions; use the dispatcher")
            return web.json_response(body, status=403)
        ws = web.WebSocketResponse(heartbeat=PING_S, max_msg_size=MAX_FRAME_BYTES)
        try:
            await ws.prepare(request)
        except ConnectionError:  # a hedge's loser, closed while it connected: nothing started
            return ws
        session = Session(self, ws, hold=request.query.get(HOLD_PARAM) == "1")
        if self.active >= self.limit:
            await session.fail(
                4429, "busy", f"this worker has {self.limit} sessions; retry shortly", {"retry_after_s": 1}
            )
            return ws
        self.active += 1
        # Its own task: aiohttp cancels a handler whose client has gone, and a session must
        # still end in order (its run stopped, then its Live closed) whenever that happens.
        task = asyncio.create_task(session.serve())
        self.tasks.add(task)
        task.add_done_callback(self._ended)
        await asyncio.shield(task)
        return ws

    def _ended(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.active -= 1

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)


class Session:
    def __init__(self, owner: Sessions, ws: web.WebSocketResponse, hold: bool) -> None:
        self.owner, self.ws, self.hold = owner, ws, hold
        self.seq = 0
        self.go = asyncio.Event()
        self.output_ready = asyncio.Event()
        self.cancel = Cancel()
        self.live: Live | None = None

    # -- sending ---------------------------------------------------------------------------
    async def send(self, frame_type: type[BaseModel], **fields: Any) -> None:
        frame = frame_type(seq=self.seq, **fields)
        self.seq += 1
        await self.ws.send_str(frame.model_dump_json())

    async def fail(self, close_code: int, code: str, message: str, details: Any = None) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(ErrorFrame, error=ErrorDetail(code=code, message=message, details=details))
        await self.ws.close(code=close_code, message=code.encode()[:120])

    # -- the session -----------------------------------------------------------------------
    async def serve(self) -> None:
        self.owner.cancels.add(self.cancel)
        reader: asyncio.Task | None = None
        try:
            start = await self._start()
            engine = self.owner.engine
            try:
                request = start.run_request()
                if engine.catalogue.get(request.runtime).name != self.owner.runtime.name:
                    raise RequestError("wrong_runtime", f"this worker runs {self.owner.runtime.name!r}")
                prepared = engine.prepare(request, interactive=True)
            except RequestError as exc:
                await self.fail(4400, exc.code, exc.message, exc.details)
                raise SessionEnded from exc
            runtime = prepared.runtime
            await self.send(
                AcceptedFrame, session=uuid.uuid4().hex,
                runtime=RuntimeInfo(name=runtime.name, version=runtime.toolchain_version), limits=prepared.limits,
            )  # fmt: skip
            loop = asyncio.get_running_loop()
            self.live = Live(lambda: loop.call_soon_threadsafe(self.output_ready.set))
            reader = asyncio.create_task(self._read())
            with engine.job(prepared, self.cancel) as job:
                result = job.new_result(request.context)
                if runtime.compile is not None:
                    await self.send(StageFrame, stage="compile")
                runnable = await self._blocking(job.compiled, result)
                if self.hold:
                    await self.ws.send_str(json.dumps({"type": READY, "seq": self.seq}))
                    await self._until(self.go)
                if runnable:
                    await self.send(StageFrame, stage="run")
                    result.run = await self._streaming(job.run, b"", request.args, self.live)
                    result.status = result.run.status
                    result.run.stdout = result.run.stderr = ""  # streamed (kept only for the verdict)
            result.meta.worker = self.owner.worker
            await self.send(ResultFrame, result=result)
            await self.ws.close(code=1000)
        except (SessionEnded, Cancelled, ConnectionError):
            pass
        except Exception as exc:  # ours: a structured error, the traceback in our log
            log.exception("interactive session failed")
            with contextlib.suppress(Exception):
                await self.fail(1011, "internal_error", f"the session failed inside codering-x: {type(exc).__name__}")
        finally:
            self.cancel.cancel()  # whatever is still running of it stops now
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            self.owner.cancels.discard(self.cancel)
            if self.live is not None:
                self.live.close()
            self.cancel.close()
            if not self.ws.closed:
                await self.ws.close()

    async def _start(self) -> StartFrame:
        try:
            frame = await receive_start(self.ws)
        except StartRefused as exc:
            await self.fail(4400, exc.code, exc.message, exc.details)
            raise SessionEnded from exc
        if frame is None:
            raise SessionEnded
        return frame

    async def _read(self) -> None:
        """The client's frames during the session; its leaving cancels the run."""
        assert self.live is not None
        while True:
            message = await self.ws.receive()
            if message.type != WSMsgType.TEXT:
                if message.type in ENDED:
                    self.cancel.cancel()
                    self.go.set()
                    return
                await self._reject("invalid_frame", "frames are JSON text")
                continue
            if self.hold and _is_go(message.data):
                self.go.set()
                continue
            try:
                frame = parse_client_frame(message.data)
            except ValidationError as exc:
                await self._reject("invalid_frame", "the frame is not valid", validation_details(exc))
                continue
            if isinstance(frame, StdinFrame):
                self.live.write(frame.data.encode())
                while self.live.stdin_backlog > STDIN_BACKLOG:  # the program is not reading: nor are we
                    await asyncio.sleep(0.05)
            elif isinstance(frame, EofFrame):
                self.live.close_stdin()
            elif isinstance(frame, SignalFrame):
                self.live.signal(signal.Signals[frame.signal])
            else:
                await self._reject("unexpected_start", "the session has started already")

    async def _reject(self, code: str, message: str, details: Any = None) -> None:
        """A bad frame during the session: said, and the session goes on."""
        await self.send(ErrorFrame, error=ErrorDetail(code=code, message=message, details=details))

    async def _blocking(self, stage: Callable[..., Any], *args: Any) -> Any:
        """A blocking stage in a thread; the session waits for it even when cancelled (it
        then ends at once: its processes are killed)."""
        future = asyncio.get_running_loop().run_in_executor(self.owner.threads, stage, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.cancel.cancel()
            await asyncio.wait([future])
            raise

    async def _streaming(self, stage: Callable[..., Any], *args: Any) -> Any:
        """The run stage, its output sent as it comes; the last of it before this returns."""
        assert self.live is not None
        pending = {"stdout": b"", "stderr": b""}
        run = asyncio.ensure_future(self._blocking(stage, *args))
        run.add_done_callback(lambda done: done.cancelled() or done.exception())  # raised below, or moot
        while True:
            woken = asyncio.ensure_future(self.output_ready.wait())
            await asyncio.wait([run, woken], return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            self.output_ready.clear()
            await self._forward(self.live.take_output(), pending, final=run.done())
            if run.done():
                return run.result()

    async def _forward(self, chunks: list[tuple[str, bytes]], pending: dict[str, bytes], final: bool) -> None:
        """Output frames, adjacent chunks of a stream merged; a character split between
        reads waits for its end (`pending`)."""
        merged: list[tuple[str, bytes]] = []
        for stream, data in chunks:
            if merged and merged[-1][0] == stream:
                merged[-1] = (stream, merged[-1][1] + data)
            else:
                merged.append((stream, data))
        if final:
            merged += [(stream, b"") for stream, rest in pending.items() if rest]
        for stream, data in merged:
            parts, pending[stream] = output_parts(pending[stream] + data, final)
            for encoding, text in parts:
                await self.send(OutputFrame, stream=stream, data=text, encoding=encoding)

    async def _until(self, event: asyncio.Event) -> None:
        await event.wait()
        if self.cancel.cancelled:
            raise Cancelled()


def _is_go(text: str) -> bool:
    try:
        return json.loads(text) == {"type": GO}
    except ValueError:
        return False
