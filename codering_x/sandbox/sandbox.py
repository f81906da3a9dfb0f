"""The sandbox of a worker: where boxes live, the uids they run as, what confines them,
and the janitor that closes them off the request path."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import WorkerSettings
from .box import Box, kill_uid
from .cgroups import CgroupManager
from .helper import helper_path
from .landlock import landlock_abi
from .procs import processes
from .seccomp import build_filter_bpf
from .storage import BoxStorage
from .uidpool import UidPool

PR_SET_CHILD_SUBREAPER = 36
ORPHAN_SWEEP_S = 2.0  # how often an idle janitor reaps adopted orphans
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
    storage: BoxStorage
    library: Path | None = None  # the helper as a library, for zygotes (None: built beside its source)
    read_paths: tuple[str, ...] = DEFAULT_READ_PATHS
    writable_files: tuple[str, ...] = DEFAULT_WRITABLE_FILES
    boxes: Path = field(init=False)
    _retired: queue.Queue[Box | None] | None = field(default=None, init=False, repr=False)
    helpers: set[int] = field(default_factory=set, init=False, repr=False)  # spawned, not yet reaped
    helpers_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _open: set[Box] = field(default_factory=set, init=False, repr=False)  # made here, not yet closed
    _open_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _janitor: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.boxes = self.root / "boxes"

    @classmethod
    def create(cls, settings: WorkerSettings | None = None) -> Sandbox:
        """Prepare the sandbox root, the helper and the filter, and probe the kernel. Its uids
        (settings.uid_base and uid_count): sandboxes that share a kernel (the host, each
        container) need ranges apart, or one's fork bomb eats another's RLIMIT_NPROC."""
        settings = settings or WorkerSettings()
        if os.geteuid() != 0:
            raise SandboxError(
                "the sandbox needs root to switch each run to its own uid (run as root or in docker mode)"
            )
        root = settings.sandbox_root or Path(_default_root())
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
        helper = helper_path(settings.sbexec)
        sandbox = cls(
            root=root,
            helper=helper,
            seccomp_path=seccomp_path,
            landlock_abi=landlock_abi(),
            cgroups=CgroupManager.probe() if settings.cgroups == "auto" else None,
            uids=UidPool(
                root / "uids", settings.uid_base, settings.uid_count, reclaim=lambda uid: kill_uid(helper, uid)
            ),
            storage=BoxStorage.probe(root / "boxes", per_box=settings.box_tmpfs == "auto"),
            library=settings.sbexec_lib,
        )
        sandbox.remove_stale_boxes()
        sandbox.start_janitor()
        return sandbox

    def box(self) -> Box:
        """A fresh box: an exclusive uid and an empty 0700 work dir owned by it, bounded
        (where each box is a tmpfs of its own) by the limits of each stage run in it."""
        uid = self.uids.acquire()
        try:
            workdir = Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=self.boxes))
            try:
                self.storage.make(workdir, uid)
            except BaseException:
                self.storage.remove(workdir)
                raise
            box = Box(self, uid, workdir)
        except BaseException:
            self.uids.release(uid, clean=True)
            raise
        with self._open_lock:
            self._open.add(box)
        return box

    def forget(self, box: Box) -> None:
        """A box has been closed (its dir removed, its uid about to be returned)."""
        with self._open_lock:
            self._open.discard(box)

    def remove_stale_boxes(self) -> list[Path]:
        """Remove the boxes of our uid range that no live holder has: those of a worker that
        was killed before it could close them. A box exists only while its uid is held, so
        a box whose uid we can hold is nobody's. Returns what was removed."""
        removed = []
        for path in sorted(self.boxes.iterdir()):
            uid_text = path.name.split("-", 1)[0]
            if not uid_text.isdigit() or int(uid_text) not in self.uids:
                continue
            with self.uids.abandoned(int(uid_text)) as abandoned:
                if abandoned and path.exists():
                    self.storage.remove(path)
                    removed.append(path)
        if removed:
            logging.getLogger("codering_x.sandbox").info("removed %d boxes left by a stopped worker", len(removed))
        return removed

    def close(self) -> None:
        """Leave nothing behind: finish the janitor's queue, then close every box still open
        (kill its processes, remove its dir, return its uid). For a worker's shutdown."""
        if self._retired is not None and self._janitor is not None:
            self._retired.put(None)
            self._janitor.join(timeout=30)
        with self._open_lock:
            still_open = list(self._open)
        for box in still_open:
            with contextlib.suppress(Exception):
                box.close(kill=True)  # its run may still be going
        self.reap_orphans()

    def retire(self, box: Box) -> None:
        """Close a box after its result is known, off the request path: removing its dir
        and returning its uid need not delay the answer."""
        self.start_janitor()
        assert self._retired is not None
        self._retired.put(box)

    def start_janitor(self) -> None:
        """The janitor closes retired boxes and reaps the orphans we adopt: from the start,
        since a subreaper adopts the runs of any worker it outlives (its descendants'), not
        only its own."""
        if self._retired is None:
            self._retired = queue.Queue()
            self._janitor = threading.Thread(target=self._close_retired, name="box-janitor", daemon=True)
            self._janitor.start()

    def _close_retired(self) -> None:
        assert self._retired is not None
        while True:
            try:
                box = self._retired.get(timeout=ORPHAN_SWEEP_S)
            except queue.Empty:
                self.reap_orphans()
                continue
            if box is None:  # close(): the queue is done
                return
            try:
                box.close()
            except Exception:  # a failed cleanup must not stop the next ones
                logging.getLogger("codering_x.sandbox").exception("closing box %s failed", box.workdir)
            if self._retired.empty():
                self.reap_orphans()

    def reap_orphans(self) -> None:
        """Reap the dead processes we adopted as subreaper (a run's orphans whose helper was
        killed, the members of a worker that died): a zombie of a sandbox uid still counts
        against that uid's process limit. Our own helpers are left to whoever waits for them."""
        me = os.getpid()
        with self.helpers_lock:
            for proc in processes():
                if proc.zombie and proc.parent == me and proc.uid in self.uids and proc.pid not in self.helpers:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(proc.pid, os.WNOHANG)

    def describe(self) -> dict[str, object]:
        """What protects a run on this host, for logs and /v1/runtimes."""
        return {
            "landlock_abi": self.landlock_abi,
            "cgroups": self.cgroups.describe() if self.cgroups else "none (container limits apply)",
            "seccomp": True,
            "uids": f"{self.uids.first}-{self.uids.first + self.uids.size - 1}",
            "boxes": self.storage.describe(),
        }


def _default_root() -> str:
    return "/run/codering-x" if os.path.isdir("/run") else "/tmp/codering-x"
