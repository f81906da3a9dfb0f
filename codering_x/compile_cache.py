"""The compile cache: the same sources, compiled once per worker process.

Learners press Run again and again on the same code, and run it again with the tests. The
key is everything a compile's result depends on: the runtime, its toolchain version, the
compile argv and environment (with the box's path made neutral), its limits, and the name
and content of every file of the request. The value is the compile stage's result (errors
too: the same source gives the same diagnostics) and the files the compile produced,
copied out of the box right after the compile, while nothing of the learner's has run: a
run cannot change what is cached, and a hit writes the copies into a fresh box.

Per worker process, in memory, least recently used first out, bounded in bytes. Not shared
between the workers of a host: a shared store would be written by one worker and run by
another, so each would have to trust the other's box; a process's own memory needs no
such trust, and the dispatcher's hedge sends the same source to a worker that compiled it
last time (the p90 policy mostly to one worker).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .models import StageResult


@dataclass(frozen=True)
class Artifact:
    name: str  # relative to the box
    data: bytes
    mode: int


@dataclass(frozen=True)
class Compiled:
    stage: StageResult
    artifacts: tuple[Artifact, ...]

    @property
    def size(self) -> int:
        return sum(len(a.data) for a in self.artifacts) + len(self.stage.stdout) + len(self.stage.stderr) + 512


class CompileCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Compiled] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(parts: list[object], files: list[tuple[str, bytes]]) -> str:
        """A digest of `parts` (runtime, version, argv and env with WORKDIR_MARK for the box's
        path, limits) and of every file, named (lengths first: no two sets collide)."""
        digest = hashlib.sha256(repr(parts).encode())
        for name, data in sorted(files):
            encoded = name.encode()
            digest.update(b"%d:%s%d:" % (len(encoded), encoded, len(data)))
            digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Compiled | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, compiled: Compiled) -> None:
        size = compiled.size
        if size > self.max_bytes:
            return  # larger than the whole cache: never kept
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = compiled
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size


def collect_artifacts(workdir: Path, inputs: set[str], max_bytes: int) -> tuple[Artifact, ...] | None:
    """The files a compile left in `workdir` besides the inputs: regular files, outside
    dot-directories (a toolchain's own caches), read without following any link. None if
    they total more than `max_bytes` (then nothing is cached)."""
    found: list[Artifact] = []
    total = 0
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(workdir / relative) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False) and name not in inputs:
                    fd = os.open(workdir / name, os.O_RDONLY | os.O_NOFOLLOW)
                    try:
                        info = os.fstat(fd)
                        total += info.st_size
                        if total > max_bytes or not stat.S_ISREG(info.st_mode):
                            return None
                        with os.fdopen(fd, "rb", closefd=False) as f:
                            data = f.read(info.st_size + 1)
                    finally:
                        os.close(fd)
                    found.append(Artifact(name, data, stat.S_IMODE(info.st_mode) & 0o755))
    return tuple(sorted(found, key=lambda a: a.name))
