"""The wire contract (ARCHITECTURE.md): what a client sends and what it gets back.

Every mode speaks exactly these models. Requests are validated strictly: an unknown field,
a bad file name or a limit past the server's maximum is a 400 with a structured error, not
a traceback.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Status = Literal[
    "ok",
    "compile_error",
    "runtime_error",
    "time_limit",
    "memory_limit",
    "output_limit",
    "wrong_answer",
    "internal_error",
]
LimitName = Literal["cpu", "wall", "memory", "output", "file_size", "processes", "disk", "inodes"]
Compare = Literal["exact", "trim", "tokens", "float"]

MAX_FILES = 64
MAX_FILE_BYTES = 1 << 20  # one source file
MAX_TOTAL_BYTES = 4 << 20  # all files together
MAX_STDIN_BYTES = 4 << 20
MAX_ARGS = 64
MAX_ARG_BYTES = 4096
MAX_TESTS = 100
MAX_NAME = 128
MAX_OPTIONS = 32  # compile or run options per request
MAX_OPTION_CHARS = 256


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true is not 1, "5" is not 5


class SourceFile(Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME, description="relative path, e.g. main.py or src/util.py")
    content: str = Field(max_length=2 * MAX_FILE_BYTES)
    encoding: Literal["utf-8", "base64"] = "utf-8"

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if "\0" in name or "\\" in name:
            raise ValueError("file name must not contain NUL or backslash")
        if name.startswith("/"):
            raise ValueError("file name must be relative")
        parts = name.split("/")
        if any(p in ("", ".", "..") for p in parts) or posixpath.normpath(name) != name:
            raise ValueError("file name must be a plain relative path without '.', '..' or empty parts")
        if any(p.startswith(".") for p in parts):
            raise ValueError("file name must not start with a dot")
        if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
            raise ValueError("each part of a file name must be at most 255 bytes")
        return name

    def data(self) -> bytes:
        if self.encoding == "base64":
            try:
                raw = base64.b64decode(self.content, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"file {self.name!r}: invalid base64") from exc
        else:
            raw = self.content.encode()
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"file {self.name!r} is larger than {MAX_FILE_BYTES} bytes")
        return raw


class Limits(Strict):
    """Optional per-request limits: each may lower the runtime's default, never pass its maximum."""

    cpu_time_ms: int | None = Field(default=None, gt=0)
    wall_time_ms: int | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, gt=0)
    output_bytes: int | None = Field(default=None, gt=0)
    processes: int | None = Field(default=None, gt=0)
    disk_mb: int | None = Field(default=None, gt=0, description="MB the run may write in its box, all files together")
    disk_inodes: int | None = Field(default=None, gt=0, description="files and directories the run may make")


class ResolvedLimits(Strict):
    """Limits with every value set: the runtime's defaults merged with the request's."""

    cpu_time_ms: int
    wall_time_ms: int
    memory_mb: int
    output_bytes: int
    processes: int
    disk_mb: int
    disk_inodes: int

    def merged(self, requested: Limits | None, maxima: ResolvedLimits) -> ResolvedLimits:
        """Apply a request's limits; raise ValueError naming any that passes the maximum."""
        values = self.model_dump()
        if requested is not None:
            for name, value in requested.model_dump(exclude_none=True).items():
                ceiling = getattr(maxima, name)
                if value > ceiling:
                    raise ValueError(f"limits.{name}={value} is above this runtime's maximum of {ceiling}")
                values[name] = value
        return ResolvedLimits(**values)


class TestCase(Strict):
    name: str = Field(default="", max_length=MAX_NAME)
    stdin: str = Field(default="", max_length=MAX_STDIN_BYTES)
    args: list[str] | None = Field(default=None, max_length=MAX_ARGS)
    expected_stdout: str = Field(max_length=MAX_STDIN_BYTES)
    compare: Compare = "trim"
    tolerance: float = Field(default=1e-6, ge=0, description="for compare=float: absolute or relative")


# JSON Schema's way to say what `_one_source` checks, so clients and fuzzers know it too.
ONE_SOURCE_SCHEMA = {
    "oneOf": [
        {"required": ["code"], "properties": {"code": {"type": "string"}}},
        {"required": ["files"], "properties": {"files": {"type": "array", "minItems": 1}}},
    ]
}


OptionText = Annotated[str, Field(min_length=1, max_length=MAX_OPTION_CHARS)]


class RunRequest(Strict):
    model_config = ConfigDict(json_schema_extra=ONE_SOURCE_SCHEMA)

    runtime: str = Field(min_length=1, max_length=64)
    files: list[SourceFile] | None = Field(
        default=None,
        max_length=MAX_FILES,
        description="the program's files, under their own names; the entry (what is compiled first "
        "and run) is the runtime's entry file (main.py, Main.java, ...) if present, else the first file",
    )
    code: str | None = Field(
        default=None,
        max_length=2 * MAX_FILE_BYTES,
        description="shorthand for one file, saved as the runtime's entry file, or as the name its "
        "language demands (java: the top-level public class's, e.g. HelloWorld.java)",
    )
    stdin: str = Field(default="", max_length=MAX_STDIN_BYTES)
    args: list[str] = Field(default_factory=list, max_length=MAX_ARGS)
    compile_options: list[OptionText] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="the compiler's options, each one argv element that the runtime's allowlist takes "
        "(GET /v1/runtimes: options.compile), e.g. -std=c99 or -DNDEBUG; they replace its defaults of a kind",
    )
    run_options: list[OptionText] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="the interpreter's or VM's options, from the runtime's allowlist (options.run), e.g. -Xdev",
    )
    tests: list[TestCase] = Field(default_factory=list, max_length=MAX_TESTS)
    limits: Limits | None = None
    context: dict[str, Any] | None = Field(default=None, description="opaque, echoed back")

    @field_validator("args")
    @classmethod
    def _args(cls, args: list[str]) -> list[str]:
        for arg in args:
            if "\0" in arg or len(arg.encode()) > MAX_ARG_BYTES:
                raise ValueError(f"each argument must be at most {MAX_ARG_BYTES} bytes without NUL")
        return args

    @model_validator(mode="after")
    def _one_source(self) -> RunRequest:
        if (self.files is None) == (self.code is None):
            raise ValueError("give exactly one of 'files' or 'code'")
        if self.files is not None:
            if not self.files:
                raise ValueError("'files' must not be empty")
            names = [f.name for f in self.files]
            if len(set(names)) != len(names):
                raise ValueError("file names must be unique")
            directories = {str(parent) for name in names for parent in PurePosixPath(name).parents}
            if clash := sorted(directories.intersection(names)):
                raise ValueError(f"{clash[0]!r} is both a file and a directory of other files")
            total = sum(len(f.content) for f in self.files)
            if total > MAX_TOTAL_BYTES:
                raise ValueError(f"files total more than {MAX_TOTAL_BYTES} bytes")
        for test in self.tests:
            for arg in test.args or []:
                if "\0" in arg or len(arg.encode()) > MAX_ARG_BYTES:
                    raise ValueError(f"each argument must be at most {MAX_ARG_BYTES} bytes without NUL")
        return self


class RuntimeInfo(Strict):
    name: str
    version: str


class StageResult(Strict):
    status: Status
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    encoding: Literal["utf-8", "base64"] = Field(default="utf-8", description="of stdout and stderr")
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    cpu_time_ms: int = 0
    wall_time_ms: int = 0
    memory_kb: int = 0
    limit: LimitName | None = Field(default=None, description="which limit stopped the stage, if any")
    message: str | None = Field(default=None, description="our explanation, for internal errors and limits")
    cached: bool = Field(
        default=False,
        description="compile only: this worker compiled the same sources before; the result (and the program "
        "that runs) are that compile's, and the times are what it took then",
    )


class TestResult(Strict):
    name: str
    status: Status
    expected_stdout: str
    run: StageResult


class Meta(Strict):
    worker: str | None = None
    attempts: int = 1
    elapsed_ms: float = 0.0


class RunResult(Strict):
    status: Status
    runtime: RuntimeInfo
    compile: StageResult | None = None
    run: StageResult | None = None
    tests: list[TestResult] = Field(default_factory=list)
    context: dict[str, Any] | None = None
    meta: Meta = Field(default_factory=Meta)


class ErrorDetail(Strict):
    code: str
    message: str
    details: Any = None


class ErrorResponse(Strict):
    error: ErrorDetail

    @classmethod
    def body(cls, code: str, message: str, details: Any = None) -> dict[str, Any]:
        """The one shape of every error the API answers, as a JSON-ready dict."""
        return cls(error=ErrorDetail(code=code, message=message, details=details)).model_dump(mode="json")


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """A validation error's items, as `details` of a 400 (where, what, which check)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]
