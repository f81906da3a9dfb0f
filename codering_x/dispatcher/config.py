"""The dispatcher's configuration: one YAML file, then CODERING_* environment variables on
top (nested keys with `__`, e.g. CODERING_HEDGE__DELAY_MS=20), validated by pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(ValueError):
    """The configuration names a key we do not know, or a value we cannot take."""


def _describe(exc: ValidationError, path: str | Path | None) -> str:
    where = f"{path}" if path else "the environment (CODERING_*)"
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
    return f"invalid configuration in {where}: " + "; ".join(problems)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


COMPILED_RUNTIMES = ("c", "cpp", "go", "java", "rust")


class HedgePolicy(_Section):
    """When a request's second send goes out: at once (the default), or after a wait."""

    delay_ms: int = Field(0, ge=0, description="wait before the second send (at least); 0 sends to both at once")
    delay_quantile: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="hedge once a request has taken this quantile of its runtime's recent answer times "
        "(at least delay_ms); null: always after delay_ms",
    )


class HedgeConfig(HedgePolicy):
    fanout: int = Field(2, ge=1, le=4, description="workers each request is sent to")
    runtimes: dict[str, HedgePolicy] = Field(
        # The compiled runtimes at their p90: a compile costs tens to hundreds of ms of CPU
        # (a warm javac member, a second to replace), and two of each per request made every
        # one of them slower on 2 cores than one and a late hedge (docs/benchmarks.md).
        default_factory=lambda: {name: HedgePolicy(delay_quantile=0.9) for name in COMPILED_RUNTIMES},
        description="a runtime's own delay_ms and delay_quantile, in place of the above",
    )
    idle_only: bool = Field(
        True, description="send the second copy only to a worker with nothing in flight (under load: once)"
    )
    max_attempts: int = Field(
        4, ge=1, description="sends per request, retries included (a send to a worker that died is not counted)"
    )
    attempt_timeout_s: float = Field(60.0, gt=0, description="one worker's time to answer")
    deadline_s: float = Field(90.0, gt=0, description="a request's whole time; past it: 504")
    worker_wait_s: float = Field(
        30.0,
        ge=0,
        description="a request whose workers all failed, or that found none healthy, waits this long (within "
        "deadline_s) for one to come back (a respawned one counts), then 503",
    )
    loser_grace_ms: int = Field(
        100, ge=0, description="a hedge's loser may finish this long before it is cancelled (its connection is kept)"
    )


class HealthConfig(_Section):
    interval_s: float = Field(2.0, gt=0, description="active /healthz probe period")
    timeout_s: float = Field(1.0, gt=0)
    backoff_initial_s: float = Field(0.5, gt=0, description="a failed worker gets no traffic this long")
    backoff_max_s: float = Field(10.0, gt=0)


class StaticWorker(_Section):
    runtime: str
    url: str
    name: str | None = None


class KubernetesConfig(_Section):
    namespace: str = Field("nuclio", description="where the Nuclio functions run")
    function_prefix: str = Field("codering-", description="function name = prefix + runtime")
    runtimes: list[str] = Field(
        default_factory=lambda: ["bash", "c", "cpp", "go", "java", "javascript", "php", "python", "ruby", "rust"]
    )
    api_url: str | None = Field(None, description="empty: in-cluster credentials, else the kubeconfig")
    watch_timeout_s: int = Field(300, gt=0)


class DiscoveryConfig(_Section):
    kind: Literal["local", "static", "docker", "kubernetes"] = "local"
    static: list[StaticWorker] = Field(default_factory=list, description="kind=static: the workers")
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)


class EmbeddedConfig(_Section):
    workers_per_runtime: int = Field(2, ge=1)
    concurrency: int = Field(4, ge=1, description="runs at once per worker process")
    runtimes: list[str] = Field(default_factory=list, description="empty: every runtime this host has")
    respawn_backoff_max_s: float = Field(10.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODERING_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(8 << 20, gt=0, description="past it: 413")
    body_timeout_s: float = Field(10.0, gt=0, description="time to receive a request body; past it: 408")
    max_in_flight_per_runtime: int = Field(64, ge=1, description="past it: 429 with Retry-After")
    max_sessions_per_runtime: int = Field(
        64,
        ge=1,
        description="interactive sessions at once per runtime; past it: close 4429 (each worker has its own bound)",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='browser origins allowed (CORS, and interactive sessions), or ["*"]'
    )
    token: str | None = Field(None, description="when set, /v1/* needs 'Authorization: Bearer <token>'")
    playground: bool = Field(True, description="serve the playground page at / (its files under /playground/)")
    runtimes: list[str] = Field(default_factory=list, description="what /readyz waits for (empty: what is found)")
    hedge: HedgeConfig = Field(default_factory=HedgeConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    embedded: EmbeddedConfig = Field(default_factory=EmbeddedConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # the environment overrides the file

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Read the YAML file (if any), apply the environment, then explicit overrides (CLI flags)."""
        data = yaml.safe_load(Path(path).read_text()) or {} if path else {}
        try:
            settings = cls(**data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, path)) from None
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
