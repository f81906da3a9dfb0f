"""The interactive session's frames (issue 15's contract): a `start` is checked as a
POST /v1/run body is, every other frame by its type, and the AsyncAPI document generated
from the models names every frame and every schema it refers to."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from codering_x.interactive import (
    CLIENT_FRAMES,
    MAX_STDIN_FRAME_CHARS,
    SERVER_FRAMES,
    EofFrame,
    OutputFrame,
    SignalFrame,
    StartFrame,
    StdinFrame,
    asyncapi_document,
    parse_client_frame,
)


def frame(**fields: object) -> str:
    return json.dumps(fields)


def test_a_start_frame_becomes_the_run_request_it_describes():
    start = parse_client_frame(frame(type="start", runtime="python", code="print(input())", args=["a"], token="t"))
    assert isinstance(start, StartFrame)
    request = start.run_request()
    assert (request.runtime, request.code, request.args, request.stdin, request.tests) == (
        "python", "print(input())", ["a"], "", [],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"runtime": "python"}, "start"),  # neither code nor files
        ({"runtime": "python", "code": "x", "files": [{"name": "a.py", "content": "x"}]}, "start"),  # both
        ({"runtime": "python", "code": "x", "stdin": "typed ahead"}, "start.stdin"),  # stdin comes in frames
        ({"runtime": "python", "code": "x", "tests": []}, "start.tests"),
        ({"runtime": "python", "code": "x", "args": ["a\0b"]}, "start"),  # as POST /v1/run refuses it
        ({"runtime": "", "code": "x"}, "start.runtime"),
        ({"runtime": "python", "code": "x", "limits": {"cpu_time_ms": -1}}, "start"),
    ],
)
def test_a_start_frame_is_refused_as_the_same_run_request_is(fields: dict, where: str):
    with pytest.raises(ValidationError) as caught:
        parse_client_frame(frame(type="start", **fields))
    assert any(".".join(str(p) for p in e["loc"]).startswith(where) for e in caught.value.errors()), caught.value


def test_stdin_eof_and_signal_frames():
    assert parse_client_frame(frame(type="stdin", data="Ada\n")) == StdinFrame(type="stdin", data="Ada\n")
    assert parse_client_frame(frame(type="eof")) == EofFrame(type="eof")
    for name in ("SIGINT", "SIGTERM", "SIGKILL"):
        assert parse_client_frame(frame(type="signal", signal=name)) == SignalFrame(type="signal", signal=name)


@pytest.mark.parametrize(
    "text",
    [
        frame(type="signal", signal="SIGHUP"),  # only the three
        frame(type="stdin", data="x" * (MAX_STDIN_FRAME_CHARS + 1)),  # one frame is bounded
        frame(type="stdin"),  # no data
        frame(type="eof", extra=1),  # nothing unknown passes silently
        frame(type="resize"),  # not a frame of ours
        frame(data="x"),  # no type
        "[1, 2]",
        "not json",
    ],
)
def test_anything_else_is_a_clear_error(text: str):
    with pytest.raises(ValidationError):
        parse_client_frame(text)


def test_output_frames_say_how_their_data_is_encoded():
    assert OutputFrame(seq=3, stream="stdout", data="héllo").model_dump()["encoding"] == "utf-8"
    with pytest.raises(ValidationError):
        OutputFrame(seq=-1, stream="stdout", data="")  # seq counts from 0
    with pytest.raises(ValidationError):
        OutputFrame(seq=0, stream="stdlog", data="")


def test_the_asyncapi_document_names_every_frame_and_resolves_every_reference():
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    messages = document["channels"]["interactive"]["messages"]
    assert set(messages) == {m.__name__ for m in CLIENT_FRAMES + SERVER_FRAMES}

    def resolve(ref: str) -> object:
        node: object = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved {ref}"
            node = node[part]
        return node

    def walk(node: object) -> int:
        if isinstance(node, dict):
            return sum(walk(v) for v in node.values()) + (resolve(node["$ref"]) is not None if "$ref" in node else 0)
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    assert walk(document) > len(messages)  # every $ref in it resolves (and there are many)
    schemas = document["components"]["schemas"]
    assert set(schemas["SignalFrame"]["properties"]["signal"]["enum"]) == {"SIGINT", "SIGTERM", "SIGKILL"}
    assert "RunResult" in schemas and "result" in schemas["ResultFrame"]["properties"]
