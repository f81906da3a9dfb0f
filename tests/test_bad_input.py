"""Bad input is a clear error naming the problem: never a crash, never a dead engine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from codering_x.errors import RequestError
from codering_x.models import RunRequest


def test_unknown_runtime_names_the_known_ones(engine):
    with pytest.raises(RequestError) as info:
        engine.run(RunRequest(runtime="cobol", code="x"))
    assert info.value.code == "unknown_runtime"
    assert "python" in info.value.details["known"] and len(info.value.details["known"]) == 10


def test_empty_files_list():
    with pytest.raises(ValidationError, match="must not be empty"):
        RunRequest(runtime="python", files=[])


def test_empty_program_runs_and_prints_nothing(engine):
    result = engine.run(RunRequest(runtime="python", code=""))
    assert result.status == "ok" and result.run.stdout == ""


def test_ten_megabyte_source_is_rejected():
    with pytest.raises(ValidationError, match="at most"):
        RunRequest(runtime="python", code="#" * (10 << 20))


def test_one_megabyte_file_over_the_limit_after_decoding(engine):
    request = RunRequest(runtime="python", files=[{"name": "main.py", "content": "é" * (600 << 10)}])
    with pytest.raises(RequestError, match="larger than"):
        engine.run(request)


def test_parent_directory_file_name():
    with pytest.raises(ValidationError, match="relative path"):
        RunRequest(runtime="python", files=[{"name": "../x", "content": ""}])


@pytest.mark.parametrize("limits", [{"memory_mb": 1 << 40}, {"cpu_time_ms": 10**9}, {"processes": 100000}])
def test_limits_above_the_maximum(engine, limits):
    with pytest.raises(RequestError) as info:
        engine.run(RunRequest(runtime="python", code="", limits=limits))
    assert info.value.code == "invalid_request" and "maximum" in info.value.message


@pytest.mark.parametrize(
    "limits",
    [
        {"memory_mb": -1},
        {"wall_time_ms": 0},
        {"output_bytes": "lots"},
        {"nope": 1},
        {"processes": True},
        {"memory_mb": "64"},
    ],
)
def test_invalid_limits(limits):
    with pytest.raises(ValidationError):
        RunRequest(runtime="python", code="", limits=limits)


def test_engine_keeps_working_after_bad_input(engine):
    for bad in ("cobol", "x" * 64):
        with pytest.raises(RequestError):
            engine.run(RunRequest(runtime=bad, code=""))
    assert engine.run(RunRequest(runtime="python", code="print(2)")).run.stdout == "2\n"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["0", "0/0"], "'0' is both a file and a directory"),  # found by schemathesis: was a 500
        (["src/a.py", "src"], "'src' is both a file and a directory"),
        (["é" * 128], "at most 255 bytes"),
    ],
)
def test_file_names_that_cannot_all_be_written_are_refused(names, message):
    files = [{"name": name, "content": ""} for name in names]
    with pytest.raises(ValidationError, match=message):
        RunRequest(runtime="python", files=files)
