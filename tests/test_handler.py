"""The Nuclio handler, called the way Nuclio calls it (nuclio_sdk.test.Platform)."""

from __future__ import annotations

import json

import nuclio_sdk
import nuclio_sdk.test
import pytest

from codering_x import handler as nuclio_handler


@pytest.fixture(scope="module")
def platform(engine):
    """A mock Nuclio platform whose function serves python (init_context runs once)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODERING_RUNTIME", "python")
        platform = nuclio_sdk.test.Platform()
        platform.call_handler(nuclio_handler.handler, _event({"runtime": "python", "code": ""}))  # runs init_context
        yield platform


def _event(body, content_type="application/json"):
    raw = body if isinstance(body, bytes | dict) else json.dumps(body).encode()
    return nuclio_sdk.Event(body=raw, content_type=content_type, method="POST", path="/")


def call(platform, body, content_type="application/json"):
    response = platform.call_handler(nuclio_handler.handler, _event(body, content_type))
    assert isinstance(response, nuclio_sdk.Response)
    assert response.content_type == "application/json"
    assert all(isinstance(v, str) for v in response.headers.values())
    return response.status_code, json.loads(response.body)


def test_good_request(platform):
    status, body = call(
        platform, {"runtime": "python", "code": "print(input() * 2)", "stdin": "ab\n", "context": {"x": 1}}
    )
    assert status == 200 and body["status"] == "ok"
    assert body["run"]["stdout"] == "abab\n" and body["context"] == {"x": 1}


def test_test_case_request(platform):
    tests = [{"stdin": "2", "expected_stdout": "4"}, {"stdin": "3", "expected_stdout": "9"}]
    status, body = call(platform, {"runtime": "py", "code": "print(int(input()) * 2)", "tests": tests})
    assert status == 200 and [t["status"] for t in body["tests"]] == ["ok", "wrong_answer"]


def test_body_as_bytes_and_as_dict(platform):
    request = {"runtime": "python", "code": "print(7)"}
    as_bytes = call(platform, json.dumps(request).encode(), content_type="application/json; charset=utf-8")
    as_dict = call(platform, request)
    assert as_bytes[0] == as_dict[0] == 200
    assert as_bytes[1]["run"]["stdout"] == as_dict[1]["run"]["stdout"] == "7\n"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b"null"])
def test_bad_json_body_is_a_400(platform, raw):
    status, body = call(platform, raw)
    assert status == 400 and body["error"]["code"] in ("invalid_json", "invalid_request")


def test_schema_errors_are_listed(platform):
    status, body = call(platform, {"runtime": "python", "files": [{"name": "../x", "content": ""}]})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert body["error"]["details"][0]["loc"][:3] == ["files", 0, "name"]


def test_another_runtime_is_a_400_that_names_it(platform):
    status, body = call(platform, {"runtime": "ruby", "code": "puts 1"})
    assert status == 400 and body["error"]["code"] == "wrong_runtime"
    assert "'python'" in body["error"]["message"] and "'ruby'" in body["error"]["message"]


def test_unknown_runtime_lists_known(platform):
    status, body = call(platform, {"runtime": "cobol", "code": ""})
    assert (
        status == 400 and body["error"]["code"] == "unknown_runtime" and "python" in body["error"]["details"]["known"]
    )


def test_internal_failure_is_a_structured_500(platform, monkeypatch):
    from codering_x.engine import Engine

    def explode(self, request):
        raise OSError("disk on fire")

    monkeypatch.setattr(Engine, "run", explode)
    status, body = call(platform, {"runtime": "python", "code": ""})
    assert status == 500 and body["error"]["code"] == "internal_error" and "Traceback" not in json.dumps(body)


def test_a_get_is_a_health_probe_with_the_catalogue_entry(platform):
    event = nuclio_sdk.Event(body=b"", method="GET", path="/healthz")
    response = platform.call_handler(nuclio_handler.handler, event)
    body = json.loads(response.body)
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["runtime"]["name"] == "python" and "py" in body["runtime"]["aliases"]
