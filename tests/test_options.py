"""Compile and run options per request: each one argv element, matched whole against the
runtime's allowlist (`options:` in its runtime.yaml); anything else is a 400, never a shell."""

from __future__ import annotations

import pytest

from codering_x.catalogue import Catalogue
from codering_x.errors import RequestError
from codering_x.models import RunRequest

TYPEOF_C = '#include <stdio.h>\nint main(void) { int x = 1; typeof(x) y = 2; printf("%d\\n", x + y); return 0; }\n'
MACRO_C = "#include <stdio.h>\n#define S(x) #x\n#define T(x) S(x)\nint main(void) { puts(T(GREETING)); return 0; }\n"
LIMIT_C = '#include <stdio.h>\nint main(void) { printf("%d\\n", LIMIT * 2); return 0; }\n'
SPAN_CPP = '#include <span>\n#include <cstdio>\nint main() { int a[] = {1, 2, 3}; std::span<int> s(a); std::printf("%zu\\n", s.size()); }\n'
ASYNC_RS = 'fn main() { let async = 7; println!("{}", async); }\n'
VAR_JAVA = "public class Main { public static void main(String[] a) { var x = 3; System.out.println(x); } }\n"


@pytest.mark.parametrize(
    "runtime, code, options, default_status, with_options, error_at",
    [
        ("c", TYPEOF_C, ["-std=c99"], "ok", "compile_error", "main.c:2:"),  # typeof is GNU C, not C99
        ("c", LIMIT_C, ["-DLIMIT=21"], "compile_error", "ok", None),
        ("cpp", SPAN_CPP, ["-std=c++20"], "compile_error", "ok", None),  # std::span is C++20
        ("rust", ASYNC_RS, ["--edition=2015"], "compile_error", "ok", None),  # `async` is a keyword since 2018
        ("java", VAR_JAVA, ["--release=8"], "ok", "compile_error", "Main.java:1:"),  # `var` came in Java 10
    ],
)
def test_a_compile_option_changes_the_compile(run, runtime, code, options, default_status, with_options, error_at):
    assert run(runtime, code).status == default_status
    result = run(runtime, code, compile_options=options)
    assert result.status == with_options, result.compile
    if error_at:  # the compiler's own message, with its file and line
        assert error_at in result.compile.stderr, result.compile.stderr


def test_defines_reach_the_program_and_the_cache_tells_them_apart(run):
    first = run("c", MACRO_C, compile_options=["-DGREETING=one"])
    second = run("c", MACRO_C, compile_options=["-DGREETING=two"])
    again = run("c", MACRO_C, compile_options=["-DGREETING=one"])
    assert (first.run.stdout, second.run.stdout, again.run.stdout) == ("one\n", "two\n", "one\n")
    assert again.compile.cached and not second.compile.cached


def test_an_optimisation_level_replaces_the_default_one(run):
    code = '#include <stdio.h>\nint main(void) {\n#ifdef __OPTIMIZE__\nputs("optimised");\n#else\nputs("plain");\n#endif\n}\n'
    assert run("c", code).run.stdout == "optimised\n"
    assert run("c", code, compile_options=["-O0"]).run.stdout == "plain\n"


@pytest.mark.parametrize(
    "options, stdout",
    [
        ([], "False 0 assert\n"),
        (["-Xdev"], "True 0 assert\n"),
        (["-O"], "False 1 skipped\n"),
    ],
)
def test_python_run_options(run, options, stdout):
    code = (
        "import sys\ntry:\n    assert False\n    how = 'skipped'\nexcept AssertionError:\n    how = 'assert'\n"
        "print(sys.flags.dev_mode, sys.flags.optimize, how)\n"
    )
    assert run("python", code, run_options=options).run.stdout == stdout


@pytest.mark.parametrize(
    "runtime, field, option",
    [
        ("c", "compile_options", "-std=c99;id"),
        ("c", "compile_options", "-DX=$(id)"),
        ("c", "compile_options", "-DX=`id`"),
        ("c", "compile_options", "-DX=1\n-DY"),
        ("c", "compile_options", "-D-x"),  # a leading '-' where a name is expected
        ("c", "compile_options", "-DX=a b"),
        ("c", "compile_options", "-I/etc"),
        ("c", "compile_options", "-o/tmp/elsewhere"),
        ("c", "compile_options", "-fplugin=/tmp/x.so"),
        ("c", "compile_options", "-std=c99 -o x"),
        ("c", "compile_options", "-lcrypt"),  # not a listed library
        ("cpp", "compile_options", "-std=c++99"),
        ("rust", "compile_options", "--edition"),  # the value must be in the same element
        ("rust", "compile_options", "--extern=x=/etc/passwd"),
        ("java", "compile_options", "-processorpath"),
        ("python", "run_options", "-c"),
        ("python", "run_options", "-Ximport_hook"),
        ("python", "compile_options", "-O"),  # python has no compile stage
        ("bash", "run_options", "-x"),  # bash takes no options
    ],
)
def test_an_option_outside_the_allowlist_is_a_clear_400(engine, runtime, field, option):
    with pytest.raises(RequestError) as info:
        engine.run(RunRequest(runtime=runtime, code="", **{field: [option]}))
    assert info.value.code == "invalid_option" and info.value.details["option"] == option
    assert repr(option) in str(info.value) and "allowed" in str(info.value)


def test_runtimes_list_their_options_and_defaults_fill_in():
    catalogue = Catalogue.load()
    c = catalogue.get("c")
    rules = c.describe()["options"]["compile"]
    assert {"pattern": "-std=(c89|c90|c99|c11|c17|c18|c2x|gnu89|gnu90|gnu99|gnu11|gnu17|gnu18|gnu2x)",
            "default": "-std=gnu17", "description": "the language standard"} in rules  # fmt: skip
    assert c.stage_options("compile", []) == ["-std=gnu17", "-O2"]
    assert c.stage_options("compile", ["-std=c11", "-DX"]) == ["-O2", "-std=c11", "-DX"]
    assert catalogue.get("bash").describe()["options"] == {"compile": [], "run": []}


def test_a_runtime_whose_option_rules_cannot_work_does_not_load():
    from pydantic import ValidationError

    from codering_x.catalogue import Runtime

    good = Catalogue.load().get("c").model_dump()
    bad_default = {**good, "options": {"compile": [{"pattern": "-O[0-2]", "default": "-O3", "description": "x"}]}}
    nowhere = {**good, "compile": {"argv": ["gcc", "-o", "main", "{sources}"]}}
    for broken in (bad_default, nowhere):
        with pytest.raises(ValidationError):
            Runtime.model_validate(broken)
