"""/openapi.json: the HTTP API, its schemas generated from the pydantic wire contract."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from .. import __version__
from ..models import ErrorResponse, RunRequest, RunResult


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("ErrorResponse")}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_document(runtimes: list[str] | None = None) -> dict[str, Any]:
    """The API; `runtimes` (names and aliases served now) becomes the enum of `runtime`."""
    _, schemas = models_json_schema(
        [(RunRequest, "validation"), (RunResult, "serialization"), (ErrorResponse, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    if runtimes:
        schemas["$defs"]["RunRequest"]["properties"]["runtime"]["enum"] = sorted(runtimes)
    json_object = {"application/json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "codering-x", "version": __version__, "description": "Runs learners' code in a sandbox."},
        "paths": {
            "/v1/run": {
                "post": {
                    "operationId": "run",
                    "summary": "Compile and run a program, or run it against test cases",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RunRequest")}}},
                    "responses": {
                        "200": {
                            "description": "The run's result",
                            "content": {"application/json": {"schema": _ref("RunResult")}},
                        },
                        "400": _error("Invalid JSON or fields, or an unknown runtime"),
                        "401": _error("Missing or wrong bearer token"),
                        "408": _error("The body arrived too slowly"),
                        "413": _error("The body is too large"),
                        "429": _error("Too many requests in flight for this runtime; see Retry-After"),
                        "503": _error("No worker could answer; retry"),
                        "504": _error("No worker answered in time"),
                    },
                }
            },
            "/v1/runtimes": {
                "get": {
                    "operationId": "runtimes",
                    "summary": "The runtimes served, with their limits",
                    "responses": {"200": {"description": "Runtimes", "content": json_object}},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "responses": {"200": {"description": "Alive", "content": json_object}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Every runtime has two healthy workers",
                    "responses": {
                        "200": {"description": "Ready", "content": json_object},
                        "503": {"description": "Not ready: says which runtimes are short", "content": json_object},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
