"""Every runtime, for real: hello world, stdin, args, errors, test sets, its real version."""

from __future__ import annotations

import re
import subprocess

import pytest

from codering_x.catalogue import resolve
from tests.conftest import ALL_RUNTIMES
from tests.programs import COMPILE_ERROR, ECHO, FAIL_WITH_3, SUM

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_hello_world_from_the_examples(engine, runtime):
    from codering_x.cli import EXAMPLES
    from codering_x.models import RunRequest, SourceFile

    entry = engine.catalogue.get(runtime).entry
    source = (EXAMPLES / "hello" / entry).read_text()
    result = engine.run(RunRequest(runtime=runtime, files=[SourceFile(name=entry, content=source)]))
    assert result.status == "ok", result.model_dump()
    assert result.run is not None and result.run.stdout.startswith("Hello from ")
    assert result.run.exit_code == 0 and result.run.wall_time_ms > 0 and result.run.memory_kb > 0


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_the_catalogue_example_prints_what_it_promises(run, runtime, catalogue):
    """Each runtime's `example` (the playground's starting program, in /v1/runtimes)."""
    example = catalogue.get(runtime).example
    with_stdin = run(runtime, example.code, stdin=example.stdin)
    assert (with_stdin.status, with_stdin.run.stdout) == ("ok", example.stdout), with_stdin.model_dump()
    assert run(runtime, example.code).run.stdout == "Hello, World!\n"  # no stdin: it greets the world


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_stdin_and_args(run, runtime):
    result = run(runtime, ECHO[runtime], stdin="hello there\n", args=["one", "two words", "3"])
    assert result.status == "ok", result.model_dump()
    assert result.run.stdout.splitlines() == ["HELLO THERE", "one,two words,3"]


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_runtime_error_keeps_exit_code_and_stderr(run, runtime):
    result = run(runtime, FAIL_WITH_3[runtime])
    assert result.status == "runtime_error"
    assert result.run.exit_code == 3 and result.run.signal is None
    assert "oops" in result.run.stderr


@pytest.mark.parametrize("runtime", sorted(COMPILE_ERROR))
def test_compile_error_stops_before_running(run, runtime):
    result = run(runtime, COMPILE_ERROR[runtime])
    assert result.status == "compile_error"
    assert result.run is None and result.compile is not None
    assert result.compile.exit_code != 0
    assert "undefined_name" in result.compile.stderr + result.compile.stdout


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_test_set_with_one_pass_and_one_fail(run, runtime):
    tests = [
        {"name": "adds", "stdin": "2 3\n", "expected_stdout": "5\n"},
        {"name": "wrong on purpose", "stdin": "2 2\n", "expected_stdout": "5\n"},
    ]
    result = run(runtime, SUM[runtime], tests=tests)
    assert [t.status for t in result.tests] == ["ok", "wrong_answer"]
    assert [t.name for t in result.tests] == ["adds", "wrong on purpose"]
    assert result.tests[1].run.stdout.strip() == "4"
    assert result.status == "wrong_answer" and result.run is None
    if result.compile is not None:
        assert result.compile.status == "ok"  # compiled once for both tests


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_reported_version_is_the_toolchains_own(engine, run, runtime):
    spec = engine.catalogue.get(runtime).version
    result = run(runtime, ECHO[runtime], stdin="x\n")
    out = subprocess.run([resolve(spec.argv[0]), *spec.argv[1:]], capture_output=True, text=True)
    assert re.match(r"\d+\.\d+", result.runtime.version)
    assert result.runtime.version in out.stdout + out.stderr


def test_alias_and_context_are_honoured(run):
    result = run("py", "print('hi')", context={"exercise": "ex-42"})
    assert result.runtime.name == "python" and result.context == {"exercise": "ex-42"}


def test_multiple_files_import_each_other(engine):
    from codering_x.models import RunRequest, SourceFile

    files = [SourceFile(name="main.py", content="from lib.util import twice\nprint(twice(21))"),
             SourceFile(name="lib/util.py", content="def twice(x):\n    return 2 * x\n")]  # fmt: skip
    result = engine.run(RunRequest(runtime="python", files=files))
    assert result.status == "ok" and result.run.stdout == "42\n"


def test_c_sources_are_compiled_together(engine):
    from codering_x.models import RunRequest, SourceFile

    files = [SourceFile(name="main.c", content='#include <stdio.h>\nint f(void);\nint main(void){printf("%d\\n", f());}'),
             SourceFile(name="f.c", content="int f(void) { return 7; }\n")]  # fmt: skip
    result = engine.run(RunRequest(runtime="c", files=files))
    assert result.status == "ok" and result.run.stdout == "7\n"


def test_non_utf8_output_comes_back_base64(run):
    result = run("python", "import sys; sys.stdout.buffer.write(b'\\xff\\xfe ok')")
    assert result.run.encoding == "base64"
    import base64

    assert base64.b64decode(result.run.stdout) == b"\xff\xfe ok"


def test_tests_compare_modes_and_per_test_args(run):
    code = "import sys\nprint(float(input()) / 3, *sys.argv[1:])"
    tests = [
        {"stdin": "1\n", "expected_stdout": "0.333333 x", "compare": "float", "tolerance": 1e-5, "args": ["x"]},
        {"stdin": "3\n", "expected_stdout": "1.0 y\n", "compare": "exact", "args": ["y"]},
        {"stdin": "3\n", "expected_stdout": "1.0   z", "compare": "tokens", "args": ["z"]},
    ]
    result = run("python", code, tests=tests)
    assert [t.status for t in result.tests] == ["ok", "ok", "ok"] and result.status == "ok"


def test_java_code_is_saved_under_its_public_class(run):
    """Piston's own Java test program, and how most tutorials begin: `public class HelloWorld`
    sent as `code` must compile (javac demands HelloWorld.java) and run that class."""
    hello = 'public class HelloWorld {\n    public static void main(String[] args) {\n        System.out.println("OK");\n    }\n}\n'
    result = run("java", hello)
    assert result.status == "ok" and result.run.stdout == "OK\n", result
    plain = 'class Program {\n    public static void main(String[] a) { System.out.println("main"); }\n}\n'
    result = run("java", plain)  # no public class: saved as Main.java, and class Main is run
    assert result.status == "runtime_error" and "main class Main" in result.run.stderr, result


def test_files_keep_their_names_and_the_entry_is_the_runtimes_or_the_first(engine):
    from codering_x.models import RunRequest

    files = [
        {"name": "Helper.java", "content": "public class Helper { static String hi() { return \"helped\"; } }"},
        {"name": "App.java", "content": "public class App { public static void main(String[] a) {"
         " System.out.println(Helper.hi()); } }"},
    ]  # fmt: skip
    result = engine.run(RunRequest(runtime="java", files=files))
    assert result.status == "runtime_error"  # no Main.java: the first file, Helper, is the entry
    result = engine.run(RunRequest(runtime="java", files=files[::-1]))
    assert result.status == "ok" and result.run.stdout == "helped\n", result
