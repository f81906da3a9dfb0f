"""What a stage's process did, told in the wire contract's words: a status, the limit that
stopped it with a message a learner can act on, and both streams as text."""

from __future__ import annotations

import base64
import codecs

from .catalogue import Runtime
from .compare import matches
from .models import LimitName, StageResult, Status, TestCase
from .sandbox import ProcessResult

LIMIT_STATUS: dict[str, Status] = {
    "cpu": "time_limit",
    "wall": "time_limit",
    "memory": "memory_limit",
    "output": "output_limit",
    "file_size": "output_limit",
    "disk": "output_limit",
    "inodes": "output_limit",
}
LIMIT_MESSAGE = {
    "cpu": "CPU time limit exceeded",
    "wall": "wall-clock time limit exceeded",
    "memory": "memory limit exceeded",
    "output": "output limit exceeded; the output was cut",
    "file_size": "a file grew past the file size limit",
    "processes": "the process limit was reached",
    "disk": "the disk limit was reached: the run's files filled limits.disk_mb",
    "inodes": "the file count limit was reached: the run made limits.disk_inodes files and directories",
}

# What a program prints when a limit made a call fail rather than killed it: fork or thread
# creation failing (where no pids cgroup counts the hits for us), or EFBIG from a runtime
# that ignores SIGXFSZ (CPython does).
LIMIT_HINTS: tuple[tuple[str, LimitName], ...] = (
    ("Resource temporarily unavailable", "processes"),
    ("unable to create native thread", "processes"),
    ("EAGAIN", "processes"),
    ("File too large", "file_size"),
)


def stage_result(runtime: Runtime, p: ProcessResult) -> StageResult:
    """A stage's result from its process's: the sandbox's limit, else one the runtime's
    own messages reveal (its out-of-memory words, a failed fork), else the exit code."""
    if p.error is not None:
        return StageResult(status="internal_error", message=p.error)
    limit = p.limit
    failed = p.exit_code != 0
    if limit is None and failed:
        # Go prints its verdict first and a long stack after; Python the reverse.
        tail = (p.stderr[:2048] + p.stderr[-2048:]).decode(errors="replace")
        if any(pattern in tail for pattern in runtime.oom_patterns):
            limit = "memory"
        else:
            limit = next((name for hint, name in LIMIT_HINTS if hint in tail), None)
    if limit in LIMIT_STATUS:
        status: Status = LIMIT_STATUS[limit]
    else:
        status = "runtime_error" if failed else "ok"
    stdout, stderr, encoding = _texts(p.stdout, p.stderr, p.stdout_truncated, p.stderr_truncated)
    return StageResult(
        status=status,
        exit_code=p.exit_code,
        signal=p.signal,
        stdout=stdout,
        stderr=stderr,
        encoding=encoding,
        stdout_truncated=p.stdout_truncated,
        stderr_truncated=p.stderr_truncated,
        cpu_time_ms=p.cpu_time_ms,
        wall_time_ms=p.wall_time_ms,
        memory_kb=p.memory_kb,
        limit=limit,
        message=LIMIT_MESSAGE.get(limit) if limit else None,
    )


def test_status(stage: StageResult, test: TestCase) -> Status:
    """A test's verdict: the run's own status, else whether its output is the expected one
    (output that is not text never is)."""
    if stage.status != "ok":
        return stage.status
    if stage.encoding == "base64" or not matches(stage.stdout, test.expected_stdout, test.compare, test.tolerance):
        return "wrong_answer"
    return "ok"


def _texts(out: bytes, err: bytes, out_cut: bool, err_cut: bool) -> tuple[str, str, str]:
    """Both streams as UTF-8 text, or both base64 when either is not valid UTF-8.
    A stream cut by the output cap may end inside a character: that tail is dropped."""
    try:
        return _decode(out, out_cut), _decode(err, err_cut), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(out).decode(), base64.b64encode(err).decode(), "base64"


def _decode(data: bytes, truncated: bool) -> str:
    if truncated:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    return data.decode("utf-8")
