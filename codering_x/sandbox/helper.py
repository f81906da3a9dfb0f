"""Locate, or build once, the `sbexec` exec helper that confines each sandboxed process.

The helper is C (see sbexec.c for why). It is compiled on first use with the host's C
compiler and cached beside its source; images build it at image-build time instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("sbexec.c")
DEFAULT_BINARY = Path(__file__).with_name("sbexec")
DEFAULT_LIBRARY = Path(__file__).with_name("libsbexec.so")  # the same code, for a zygote to call


class HelperError(RuntimeError):
    """The exec helper is missing and cannot be built here."""


def helper_path(override: Path | None = None) -> Path:
    """Return the path of a built, up-to-date helper (or `override`, a prebuilt one),
    compiling it if needed."""
    if override:
        return Path(override)
    binary = DEFAULT_BINARY
    if binary.exists() and binary.stat().st_mtime >= SOURCE.stat().st_mtime:
        return binary
    build(binary)
    return binary


def library_path(override: Path | None = None) -> Path:
    """Return the path of a built, up-to-date libsbexec.so (or `override`), compiling it if needed."""
    if override:
        return Path(override)
    library = DEFAULT_LIBRARY
    if not library.exists() or library.stat().st_mtime < SOURCE.stat().st_mtime:
        build(library, variants=(["-shared", "-fPIC", "-DSBEXEC_LIBRARY"],))
    return library


def build(binary: Path = DEFAULT_BINARY, variants: tuple[list[str], ...] = (["-static"], [])) -> Path:
    """Compile sbexec.c into `binary` atomically (a half-written helper is never run).
    `variants`: flags tried in turn (static starts faster; fall back when libc.a is absent)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise HelperError(f"no C compiler to build {SOURCE.name}; install gcc or set CODERING_SBEXEC to a built helper")
    fd, tmp = tempfile.mkstemp(dir=binary.parent, prefix=".sbexec-")
    os.close(fd)
    try:
        for flags in variants:
            cmd = [compiler, "-O2", "-Wall", *flags, "-o", tmp, str(SOURCE)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode == 0:
                break
        else:
            raise HelperError(f"building {SOURCE.name} failed:\n{proc.stderr}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary
