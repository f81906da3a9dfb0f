"""A zygote: one started interpreter that forks prewarmed members instead of starting each.

Starting a member by exec costs a whole interpreter start (about 10 ms of CPU for python),
which a busy 2-core machine pays again for every run. A zygote starts once, as root, and
runs only our bootstrap (`codering_x/prewarm/python.py --zygote`). For each member it forks:
the child becomes the member's helper through libsbexec (the same C code as sbexec, so the
same cgroups, rlimits, uid, Landlock and seccomp), and the helper's child, confined, returns
into the bootstrap to wait for its run. A fork costs well under a millisecond of CPU.

The worker talks to it over its stdin and stdout: a record with the worker's pid, the four
pipe ends the member gets (the zygote opens them through /proc/<worker>/fd), the member's
home, and the helper's options; the answer is the helper's pid. The helper is the zygote's
child, not ours: the worker watches it through a pidfd, and reads how it ended from the
helper's report.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from .helper import library_path


class ZygoteError(RuntimeError):
    """The zygote did not answer: it is dead, and a new one is needed."""


class Zygote:
    def __init__(self, argv: list[str], env: dict[str, str], library: Path | None = None) -> None:
        """`argv` starts the bootstrap; "--zygote" and the helper library's path are appended."""
        self.process = subprocess.Popen(
            [*argv, "--zygote", str(library_path(library))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            close_fds=True,
        )
        self._lock = threading.Lock()

    def fork(self, helper_options: list[str], fds: tuple[int, int, int, int], home: str) -> int:
        """Fork one member with these pipe ends (stdin, stdout, stderr, status) and helper
        options; return its helper's pid. Our ends may be closed once this returns."""
        fields = [str(os.getpid()), *(str(fd) for fd in fds), home, *helper_options]
        record = b"\0".join(os.fsencode(f) for f in fields)
        with self._lock:
            assert self.process.stdin is not None and self.process.stdout is not None
            try:
                self.process.stdin.write(b"%d\n" % len(record) + record)
                self.process.stdin.flush()
                answer = self.process.stdout.readline()
            except OSError as exc:
                raise ZygoteError(f"the zygote is gone: {exc}") from exc
        if not answer.strip().isdigit():
            raise ZygoteError(f"the zygote did not answer (exit status {self.process.poll()})")
        return int(answer)

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
