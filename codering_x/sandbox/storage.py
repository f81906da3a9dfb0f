"""Where a box's files live, and what bounds a run's disk: bytes and inodes.

RLIMIT_FSIZE caps one file, not their sum: a run could write many files of the cap, or
make directories until the host's inodes run out. So, where the worker may mount (root
with CAP_SYS_ADMIN, as on a host), every box is its own tmpfs, sized for the stage that
runs in it (`size=`, `nr_inodes=`: what the box holds plus what the stage may write,
set by a remount before each stage, about 20 µs):
the kernel refuses a write past the limit (ENOSPC), the pages are charged to the run's
memory cgroup, and removing the box is one unmount however much the run wrote.

Inside a container the worker may not mount (no CAP_SYS_ADMIN): boxes are directories on
the container's own size-limited tmpfs (hardening.py, function.yaml), which bounds the
runs of that container together, not each one (docs/security.md).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

MS_NOSUID, MS_NODEV, MS_REMOUNT = 0x2, 0x4, 0x20
MNT_DETACH = 0x2
PAGE = 4096
FULL_BYTES = 64 << 10  # a box with less free space than this at the end of a run was full
INITIAL_BYTES = 8 << 20  # a box before its first stage: room for the request's files (≤ 4 MiB)
INITIAL_INODES = 256

Exhausted = Literal["disk", "inodes"]

_libc = ctypes.CDLL(None, use_errno=True)


class StorageError(OSError):
    """A box's tmpfs could not be mounted or resized."""


def _mount(target: Path, options: str, remount: bool = False) -> None:
    flags = MS_NOSUID | MS_NODEV | (MS_REMOUNT if remount else 0)
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", flags, options.encode()) != 0:
        err = ctypes.get_errno()
        raise StorageError(err, f"mount tmpfs on {target} ({options}): {os.strerror(err)}")


class BoxStorage:
    """Makes, bounds and removes box directories: per-box tmpfs mounts, or plain dirs."""

    def __init__(self, per_box: bool) -> None:
        self.per_box = per_box

    @classmethod
    def probe(cls, boxes: Path, per_box: bool = True) -> BoxStorage:
        """Per-box tmpfs if a test mount under `boxes` works here (and `per_box`, from
        CODERING_BOX_TMPFS, allows it), else plain directories."""
        if not per_box or os.geteuid() != 0:
            return cls(per_box=False)
        probe = Path(tempfile.mkdtemp(prefix="probe-", dir=boxes))
        try:
            _mount(probe, f"size={PAGE},nr_inodes=4,mode=0700")
        except StorageError:
            return cls(per_box=False)
        finally:
            cls(per_box=True).remove(probe)
        return cls(per_box=True)

    def make(self, path: Path, uid: int) -> None:
        """Turn the fresh, empty, root-owned dir `path` into a box owned by `uid`."""
        if self.per_box:
            _mount(path, f"size={INITIAL_BYTES},nr_inodes={INITIAL_INODES},mode=0700,uid={uid},gid={uid}")
        else:
            os.chown(path, uid, uid)

    def bound(self, path: Path, disk_bytes: int, inodes: int) -> None:
        """Let the stage about to run write at most `disk_bytes` and `inodes` more than the
        box holds now (the request's files, a compile's artifacts and caches)."""
        if not self.per_box:
            return
        st = os.statvfs(path)
        used_bytes = (st.f_blocks - st.f_bfree) * st.f_frsize
        used_inodes = st.f_files - st.f_ffree
        _mount(path, f"size={used_bytes + disk_bytes},nr_inodes={used_inodes + inodes}", remount=True)

    def exhausted(self, path: Path, failed: bool) -> Exhausted | None:
        """Which of the box's bounds a run used up, if any. On a filesystem the boxes share,
        a full disk may be another run's doing: it is blamed only on a run that `failed`."""
        if not self.per_box and not failed:
            return None
        try:
            st = os.statvfs(path)
        except OSError:
            return None
        if st.f_ffree == 0:
            return "inodes"
        if st.f_bavail * st.f_frsize < FULL_BYTES:
            return "disk"
        return None

    def remove(self, path: Path) -> None:
        """Remove a box, whatever the run left in it: unmount it when it is a tmpfs of its
        own, then remove the directory without following links (fd-based rmtree)."""
        if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT, errno.EPERM):  # not a mount point / gone
                raise StorageError(err, f"umount {path}: {os.strerror(err)}")
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:  # not empty: a plain directory
            shutil.rmtree(path, ignore_errors=True)

    def describe(self) -> str:
        return "a tmpfs per box (bytes and inodes per run)" if self.per_box else "shared (the container's tmpfs)"
