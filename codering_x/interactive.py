"""The interactive session's wire contract (issue 15): the frames of `GET /v1/interactive`,
a WebSocket of JSON text frames, each an object with a `type`.

The models are the contract, as models.py is for `POST /v1/run`: the server parses what a
client sends with `parse_client_frame`, and `asyncapi_document` (served as
/asyncapi.json) is generated from them, so the document cannot drift from the code.
A `start` frame is validated exactly as a `POST /v1/run` body is (it builds one), without
`stdin` or `tests`: stdin arrives in `stdin` frames, while the program runs.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.json_schema import models_json_schema

from . import __version__
from .models import (
    ErrorDetail,
    Limits,
    ResolvedLimits,
    RunRequest,
    RunResult,
    RuntimeInfo,
    SourceFile,
    validation_details,
)

START_TIMEOUT_S = 5.0  # the first frame must be `start`, within this, else close 4400
PING_S = 10.0  # each side pings this often; an end that does not answer within half of it is gone
MAX_FRAME_BYTES = 9 << 20  # a `start` frame holds files as large as a POST /v1/run body (8 MiB)
# Between the dispatcher and a worker only (GET /v1/interactive?hold=1): the worker prepares
# (box, files, compile), says `ready`, and runs the program only once told `go`; the hedge's
# loser is closed before its program starts.
HOLD_PARAM, READY, GO = "hold", "ready", "go"
MAX_STDIN_FRAME_CHARS = 1 << 16  # one `stdin` frame's text
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")
CLOSE_CODES = {
    1000: "the session ended: `result` was the last frame",
    1011: "a server-side failure, or `worker_lost`: the worker running the session died",
    4400: "a request error before the run (`error` says which), or no `start` within 5 s",
    4429: "too many sessions at once: retry after the time the `error` frame's details give",
}


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- client -> server ----------------------------------------------------------------------
class StartFrame(_Frame):
    """The first frame. The same fields and checks as `POST /v1/run`, without stdin and tests."""

    type: Literal["start"]
    runtime: str = Field(min_length=1, max_length=64)
    files: list[SourceFile] | None = None
    code: str | None = None
    args: list[str] = Field(default_factory=list)
    compile_options: list[str] = Field(default_factory=list, description="as in POST /v1/run")
    run_options: list[str] = Field(default_factory=list, description="as in POST /v1/run")
    limits: Limits | None = None
    context: dict[str, Any] | None = Field(default=None, description="opaque, echoed back in `result`")
    token: str | None = Field(
        default=None, description="the service's bearer token, when it has one (a browser cannot set headers here)"
    )

    @model_validator(mode="after")
    def _as_a_run(self) -> StartFrame:
        self.run_request()  # every check of POST /v1/run, raised as this frame's
        return self

    def run_request(self) -> RunRequest:
        fields = self.model_dump(exclude={"type", "token"}, exclude_none=True)
        return RunRequest.model_validate(fields)


class StdinFrame(_Frame):
    """Text for the program's stdin, as UTF-8. Held until the run stage; never given to a compiler."""

    type: Literal["stdin"]
    data: str = Field(max_length=MAX_STDIN_FRAME_CHARS)


class EofFrame(_Frame):
    """Closes the program's stdin; a second one, or `stdin` after it, is ignored."""

    type: Literal["eof"]


class SignalFrame(_Frame):
    """A signal for the program (another value: an `error` frame, and the session goes on)."""

    type: Literal["signal"]
    signal: Literal["SIGINT", "SIGTERM", "SIGKILL"]


ClientFrame = Annotated[StartFrame | StdinFrame | EofFrame | SignalFrame, Field(discriminator="type")]
_CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


def parse_client_frame(text: str | bytes) -> StartFrame | StdinFrame | EofFrame | SignalFrame:
    """One client frame, or pydantic's ValidationError saying what is wrong with it."""
    return _CLIENT_FRAME.validate_json(text)


ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)  # the other end is gone


class StartRefused(Exception):
    """The first frame is not a valid `start` (an `error` frame and close 4400 say so)."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


async def receive_start(ws: web.WebSocketResponse) -> StartFrame | None:
    """The session's first frame, within START_TIMEOUT_S, as a checked `start`; None if the
    client left first. The one reading of it, for the worker and the dispatcher alike."""
    try:
        message = await asyncio.wait_for(ws.receive(), START_TIMEOUT_S)
    except TimeoutError:
        raise StartRefused("start_timeout", f"no start frame within {START_TIMEOUT_S:g} s") from None
    if message.type in ENDED:
        return None
    if message.type != WSMsgType.TEXT:
        raise StartRefused("invalid_frame", "frames are JSON text")
    try:
        frame = parse_client_frame(message.data)
    except ValidationError as exc:
        raise StartRefused("invalid_request", "the start frame is not valid", validation_details(exc)) from exc
    if not isinstance(frame, StartFrame):
        raise StartRefused("start_expected", f"the first frame must be start, not {frame.type}")
    return frame


# -- server -> client: every frame numbered, 0, 1, 2, ... ----------------------------------
class _ServerFrame(_Frame):
    seq: int = Field(ge=0, description="0, 1, 2, ... in the order sent")


class AcceptedFrame(_ServerFrame):
    type: Literal["accepted"] = "accepted"
    session: str
    runtime: RuntimeInfo
    limits: ResolvedLimits = Field(description="the limits the run gets, defaults filled in")


class StageFrame(_ServerFrame):
    type: Literal["stage"] = "stage"
    stage: Literal["compile", "run"]


class OutputFrame(_ServerFrame):
    """Output as produced. A UTF-8 character is never split across frames; bytes that are
    not UTF-8 come base64-encoded."""

    type: Literal["output"] = "output"
    stream: Literal["stdout", "stderr"]
    data: str
    encoding: Literal["utf-8", "base64"] = "utf-8"


class ResultFrame(_ServerFrame):
    """The last frame, after all output: the run's result as `POST /v1/run` gives it (its
    stdout and stderr may be empty: they were streamed). Then close 1000."""

    type: Literal["result"] = "result"
    result: RunResult


class ErrorFrame(_ServerFrame):
    """A request error before the run (then close 4400), a bad frame during it (the session
    goes on), a server-side failure or `worker_lost` (then close 1011)."""

    type: Literal["error"] = "error"
    error: ErrorDetail


Encoding = Literal["utf-8", "base64"]


def output_parts(pending: bytes, final: bool) -> tuple[list[tuple[Encoding, str]], bytes]:
    """Output bytes as frame data: UTF-8 text, with what is not UTF-8 base64-encoded; an
    incomplete character at the end is returned, to be completed by the next bytes (or, when
    `final`, sent as base64)."""
    parts: list[tuple[Encoding, str]] = []
    while pending:
        try:
            parts.append(("utf-8", pending.decode()))
            return parts, b""
        except UnicodeDecodeError as exc:
            if exc.start:
                parts.append(("utf-8", pending[: exc.start].decode()))
            if exc.reason == "unexpected end of data" and not final:
                return parts, pending[exc.start :]
            parts.append(("base64", base64.b64encode(pending[exc.start : exc.end]).decode()))
            pending = pending[exc.end :]
    return parts, b""


CLIENT_FRAMES = (StartFrame, StdinFrame, EofFrame, SignalFrame)
SERVER_FRAMES = (AcceptedFrame, StageFrame, OutputFrame, ResultFrame, ErrorFrame)


def asyncapi_document() -> dict[str, Any]:
    """The session protocol as an AsyncAPI 3.0 document, its schemas from the models above."""
    _, schemas = models_json_schema(
        [(m, "validation") for m in CLIENT_FRAMES] + [(m, "serialization") for m in SERVER_FRAMES],
        ref_template="#/components/schemas/{model}",
    )
    messages = {
        m.__name__: {"name": m.__name__, "summary": (m.__doc__ or "").split("\n")[0].strip() or m.__name__,
                     "payload": {"$ref": f"#/components/schemas/{m.__name__}"}}
        for m in CLIENT_FRAMES + SERVER_FRAMES
    }  # fmt: skip

    def refs(models: tuple[type[BaseModel], ...]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/interactive/messages/{m.__name__}"} for m in models]

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "codering-x interactive sessions",
            "version": __version__,
            "description": "A learner's program, live: GET /v1/interactive upgraded to a WebSocket; JSON text "
            "frames. Close codes: " + "; ".join(f"{code}: {why}" for code, why in CLOSE_CODES.items()),
        },
        "channels": {
            "interactive": {
                "address": "/v1/interactive",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "sendToServer": {
                "action": "receive",
                "channel": {"$ref": "#/channels/interactive"},
                "summary": f"client frames; the first is `start`, within {START_TIMEOUT_S:g} s",
                "messages": refs(CLIENT_FRAMES),
            },
            "receiveFromServer": {
                "action": "send",
                "channel": {"$ref": "#/channels/interactive"},
                "summary": "server frames, numbered by `seq`; the last is `result` or `error`",
                "messages": refs(SERVER_FRAMES),
            },
        },
        "components": {"schemas": schemas["$defs"], "messages": messages},
    }
