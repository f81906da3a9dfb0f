"""One sandboxed process at a time, in every mode: uid + rlimits + seccomp + Landlock +
cgroups where writable + supervision. Knows nothing of languages or HTTP.

    sandbox = Sandbox.create()
    with sandbox.box() as box:
        box.write_file("main.py", b"print(1)")
        result = box.run(["/usr/bin/python3", "main.py"], env, ProcessLimits())
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .box import Box, kill_uid
from .cgroups import CgroupManager
from .helper import helper_path
from .landlock import landlock_abi
from .limits import Cancel, LimitName, ProcessLimits, ProcessResult
from .seccomp import build_filter_bpf
from .uidpool import UidPool, UidPoolExhausted

__all__ = [
    "Box",
    "Cancel",
    "LimitName",
    "ProcessLimits",
    "ProcessResult",
    "Sandbox",
    "SandboxError",
    "UidPoolExhausted",
]

PR_SET_CHILD_SUBREAPER = 36
# Trees a sandboxed process may read and execute; everything else is invisible under Landlock.
DEFAULT_READ_PATHS = (
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/dev/urandom",
    "/dev/random", "/dev/zero", "/dev/full", "/sys/devices/system/cpu", "/sys/fs/cgroup",
)  # fmt: skip
DEFAULT_WRITABLE_FILES = ("/dev/null",)


class SandboxError(RuntimeError):
    """The sandbox cannot be set up here (not root, no helper, ...)."""


@dataclass
class Sandbox:
    root: Path
    helper: Path
    seccomp_path: Path
    landlock_abi: int
    cgroups: CgroupManager | None
    uids: UidPool
    read_paths: tuple[str, ...] = DEFAULT_READ_PATHS
    writable_files: tuple[str, ...] = DEFAULT_WRITABLE_FILES
    boxes: Path = field(init=False)

    def __post_init__(self) -> None:
        self.boxes = self.root / "boxes"

    @classmethod
    def create(cls, root: str | Path | None = None, uid_first: int = 60000, uid_count: int = 256) -> Sandbox:
        """Prepare the sandbox root, the helper and the filter, and probe the kernel."""
        if os.geteuid() != 0:
            raise SandboxError(
                "the sandbox needs root to switch each run to its own uid (run as root or in docker mode)"
            )
        root = Path(root or os.environ.get("CODERING_SANDBOX_ROOT") or _default_root())
        root.mkdir(mode=0o711, parents=True, exist_ok=True)
        os.chmod(root, 0o711)
        (root / "boxes").mkdir(mode=0o711, exist_ok=True)
        os.chmod(root / "boxes", 0o711)
        seccomp_path = root / "seccomp.bpf"
        fd, tmp = tempfile.mkstemp(dir=root)
        with os.fdopen(fd, "wb") as f:
            f.write(build_filter_bpf())
        os.replace(tmp, seccomp_path)  # 0600 root: the helper reads it before dropping root
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a run become ours to reap
        helper = helper_path()
        return cls(
            root=root,
            helper=helper,
            seccomp_path=seccomp_path,
            landlock_abi=landlock_abi(),
            cgroups=CgroupManager.probe(),
            uids=UidPool(root / "uids", uid_first, uid_count, reclaim=lambda uid: kill_uid(helper, uid)),
        )

    def box(self) -> Box:
        """A fresh box: an exclusive uid and an empty 0700 work dir owned by it."""
        uid = self.uids.acquire()
        try:
            workdir = Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=self.boxes))
            os.chown(workdir, uid, uid)
            return Box(self, uid, workdir)
        except BaseException:
            self.uids.release(uid, clean=True)
            raise

    def describe(self) -> dict[str, object]:
        """What protects a run on this host, for logs and /v1/runtimes."""
        return {
            "landlock_abi": self.landlock_abi,
            "cgroups": self.cgroups.describe() if self.cgroups else "none (container limits apply)",
            "seccomp": True,
            "uids": f"{self.uids.first}-{self.uids.first + self.uids.size - 1}",
        }


def _default_root() -> str:
    return "/run/codering-x" if os.path.isdir("/run") else "/tmp/codering-x"
