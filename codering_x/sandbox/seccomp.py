"""The seccomp filter every sandboxed process runs under, compiled once to raw BPF.

Built in the parent with libseccomp (through pyseccomp) and handed to the exec helper as
bytes, so the child does nothing but two prctl() calls. Denies every socket family but
AF_UNIX (no network in any form), io_uring (its SOCKET op bypasses socket()), ptrace and
friends, mount, bpf, namespace creation, SysV IPC and message queues, and kernel-facing calls; the 32-bit and x32 ABIs
are killed outright (the `int 0x80` socket escape) by libseccomp's bad-arch default.
"""

from __future__ import annotations

import errno
import socket
import tempfile

DENIED_EPERM = (
    "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns", "mount", "umount2",
    "pivot_root", "chroot", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "acct", "swapon", "swapoff", "reboot", "open_by_handle_at",
    "name_to_handle_at", "fanotify_init", "quotactl", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "syslog", "settimeofday",
    "clock_settime", "adjtimex",
    # SysV IPC and POSIX message queues outlive the run and are shared by every uid of the
    # host (no IPC namespace here): a channel between runs and a leak. Nothing we run needs them.
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semctl", "semtimedop", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
)  # fmt: skip
DENIED_ENOSYS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")
CLONE_NEW_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)


def build_filter_bpf() -> bytes:
    """Return the filter as a raw `struct sock_filter[]` program."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    for call in ("socket", "socketpair"):
        f.add_rule(sc.ERRNO(errno.EACCES), call, sc.Arg(0, sc.NE, socket.AF_UNIX))
    for call in DENIED_EPERM:
        f.add_rule(sc.ERRNO(errno.EPERM), call)
    # clone3 passes its flags in a struct seccomp cannot read: ENOSYS makes libc fall back to clone().
    for call in DENIED_ENOSYS:
        f.add_rule(sc.ERRNO(errno.ENOSYS), call)
    for flag in CLONE_NEW_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()
