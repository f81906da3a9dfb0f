"""The Nuclio entry points: `init_context(context)` and `handler(context, event)`.

Each Nuclio function serves one runtime, named by CODERING_RUNTIME in its function.yaml.
The same handler runs in every mode: under Nuclio's processor, and under our own worker
(embedded and docker modes). It always returns a `nuclio_sdk.Response` with a JSON body:
never a bare list (Nuclio would take it for a batch), header values strings only.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import nuclio_sdk
from pydantic import ValidationError

from .catalogue import Catalogue, Runtime, UnknownRuntime
from .engine import Engine
from .errors import Cancelled, RequestError
from .models import ErrorResponse, RunRequest, validation_details
from .sandbox import Cancel
from .settings import WorkerSettings

RUNTIME_ENV = "CODERING_RUNTIME"  # WorkerSettings.runtime: what function.yaml sets


def init_context(context: Any, settings: WorkerSettings | None = None) -> None:
    """Load this function's runtime and prove the sandbox holds (fail closed: a failed
    self-test raises, and Nuclio's processor refuses to come up). Nuclio calls it with the
    context alone: the settings are then read from the environment, once, here."""
    settings = settings or WorkerSettings()
    if not settings.runtime:
        raise RuntimeError(f"{RUNTIME_ENV} is not set: the function does not know its runtime")
    catalogue = Catalogue.load()
    runtime = catalogue.get(settings.runtime)
    if not runtime.available:
        raise RuntimeError(f"runtime {runtime.name}: missing {', '.join(runtime.missing_tools)}")
    engine = Engine.create(
        settings, catalogue=catalogue, prewarm=settings.prewarm_members, prewarm_stages=settings.prewarm,
        runtimes=[runtime.name],
    )  # fmt: skip
    context.user_data.engine = engine
    context.user_data.runtime = runtime
    context.logger.info_with(
        "codering-x ready",
        runtime=runtime.name,
        version=runtime.toolchain_version,
        **_strings(engine.sandbox.describe()),
    )


def handler(context: Any, event: Any) -> nuclio_sdk.Response:
    return handle(context, event)


def handle(context: Any, event: Any, cancel: Cancel | None = None) -> nuclio_sdk.Response:
    """The handler, with a cancellation our own worker fires when its client disconnects
    (Nuclio's processor has none: it restarts the wrapper on eventTimeout instead)."""
    engine: Engine = context.user_data.engine
    own: Runtime = context.user_data.runtime
    if (event.method or "POST").upper() == "GET":  # a probe: the dispatcher's /healthz, on any path
        return json_response(200, json.dumps(health(context)))
    try:
        body = event.body
        if isinstance(body, bytes | bytearray | str):  # one pass: parse and validate together
            try:
                request = RunRequest.model_validate_json(body)
            except ValidationError as exc:
                if any(e["type"] == "json_invalid" for e in exc.errors(include_url=False)):
                    raise RequestError("invalid_json", f"the body is not valid JSON: {exc.errors()[0]['msg']}") from exc
                raise
        else:
            request = RunRequest.model_validate(_decode_body(body))
        try:
            asked = engine.catalogue.get(request.runtime).name
        except UnknownRuntime as exc:
            raise RequestError("unknown_runtime", str(exc), {"known": exc.known}) from exc
        if asked != own.name:
            raise RequestError(
                "wrong_runtime",
                f"this function runs {own.name!r}, not {request.runtime!r}",
                {"runtime": own.name, "requested": request.runtime},
            )
        result = engine.run(request, cancel)
        result.meta.worker = str(context.worker_id) if context.worker_id is not None else None
    except Cancelled:
        return error_response(499, "cancelled", "the client went away; the run was killed")
    except ValidationError as exc:
        details = validation_details(exc)
        return error_response(400, "invalid_request", "the request does not match the RunRequest schema", details)
    except RequestError as exc:
        return error_response(400, exc.code, exc.message, exc.details)
    except Exception as exc:  # our fault: a structured 500, the traceback only in our logs
        context.logger.error_with("run failed", error=repr(exc), traceback=traceback.format_exc())
        return error_response(500, "internal_error", f"the run failed inside codering-x: {type(exc).__name__}")
    return json_response(200, result.model_dump_json())


def health(context: Any) -> dict[str, Any]:
    """What a probe learns: alive, and this function's catalogue entry (aliases, limits)."""
    runtime: Runtime = context.user_data.runtime
    return {"status": "ok", "worker": str(context.worker_id), "runtime": runtime.describe()}


def _decode_body(body: Any) -> Any:
    """Nuclio hands the body over as bytes, or already decoded (a dict) when the content type
    is exactly application/json."""
    if isinstance(body, dict):
        return body
    raise RequestError("invalid_json", "the body must be a JSON object")


def _strings(values: dict[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


def json_response(status: int, body: str) -> nuclio_sdk.Response:
    return nuclio_sdk.Response(body=body, headers={}, content_type="application/json", status_code=status)


def error_response(status: int, code: str, message: str, details: Any = None) -> nuclio_sdk.Response:
    return json_response(status, json.dumps(ErrorResponse.body(code, message, details)))
