"""The dispatcher's HTTP API: errors in one shape, CORS, bearer token, limits, OpenAPI."""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request

import pytest
from openapi_spec_validator import validate

from codering_x.localprocs import call

HELLO = {"runtime": "python", "code": "print('hello')"}


@pytest.fixture
def dispatcher(procs):
    return procs.dispatcher([procs.worker(name="python-1"), procs.worker(name="python-2")],
                            cors_origins=["https://codering.example"], max_body_bytes=1 << 20)  # fmt: skip


def test_run_and_alias(dispatcher):
    status, body, headers = call(dispatcher.url, body={**HELLO, "runtime": "py", "context": {"ex": 1}})
    assert status == 200 and body["run"]["stdout"] == "hello\n" and body["context"] == {"ex": 1}
    assert headers["X-Request-Id"]


def test_unknown_runtime_lists_the_known_ones(dispatcher):
    status, body, _ = call(dispatcher.url, body={"runtime": "cobol", "code": ""})
    assert (
        status == 400 and body["error"]["code"] == "unknown_runtime" and body["error"]["details"]["known"] == ["python"]
    )


@pytest.mark.parametrize("raw", [b"{oops", b"\xff\xfe\x00", b"", b"[]", b'{"runtime": "python"}'])
def test_malformed_bodies_are_400(dispatcher, raw):
    status, body, _ = call(dispatcher.url, raw=raw, method="POST")
    assert status == 400 and body["error"]["code"] in ("invalid_json", "invalid_request")


def test_body_too_large_is_413(dispatcher):
    status, body, _ = call(dispatcher.url, body={**HELLO, "stdin": "x" * (2 << 20)})
    assert status == 413 and body["error"]["code"] == "too_large"


def test_request_id_is_echoed(dispatcher):
    _, _, headers = call(dispatcher.url, body=HELLO, headers={"X-Request-Id": "abc-123"})
    assert headers["X-Request-Id"] == "abc-123"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_the_playground_is_served_at_the_root_under_a_strict_policy(dispatcher):
    status, page, headers = fetch(dispatcher.url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="playground/playground.js"' in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    status, script, headers = fetch(dispatcher.url + "/playground/playground.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["X-Content-Type-Options"] == "nosniff"
    assert gzip.decompress(script).startswith(b"/* codering-x playground, built from sources sha256:")
    for outside in ("/playground/../config.py", "/playground/%2e%2e/config.py", "/playground/nothing.js"):
        assert fetch(dispatcher.url + outside)[0] in (403, 404), outside


def test_the_playground_can_be_turned_off(procs):
    off = procs.dispatcher_with({"playground": False, "discovery": {"kind": "static", "static": []}})
    assert fetch(off.url + "/")[0] == 404
    assert fetch(off.url + "/playground/playground.js")[0] == 404
    assert fetch(off.url + "/healthz")[0] == 200


def test_cors_preflight_for_an_allowed_origin(dispatcher):
    headers = {"Origin": "https://codering.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    status, _, response = call(dispatcher.url, method="OPTIONS", headers=headers)
    assert status == 204 and response["Access-Control-Allow-Origin"] == "https://codering.example"
    assert "POST" in response["Access-Control-Allow-Methods"]
    _, _, response = call(dispatcher.url, body=HELLO, headers={"Origin": "https://codering.example"})
    assert response["Access-Control-Allow-Origin"] == "https://codering.example"


def test_cors_preflight_for_another_origin_is_refused(dispatcher):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    status, _, response = call(dispatcher.url, method="OPTIONS", headers=headers)
    assert status == 403 and "Access-Control-Allow-Origin" not in response


def test_bearer_token_when_configured(procs):
    dispatcher = procs.dispatcher([procs.worker(name="python-1")], token="s3cret")
    assert call(dispatcher.url, body=HELLO)[0] == 401
    assert call(dispatcher.url, body=HELLO, headers={"Authorization": "Bearer wrong"})[0] == 401
    status, body, _ = call(dispatcher.url, body=HELLO, headers={"Authorization": "Bearer s3cret"})
    assert status == 200 and body["status"] == "ok"
    assert call(dispatcher.url, "/healthz")[0] == 200  # probes need no token


def test_no_token_needed_when_none_is_configured(dispatcher):
    assert call(dispatcher.url, body=HELLO)[0] == 200


def test_a_burst_past_the_in_flight_bound_gets_429(procs):
    dispatcher = procs.dispatcher(
        [procs.worker(name="python-1"), procs.worker(name="python-2")], max_in_flight_per_runtime=2
    )
    slow = {"runtime": "python", "code": "import time; time.sleep(1)"}
    results: list[tuple[int, dict, dict]] = []
    threads = [threading.Thread(target=lambda: results.append(call(dispatcher.url, body=slow))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r[0] for r in results)
    assert statuses.count(200) == 2 and statuses.count(429) == 4
    assert all(r[2]["Retry-After"] == "1" and r[1]["error"]["code"] == "busy" for r in results if r[0] == 429)


def test_runtimes_readyz_metrics(dispatcher):
    status, body, _ = call(dispatcher.url, "/v1/runtimes")
    python = body["runtimes"][0]
    assert status == 200 and python["name"] == "python" and "py" in python["aliases"] and python["healthy_workers"] == 2
    assert python["maximum_limits"]["memory_mb"] >= python["default_limits"]["memory_mb"]
    assert call(dispatcher.url, "/readyz")[0] == 200
    call(dispatcher.url, body=HELLO)
    with urllib.request.urlopen(dispatcher.url + "/metrics") as response:
        text = response.read().decode()
    assert 'codering_requests_total{runtime="python",status="ok"}' in text
    assert "codering_request_seconds_bucket" in text and 'codering_hedge_wins_total{position="' in text
    assert 'codering_worker_healthy{runtime="python",worker="python-1"} 1.0' in text


def test_readyz_names_the_runtimes_short_of_two_workers(procs):
    dispatcher = procs.dispatcher([procs.worker(name="python-1")])
    status, body, _ = call(dispatcher.url, "/readyz")
    assert status == 503 and body["short"] == {"python": 1}


def test_openapi_document_is_valid(dispatcher):
    status, spec, _ = call(dispatcher.url, "/openapi.json")
    assert status == 200
    validate(spec)
    assert "RunRequest" in spec["components"]["schemas"] and "/v1/run" in spec["paths"]
    fields = spec["components"]["schemas"]["RunRequest"]["properties"]
    assert fields["compile_options"]["items"]["maxLength"] == fields["run_options"]["items"]["maxLength"] == 256


def test_an_option_outside_the_allowlist_is_a_400_through_the_dispatcher(dispatcher):
    status, body, _ = call(dispatcher.url, body={**HELLO, "run_options": ["-c", "import os"]})
    assert status == 400 and body["error"]["code"] == "invalid_option" and body["error"]["details"]["option"] == "-c"
    status, body, _ = call(dispatcher.url, body={**HELLO, "code": "import sys; print(sys.flags.optimize)",
                                                 "run_options": ["-OO"]})  # fmt: skip
    assert status == 200 and body["run"]["stdout"] == "2\n"


def test_the_interactive_protocol_document_is_served(dispatcher):
    from codering_x.interactive import asyncapi_document

    status, spec, _ = call(dispatcher.url, "/asyncapi.json")
    assert status == 200 and spec == asyncapi_document()
    assert spec["channels"]["interactive"]["address"] == "/v1/interactive"
