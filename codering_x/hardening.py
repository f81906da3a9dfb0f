"""How a worker container is started, in every mode that starts one (dev mode, tests).

What the sandbox needs inside the container, and nothing more:
- `--init` (tini as PID 1): orphans are reaped, so their zombies do not hold a uid's NPROC;
- capabilities: CHOWN (hand input files to the run's uid), DAC_OVERRIDE and FOWNER (remove
  a work dir the learner locked down with chmod), SETUID and SETGID (switch to the run's
  uid), KILL (signal the helper, which runs as that uid); everything else is dropped;
- `no-new-privileges`, Docker's default seccomp profile (it allows Landlock's syscalls);
- a memory and a pids limit: the hard caps behind every run (cgroupfs is read-only here);
- a read-only root, with size- and inode-limited tmpfs for the work dirs (exec: compiled
  programs run from there) and for /tmp.
"""

from __future__ import annotations

from typing import Any

SANDBOX_ROOT = "/run/codering-x"
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"]


def worker_container_options(
    memory_mb: int = 2048, pids: int = 1024, work_mb: int = 512, work_inodes: int = 100_000
) -> dict[str, Any]:
    """Keyword arguments for docker SDK `containers.run`/`create` (and their CLI flags in the docs)."""
    return {
        "init": True,
        "cap_drop": ["ALL"],
        "cap_add": CAPABILITIES,
        "security_opt": ["no-new-privileges"],
        "mem_limit": f"{memory_mb}m",
        "memswap_limit": f"{memory_mb}m",
        "pids_limit": pids,
        "read_only": True,
        "tmpfs": {
            # The worker cannot mount a tmpfs per box here: this one bounds the disk and the
            # inodes of all the container's runs together (one run's maximum of each).
            SANDBOX_ROOT: f"size={work_mb}m,nr_inodes={work_inodes},mode=0711,exec",
            "/tmp": "size=64m,mode=1777",
        },  # exec: compiled programs
        "shm_size": "16m",
    }
