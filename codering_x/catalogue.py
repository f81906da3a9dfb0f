"""The runtimes codering-x knows: loaded from runtimes/*/runtime.yaml.

A runtime describes how to build argv lists (never shell strings: user data only ever
fills whole argv elements), its default and maximum limits, its memory flags, and how to
ask its toolchain for a version. A runtime whose toolchain is missing is `available=False`,
never an import error.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import REPO_ROOT
from .models import ResolvedLimits
from .sandbox import ProcessLimits

# The only PATH a sandboxed process sees, and where toolchains are looked up.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
PREWARM_DIR = Path(__file__).with_name("prewarm")  # the bootstraps
BOOTSTRAP_FILE = "codering-{0}"  # {bootstrap_file}: its name in a member's box
Stage = Literal["compile", "run"]
WORKDIR_MARK = "/box"  # any box's path, where one is compared with another's (a cache key, an environment)
RUNTIMES_DIR = Path(os.environ.get("CODERING_RUNTIMES_DIR", REPO_ROOT / "runtimes"))

# Disk: a learner's program needs little; a compile's temporaries and artifacts need more.
DEFAULT_LIMITS = ResolvedLimits(
    cpu_time_ms=2000, wall_time_ms=5000, memory_mb=256, output_bytes=65536, processes=32,
    disk_mb=64, disk_inodes=10000,
)  # fmt: skip
MAXIMUM_LIMITS = ResolvedLimits(
    cpu_time_ms=10000, wall_time_ms=20000, memory_mb=1024, output_bytes=1 << 20, processes=128,
    disk_mb=512, disk_inodes=100000,
)  # fmt: skip
COMPILE_LIMITS = ResolvedLimits(
    cpu_time_ms=20000, wall_time_ms=30000, memory_mb=1024, output_bytes=65536, processes=128,
    disk_mb=512, disk_inodes=50000,
)  # fmt: skip


# An interactive session's run waits for a person: its wall clock (which counts that wait)
# has its own default and maximum. Every other limit is the runtime's, as for POST /v1/run.
OPTIONS = "{options}"  # where a stage's options go in its argv
INTERACTIVE_WALL_MS = {"default": 60_000, "maximum": 600_000}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prewarm(_Model):
    """A stage's bootstrap: started before its request, it waits on stdin for it. A stage
    without one is still prewarmed: its sandbox is set up ahead and execs the stage's argv."""

    bootstrap: str = Field(description="its source: codering_x/prewarm/<bootstrap>")
    argv: list[str] = Field(
        min_length=1, description="starts it: {bootstrap} is its source, {bootstrap_file} that source as a file"
    )
    zygote: bool = Field(
        default=False, description="the bootstrap can fork members ('--zygote'): one start, then a fork per member"
    )
    receives: Literal["entry", "argv"] = Field(
        default="entry",
        description="what it is handed: the entry and the arguments (an interpreter), or the stage's argv",
    )


class Command(_Model):
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    prewarm: Prewarm | None = Field(default=None, description="a bootstrap that waits for this stage's request")

    @property
    def interpreted(self) -> bool:
        """Is its member an interpreter handed the entry (not an argv), whose start it spares?"""
        return self.prewarm is not None and self.prewarm.receives == "entry"


class VersionProbe(_Model):
    argv: list[str] = Field(min_length=1)
    pattern: str

    def ask(self) -> str:
        """The program's own answer, e.g. '3.11.2'; 'unknown' if it cannot tell."""
        argv = [resolve(self.argv[0]) or self.argv[0], *self.argv[1:]]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=_probe_env())
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        match = re.search(self.pattern, proc.stdout + proc.stderr)
        return match.group(1) if match else "unknown"


class Library(_Model):
    """A library a program may use without shipping it: a Debian package in the image and
    on the host (`make toolchains`), never loaded by a prewarmed member."""

    name: str
    package: str = Field(description="its Debian package")
    version: VersionProbe


class MemoryPolicy(_Model):
    rlimit: str = Field(default="data", pattern="^(data|as|none)$")
    data_extra_mb: int = Field(default=0, ge=0, description="RLIMIT_DATA headroom for runtimes that reserve")
    heap_fraction: float = Field(default=0.75, gt=0, le=1, description="{heap_mb} = memory_mb * this")


def process_limits(limits: ResolvedLimits, memory: MemoryPolicy | None = None) -> ProcessLimits:
    """The sandbox's limits for a stage; the memory rlimit (if any) with the policy's headroom."""
    memory = memory or MemoryPolicy()
    rlimit_mb = limits.memory_mb + memory.data_extra_mb
    return ProcessLimits(
        cpu_time_ms=limits.cpu_time_ms,
        wall_time_ms=limits.wall_time_ms,
        memory_mb=limits.memory_mb,
        output_bytes=limits.output_bytes,
        processes=limits.processes,
        disk_bytes=limits.disk_mb << 20,
        disk_inodes=limits.disk_inodes,
        data_mb=rlimit_mb if memory.rlimit == "data" else None,
        address_space_mb=rlimit_mb if memory.rlimit == "as" else None,
    )


class LimitOverrides(_Model):
    default: dict[str, int] = Field(default_factory=dict)
    maximum: dict[str, int] = Field(default_factory=dict)
    compile: dict[str, int] = Field(default_factory=dict)


class CodeFile(_Model):
    """How to name the file that `code` is saved as, when the language demands a name."""

    pattern: str = Field(description="a regular expression over the code; its groups fill `name`")
    name: str = Field(description="e.g. '{0}.java'")


class ImageSpec(_Model):
    packages: list[str] = Field(default_factory=list, description="Debian packages of the toolchain")


class Interactive(_Model):
    """What an interactive session's run gets on top of a run's, so that a prompt printed
    without a newline reaches the person before the program waits for input. Such a run
    starts cold (a member was started with the plain run's environment)."""

    env: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict, description="written into the box beside the learner's")


# No option may hold these, whatever a runtime's pattern allows: whitespace, control
# characters, and what a shell reads. Options are argv elements, never a shell string (Judge0
# had a command injection through its compiler options); this is a second lock.
OPTION_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f;&|$`'\"\\<>(){}\[\]*?!#~]")


class OptionRule(_Model):
    """One kind of option a stage takes: a pattern that each option must match whole."""

    pattern: str = Field(description="a regular expression, matched against the whole option, e.g. '-std=(c99|c11)'")
    default: str | None = Field(
        default=None, description="what the stage gets when the request gives none of this kind"
    )
    description: str

    @model_validator(mode="after")
    def _consistent(self) -> OptionRule:
        re.compile(self.pattern)
        if self.default is not None and not self.matches(self.default):
            raise ValueError(f"the default {self.default!r} does not match {self.pattern!r}")
        return self

    def matches(self, option: str) -> bool:
        return re.fullmatch(self.pattern, option) is not None and not OPTION_FORBIDDEN.search(option)


class Options(_Model):
    compile: list[OptionRule] = Field(default_factory=list)
    run: list[OptionRule] = Field(default_factory=list)


class InvalidOption(ValueError):
    def __init__(self, stage: str, option: str, rules: list[OptionRule]) -> None:
        allowed = "; ".join(f"{r.pattern} ({r.description})" for r in rules) or "none"
        super().__init__(f"{stage} option {option!r} is not allowed; allowed: {allowed}")
        self.details = {"stage": stage, "option": option, "allowed": [r.pattern for r in rules]}


class Example(_Model):
    """A runtime's hello world: the playground's starting program, run by the tests."""

    code: str
    stdin: str = ""
    stdout: str = Field(description="what the program prints given `stdin`")


class Runtime(_Model):
    name: str
    aliases: list[str] = Field(default_factory=list)
    entry: str
    extensions: list[str]
    code_file: CodeFile | None = Field(default=None, description="where `code` goes, when not simply `entry`")
    version: VersionProbe
    compile: Command | None = None
    run: Command
    env: dict[str, str] = Field(default_factory=dict)
    interactive: Interactive = Field(default_factory=Interactive)
    example: Example
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)
    limits: LimitOverrides = Field(default_factory=LimitOverrides)
    oom_patterns: list[str] = Field(default_factory=list)
    image: ImageSpec = Field(default_factory=ImageSpec)
    options: Options = Field(default_factory=Options, description="what a request may add to a stage's argv")
    libraries: list[Library] = Field(default_factory=list)

    @model_validator(mode="after")
    def _options_have_a_place(self) -> Runtime:
        for stage, rules in (("compile", self.options.compile), ("run", self.options.run)):
            command = self.stage(stage)
            if rules and (command is None or OPTIONS not in command.argv):
                raise ValueError(f"{self.name}: {stage} options need {OPTIONS} in the {stage} argv")
        return self

    def stage_options(self, stage: Stage, given: list[str]) -> list[str]:
        """A stage's options: each rule's default where the request gives none of its kind,
        then the request's own, each checked against the rules (InvalidOption)."""
        rules = self.options.compile if stage == "compile" else self.options.run
        for option in given:
            if not any(rule.matches(option) for rule in rules):
                raise InvalidOption(stage, option, rules)
        defaults = [r.default for r in rules if r.default and not any(r.matches(o) for o in given)]
        return defaults + list(given)

    @property
    def default_limits(self) -> ResolvedLimits:
        return DEFAULT_LIMITS.model_copy(update=self.limits.default)

    @property
    def maximum_limits(self) -> ResolvedLimits:
        return MAXIMUM_LIMITS.model_copy(update=self.limits.maximum)

    def limits_for(self, interactive: bool) -> tuple[ResolvedLimits, ResolvedLimits]:
        """(defaults, maxima) of a run: POST /v1/run's, or an interactive session's."""
        if not interactive:
            return self.default_limits, self.maximum_limits
        return (
            self.default_limits.model_copy(update={"wall_time_ms": INTERACTIVE_WALL_MS["default"]}),
            self.maximum_limits.model_copy(update={"wall_time_ms": INTERACTIVE_WALL_MS["maximum"]}),
        )

    @property
    def compile_limits(self) -> ResolvedLimits:
        return COMPILE_LIMITS.model_copy(update=self.limits.compile)

    def process_limits(self, limits: ResolvedLimits) -> ProcessLimits:
        """What the sandbox enforces for a stage with these limits, memory by this runtime's policy."""
        return process_limits(limits, self.memory)

    def code_name(self, code: str) -> str:
        """The file name `code` is saved under: the name its language demands (Java: the public
        class's), else the runtime's entry."""
        if self.code_file is not None and (match := re.search(self.code_file.pattern, code)):
            return self.code_file.name.format(*match.groups())
        return self.entry

    @cached_property
    def missing_tools(self) -> list[str]:
        """Executables this runtime needs that are not on the sandbox PATH."""
        needed = [self.version.argv[0], self.run.argv[0]] + ([self.compile.argv[0]] if self.compile else [])
        return [t for t in dict.fromkeys(needed) if not t.startswith("{") and resolve(t) is None]

    @property
    def available(self) -> bool:
        return not self.missing_tools

    @cached_property
    def toolchain_version(self) -> str:
        """The toolchain's own answer, e.g. '3.11.2'; 'unknown' if it cannot tell."""
        if not self.available:
            return "unavailable"
        return self.version.ask()

    @cached_property
    def library_versions(self) -> list[dict[str, str]]:
        """Each library with its version ('unknown' when it is not installed here)."""
        return [{"name": lib.name, "version": lib.version.ask() if self.available else "unavailable"}
                for lib in self.libraries]  # fmt: skip

    def stage(self, name: Stage) -> Command | None:
        return self.compile if name == "compile" else self.run

    def expand(
        self,
        command: Command | Prewarm,
        entry: str,
        sources: list[str],
        workdir: str,
        memory_mb: int,
        options: list[str] | None = None,
    ) -> list[str]:
        """Fill a command's argv: each placeholder fills a whole element, or {sources} and
        {options} several (the files; the stage's options, from `stage_options`)."""
        values = self._values(entry, workdir, memory_mb)
        if isinstance(command, Prewarm):
            values["bootstrap"] = bootstrap_source(command.bootstrap)
            values["bootstrap_file"] = BOOTSTRAP_FILE.format(command.bootstrap)
        argv: list[str] = []
        for arg in command.argv:
            if arg == "{sources}":
                argv.extend(sources)
            elif arg == OPTIONS:
                argv.extend(options or [])
            else:
                argv.append(arg.format(**values))
        program = argv[0] if argv[0].startswith("/") else resolve(argv[0])
        if program is None:
            raise FileNotFoundError(f"{self.name}: {argv[0]} is not installed")
        return [program, *argv[1:]]

    def environment(self, command: Command, entry: str, workdir: str, memory_mb: int) -> dict[str, str]:
        """The whole environment of a sandboxed stage: nothing of the server's leaks in."""
        values = self._values(entry, workdir, memory_mb)
        env = {"PATH": SANDBOX_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
        env.update({k: v.format(**values) for k, v in {**self.env, **command.env}.items()})
        return env

    def _values(self, entry: str, workdir: str, memory_mb: int) -> dict[str, object]:
        return {
            "entry": entry,
            "main_class": Path(entry).stem,
            "workdir": workdir,
            "memory_mb": memory_mb,
            "heap_mb": max(16, int(memory_mb * self.memory.heap_fraction)),
        }

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.toolchain_version,
            "aliases": self.aliases,
            "entry": self.entry,
            "compiled": self.compile is not None,
            "available": self.available,
            "default_limits": self.default_limits.model_dump(),
            "maximum_limits": self.maximum_limits.model_dump(),
            "interactive_wall_time_ms": INTERACTIVE_WALL_MS,
            "example": self.example.model_dump(),
            "options": self.options.model_dump(),
            "libraries": self.library_versions,
        }


@functools.cache
def bootstrap_source(name: str) -> str:
    """A prewarm bootstrap's source, passed on its command line where it can be (never on
    disk where a learner's program could see it), else as {bootstrap_file}: a file in the
    member's box that the bootstrap deletes as it starts, before any request reaches it."""
    return (PREWARM_DIR / name).read_text()


@functools.cache
def resolve(program: str) -> str | None:
    """The absolute path of a toolchain program on the sandbox PATH (cached: it is on the
    request path, and toolchains do not move while a worker lives)."""
    return shutil.which(program, path=SANDBOX_PATH)


def _probe_env() -> dict[str, str]:
    return {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": "/nonexistent"}


class UnknownRuntime(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown runtime {name!r}; known runtimes: {', '.join(known)}")
        self.name, self.known = name, known


class Catalogue:
    def __init__(self, runtimes: list[Runtime]) -> None:
        self.runtimes = {r.name: r for r in sorted(runtimes, key=lambda r: r.name)}
        self._names: dict[str, str] = {}
        for r in self.runtimes.values():
            for key in (r.name, *r.aliases):
                if self._names.setdefault(key.lower(), r.name) != r.name:
                    raise ValueError(f"runtime name or alias {key!r} is used twice")

    @classmethod
    def load(cls, directory: Path = RUNTIMES_DIR) -> Catalogue:
        runtimes = []
        for path in sorted(directory.glob("*/runtime.yaml")):
            runtime = Runtime.model_validate(yaml.safe_load(path.read_text()))
            if runtime.name != path.parent.name:
                raise ValueError(f"{path}: name {runtime.name!r} differs from its directory")
            runtimes.append(runtime)
        return cls(runtimes)

    def get(self, name: str) -> Runtime:
        """Resolve a name or alias (case-insensitive)."""
        canonical = self._names.get(name.lower())
        if canonical is None:
            raise UnknownRuntime(name, list(self.runtimes))
        return self.runtimes[canonical]

    def available(self) -> list[Runtime]:
        return [r for r in self.runtimes.values() if r.available]
