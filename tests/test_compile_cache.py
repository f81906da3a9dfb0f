"""The compile cache: the same sources compile once per worker; a hit runs exactly what the
first compile produced, whatever a run did to its own box since; errors are cached too."""

from __future__ import annotations

import os

import pytest

from codering_x.compile_cache import Artifact, CompileCache, Compiled, collect_artifacts
from codering_x.engine import Engine
from codering_x.models import RunRequest, StageResult

pytestmark = pytest.mark.usefixtures("no_leftovers")

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
# Plants a file, and swaps its own binary for a script, then says what it found.
TAMPER_C = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
int main(void) {
    printf("original, planted %s\n", access("planted", F_OK) == 0 ? "present" : "absent");
    FILE *f = fopen("planted", "w"); fputs("x", f); fclose(f);
    unlink("main");
    f = fopen("main", "w"); fputs("#!/bin/sh\necho tampered\n", f); fclose(f);
    chmod("main", 0755);
    return 0;
}
"""


@pytest.fixture(scope="module")
def cached(engine: Engine) -> Engine:
    """The session's sandbox, with a compile cache of its own."""
    return Engine(engine.catalogue, engine.sandbox, self_test=False, compile_cache_mb=64)


def test_the_same_source_compiles_once(cached: Engine):
    first = cached.run(RunRequest(runtime="c", code=HELLO_C))
    again = cached.run(RunRequest(runtime="c", code=HELLO_C, stdin="ignored"))
    assert (first.status, first.compile.cached, first.run.stdout) == ("ok", False, "hello\n")
    assert (again.status, again.compile.cached, again.run.stdout) == ("ok", True, "hello\n")
    assert again.compile.wall_time_ms == first.compile.wall_time_ms  # that compile's, as documented


def test_a_compile_error_is_cached_with_its_diagnostics(cached: Engine):
    request = RunRequest(runtime="cpp", code="int main() { return missing; }\n")
    first, again = cached.run(request), cached.run(request)
    assert (first.status, again.status) == ("compile_error", "compile_error")
    assert (first.compile.cached, again.compile.cached) == (False, True)
    assert "missing" in again.compile.stderr and again.compile.stderr == first.compile.stderr
    assert again.run is None


def test_a_run_cannot_change_what_is_cached(cached: Engine):
    results = [cached.run(RunRequest(runtime="c", code=TAMPER_C)) for _ in range(3)]
    assert [r.run.stdout for r in results] == ["original, planted absent\n"] * 3
    assert [r.compile.cached for r in results] == [False, True, True]


@pytest.mark.parametrize(
    "change",
    [
        {"code": HELLO_C.replace("hello", "hullo")},  # another source
        {"files": [{"name": "other.c", "content": HELLO_C}]},  # another name
    ],
)
def test_anything_else_compiles_anew(cached: Engine, change: dict):
    cached.run(RunRequest(runtime="c", code=HELLO_C))
    result = cached.run(RunRequest(runtime="c", **change))
    assert result.status == "ok" and result.compile.cached is False


def test_java_classes_in_packages_are_cached_whole(cached: Engine):
    files = [
        {"name": "Main.java", "content": "import util.Greet;\npublic class Main { public static void main(String[] a) "
         "{ System.out.println(Greet.hello()); } }\n"},
        {"name": "util/Greet.java", "content": "package util;\npublic class Greet { public static String hello() "
         "{ return \"hi from a package\"; } }\n"},
    ]  # fmt: skip
    first = cached.run(RunRequest(runtime="java", files=files))
    again = cached.run(RunRequest(runtime="java", files=files))
    assert (first.run.stdout, again.run.stdout) == ("hi from a package\n", "hi from a package\n")
    assert (first.compile.cached, again.compile.cached) == (False, True)


def test_go_keeps_its_binary_and_not_its_build_cache(cached: Engine):
    code = 'package main\nimport "fmt"\nfunc main() { fmt.Println("go again") }\n'
    first = cached.run(RunRequest(runtime="go", code=code))
    again = cached.run(RunRequest(runtime="go", code=code))
    assert (first.run.stdout, again.run.stdout, again.compile.cached) == ("go again\n", "go again\n", True)
    assert cached.compile_cache is not None and cached.compile_cache._bytes < 8 << 20  # no .cache/go-build


# -- its parts, on their own ---------------------------------------------------------------
def test_artifacts_are_new_regular_files_outside_dot_directories(tmp_path):
    (tmp_path / "main.c").write_text("source")
    (tmp_path / "main").write_bytes(b"\x7fELF")
    os.chmod(tmp_path / "main", 0o755)
    (tmp_path / ".cache" / "go-build").mkdir(parents=True)
    (tmp_path / ".cache" / "go-build" / "big").write_bytes(b"x" * 1000)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "A.class").write_bytes(b"class")
    os.symlink("/etc/shadow", tmp_path / "link")
    found = collect_artifacts(tmp_path, {"main.c"}, max_bytes=100)
    assert found == (Artifact("main", b"\x7fELF", 0o755), Artifact("pkg/A.class", b"class", 0o644))
    assert collect_artifacts(tmp_path, {"main.c"}, max_bytes=5) is None  # too large: not cached


def test_the_least_recently_used_goes_first_and_the_bound_holds():
    def entry(size: int) -> Compiled:
        return Compiled(StageResult(status="ok"), (Artifact("main", b"x" * size, 0o755),))

    cache = CompileCache(max_bytes=3 * (1000 + 512))
    for key in "abc":
        cache.put(key, entry(1000))
    assert cache.get("a") is not None  # now the most recent
    cache.put("d", entry(1000))
    assert cache.get("b") is None and all(cache.get(k) for k in "acd")
    cache.put("huge", entry(10_000))  # larger than the cache: never kept
    assert cache.get("huge") is None


def test_the_key_tells_file_sets_apart():
    assert CompileCache.key(["c"], [("ab", b"c")]) != CompileCache.key(["c"], [("a", b"bc")])
    assert CompileCache.key(["c"], [("a", b"1"), ("b", b"2")]) == CompileCache.key(["c"], [("b", b"2"), ("a", b"1")])


def test_the_dispatcher_counts_hits_and_misses(procs):
    import json
    import urllib.request

    serve = procs.dispatcher([procs.worker("c", name="c-1")])  # one worker: the second send hits
    body = json.dumps({"runtime": "c", "code": HELLO_C}).encode()
    answers = []
    for _ in range(2):
        request = urllib.request.Request(serve.url + "/v1/run", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            answers.append(json.loads(response.read()))
    assert [a["compile"]["cached"] for a in answers] == [False, True]
    with urllib.request.urlopen(serve.url + "/metrics") as response:
        text = response.read().decode()
    assert 'codering_compile_cache_total{result="hit",runtime="c"} 1.0' in text
    assert 'codering_compile_cache_total{result="miss",runtime="c"} 1.0' in text
