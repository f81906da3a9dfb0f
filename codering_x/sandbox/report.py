"""What the helper (sbexec) reports on fd 3, parsed in one place.

Lines, in order: "pid N" (the payload started), then, when the helper has killed and reaped
every process of the run, "rusage UTIME_US STIME_US MAXRSS_KB", and "exit WSTATUS" (a
zygote's member's helper is not our child: this is how we learn how it ended). A line
"sbexec: ..." says the helper itself failed (a setup step was refused): never the
learner's fault.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelperReport:
    payload_pid: int | None = None
    cpu_ms: int | None = None  # user + system, of every process of the run
    memory_kb: int = 0  # peak RSS of the largest process
    exit_status: int | None = None  # a wait status, as os.waitstatus_to_exitcode takes
    failure: str | None = None  # the helper's own "sbexec: ..." line

    @property
    def finished(self) -> bool:
        """The helper killed and reaped the whole run before reporting its usage."""
        return self.cpu_ms is not None

    @classmethod
    def parse(cls, raw: bytes) -> HelperReport:
        """Read whatever has arrived so far; a partial last line is ignored."""
        fields: dict[str, object] = {}
        text = raw.decode(errors="replace")
        complete = text if text.endswith("\n") else text.rpartition("\n")[0]
        for line in complete.splitlines():
            words = line.split()
            try:
                if line.startswith("sbexec:"):
                    fields.setdefault("failure", line)
                elif words[0] == "pid" and len(words) == 2:
                    fields["payload_pid"] = int(words[1])
                elif words[0] == "rusage" and len(words) == 4:
                    fields["cpu_ms"] = round((int(words[1]) + int(words[2])) / 1000)
                    fields["memory_kb"] = int(words[3])
                elif words[0] == "exit" and len(words) == 2:
                    fields["exit_status"] = int(words[1])
            except (IndexError, ValueError):
                continue  # not a line of ours: the helper writes nothing else
        return cls(**fields)  # type: ignore[arg-type]
