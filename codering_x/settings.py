"""What a worker reads from its environment, read once and passed down.

Nuclio sets these in function.yaml, the images in their Dockerfile, `codering-x worker`
from its flags. Every key is CODERING_<FIELD>; none shares a name with the dispatcher's
settings (dispatcher/config.py), so one environment can hold both without a clash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    # "ignore": the same environment holds the dispatcher's keys
    model_config = SettingsConfigDict(env_prefix="CODERING_", extra="ignore", frozen=True)

    runtime: str | None = Field(None, description="the one runtime this worker serves")
    concurrency: int = Field(1, ge=1, description="runs at once (1 per Nuclio wrapper process)")
    prewarm: int = Field(
        2, ge=0, description="prewarmed interpreters per run slot, and members of each other stage; 0: all cold"
    )
    sandbox_root: Path | None = Field(None, description="boxes, uid locks, the filter (default /run/codering-x)")
    uid_base: int = Field(60000, ge=1000, description="the first of the sandbox's uids")
    uid_count: int = Field(256, ge=1, le=65536)
    cgroups: Literal["auto", "off"] = "auto"
    box_tmpfs: Literal["auto", "off"] = Field("auto", description="off: boxes are plain dirs (no disk limit)")
    interactive_sessions: int = Field(32, ge=1, description="interactive sessions at once; past it: close 4429")
    compile_cache_mb: int = Field(128, ge=0, description="this worker's compile cache; 0: off")
    sbexec: Path | None = Field(None, description="a prebuilt exec helper (images)")
    sbexec_lib: Path | None = Field(None, description="its library form, for a zygote (images)")

    @property
    def prewarm_members(self) -> int:
        """Members per interpreter: enough for every run slot to find one. (A compile's or a
        compiled program's member saves less, a few to tens of ms, and holds a uid and, for
        javac, a JVM: `prewarm` of each per worker.)"""
        return self.prewarm * self.concurrency
