"""Prove, before the first request, that the sandbox holds on this host (after codejail).

A sandboxed child must be unable to open a TCP socket to us, read a 0600 root file, raise
its CPU limit or outlive its run. If any check fails, the engine refuses to run code and
says which check failed: fail closed.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from .catalogue import DEFAULT_LIMITS, SANDBOX_PATH, process_limits, resolve
from .sandbox import Sandbox
from .sandbox.procs import processes_of_uid

# The defaults, with a wall time that a loaded host cannot make the probe miss.
PROBE_LIMITS = process_limits(DEFAULT_LIMITS.model_copy(update={"cpu_time_ms": 1000, "wall_time_ms": 10000}))

PROBE = r"""
import json, os, resource, socket, sys, time
port, secret = int(sys.argv[1]), sys.argv[2]
found = {}
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close(); found["tcp"] = "connected"
except OSError as e:
    found["tcp"] = "denied"
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM); found["udp"] = "opened"
except OSError:
    found["udp"] = "denied"
try:
    open(secret).read(); found["secret"] = "read"
except OSError:
    found["secret"] = "denied"
soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
try:
    resource.setrlimit(resource.RLIMIT_CPU, (hard + 10, hard + 10)); found["cpu"] = "raised"
except (ValueError, OSError):
    found["cpu"] = "held" if hard == 2 else f"hard limit {hard}"
found["env"] = sorted(os.environ)
if os.fork() == 0:  # a daemon that must not outlive the run
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
print(json.dumps(found))
"""


@dataclass
class SelfTestResult:
    passed: bool
    failures: list[str]

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise SelfTestFailed("sandbox self-test failed: " + "; ".join(self.failures))


class SelfTestFailed(RuntimeError):
    """The sandbox does not hold here; no untrusted code may run."""


def run_self_test(sandbox: Sandbox) -> SelfTestResult:
    python = resolve("python3")
    if python is None:
        return SelfTestResult(False, [f"no python3 on {SANDBOX_PATH} to run the probe"])
    failures: list[str] = []
    secret = sandbox.root / "selftest-secret"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"secret")
    os.close(fd)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        with sandbox.box() as box:
            box.write_file("probe.py", PROBE.encode())
            env = {"PATH": SANDBOX_PATH, "HOME": str(box.workdir), "LANG": "C.UTF-8"}
            argv = [python, "probe.py", str(listener.getsockname()[1]), str(secret)]
            result = box.run(argv, env, PROBE_LIMITS)
            uid = box.uid
        if result.error or result.exit_code != 0:
            failures.append(f"probe did not run: {result.error or result.stderr.decode(errors='replace')[-300:]}")
        else:
            found = json.loads(result.stdout)
            for check, want in (("tcp", "denied"), ("udp", "denied"), ("secret", "denied"), ("cpu", "held")):
                if found[check] != want:
                    failures.append(f"{check}: {found[check]}")
            if found["env"] != ["HOME", "LANG", "PATH"]:
                failures.append(f"environment not scrubbed: {found['env']}")
        try:
            listener.accept()
            failures.append("tcp: the listener saw a connection")
        except BlockingIOError:
            pass
        if processes_of_uid(uid):
            failures.append(f"processes of uid {uid} survived the run")
    finally:
        listener.close()
        secret.unlink(missing_ok=True)
    return SelfTestResult(not failures, failures)
