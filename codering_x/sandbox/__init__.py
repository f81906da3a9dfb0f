"""One sandboxed process at a time, in every mode: uid + rlimits + seccomp + Landlock +
cgroups where writable + supervision. Knows nothing of languages or HTTP.

    sandbox = Sandbox.create()
    with sandbox.box() as box:
        box.write_file("main.py", b"print(1)")
        result = box.run(["/usr/bin/python3", "main.py"], env, limits)  # ProcessLimits

Every import goes through here; each module below has one job (see the README's layout).
"""

from .box import Box
from .limits import Cancel, LimitName, ProcessLimits, ProcessResult
from .live import Live
from .sandbox import Sandbox, SandboxError
from .spawned import Spawned
from .uidpool import UidPoolExhausted
from .zygote import Zygote

__all__ = [
    "Box",
    "Cancel",
    "LimitName",
    "Live",
    "ProcessLimits",
    "ProcessResult",
    "Sandbox",
    "SandboxError",
    "Spawned",
    "UidPoolExhausted",
    "Zygote",
]
