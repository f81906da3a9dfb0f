"""The wire contract rejects bad input with a clear message, and accepts the documented shapes."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from codering_x.models import Limits, ResolvedLimits, RunRequest, SourceFile


def test_code_is_shorthand_for_one_file():
    request = RunRequest(runtime="python", code="print(1)")
    assert request.files is None and request.code == "print(1)"


def test_exactly_one_of_files_and_code():
    with pytest.raises(ValidationError, match="exactly one"):
        RunRequest(runtime="python")
    with pytest.raises(ValidationError, match="exactly one"):
        RunRequest(runtime="python", code="x", files=[{"name": "a.py", "content": ""}])


def test_empty_files_list_is_rejected():
    with pytest.raises(ValidationError, match="must not be empty"):
        RunRequest(runtime="python", files=[])


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../b", "a//b", "./a", "a\0b", ".hidden", "a\\b", ""])
def test_unsafe_file_names_are_rejected(name):
    with pytest.raises(ValidationError):
        SourceFile(name=name, content="")


def test_nested_file_name_is_accepted():
    assert SourceFile(name="src/util.py", content="").name == "src/util.py"


def test_duplicate_file_names_are_rejected():
    with pytest.raises(ValidationError, match="unique"):
        RunRequest(runtime="c", files=[{"name": "a.c", "content": ""}, {"name": "a.c", "content": ""}])


def test_base64_file_decodes():
    f = SourceFile(name="a.bin", content=base64.b64encode(b"\xff\x00").decode(), encoding="base64")
    assert f.data() == b"\xff\x00"
    with pytest.raises(ValueError, match="invalid base64"):
        SourceFile(name="a.bin", content="!!!", encoding="base64").data()


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError, match="Extra inputs"):
        RunRequest(runtime="python", code="", colour="red")


@pytest.mark.parametrize("field", ["cpu_time_ms", "wall_time_ms", "memory_mb", "output_bytes", "processes"])
@pytest.mark.parametrize("value", [0, -1])
def test_limits_must_be_positive(field, value):
    with pytest.raises(ValidationError):
        Limits(**{field: value})


def test_limits_may_lower_but_not_pass_the_maximum():
    defaults = ResolvedLimits(
        cpu_time_ms=2000, wall_time_ms=5000, memory_mb=256, output_bytes=1000, processes=8, disk_mb=64, disk_inodes=100
    )
    maxima = ResolvedLimits(
        cpu_time_ms=4000,
        wall_time_ms=9000,
        memory_mb=512,
        output_bytes=2000,
        processes=16,
        disk_mb=128,
        disk_inodes=200,
    )
    merged = defaults.merged(Limits(cpu_time_ms=100, memory_mb=512), maxima)
    assert (merged.cpu_time_ms, merged.memory_mb, merged.wall_time_ms) == (100, 512, 5000)
    with pytest.raises(ValueError, match=r"limits.memory_mb=513 is above this runtime's maximum of 512"):
        defaults.merged(Limits(memory_mb=513), maxima)


def test_args_with_nul_are_rejected():
    with pytest.raises(ValidationError, match="NUL"):
        RunRequest(runtime="python", code="", args=["a\0b"])


def test_context_is_kept_opaque():
    request = RunRequest(runtime="python", code="", context={"exercise": "ex-42", "n": [1, 2]})
    assert request.context == {"exercise": "ex-42", "n": [1, 2]}
