"""Prewarmed compile and run stages: the warm javac compiles as a cold `javac` does, and a
stage exec'd by a waiting sandbox (`sbexec -A`) sees what a cold start sees.

Each program runs on the session's engine (prewarmed members, every stage) and on a cold
engine over the same sandbox (no members, no compile cache); every observable must match.
A comment with a fresh token ends each source, so the warm engine's compile cache never
answers in place of its javac member.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from codering_x.engine import Engine
from codering_x.models import RunRequest, RunResult
from codering_x.warmpool import WarmPool
from tests.test_prewarm import mask, wait_for_members

pytestmark = pytest.mark.usefixtures("no_leftovers")

MAIN = "public class Main {{ public static void main(String[] args) throws Exception {{ {} }} }}\n"

# name → files (name → source), stdin, args: compile errors, warnings, exceptions, exits, ...
JAVA: dict[str, tuple[dict[str, str], str, list[str]]] = {
    "hello": ({"Main.java": MAIN.format('System.out.println("hello");')}, "", []),
    "type error, its line and caret": (
        {"Main.java": 'public class Main {\n  public static void main(String[] a) {\n    int x = "s";\n  }\n}\n'},
        "",
        [],
    ),
    "syntax error": ({"Main.java": "public class Main {\n  void f() { int x = 1 }\n}\n"}, "", []),
    "several errors": (
        {
            "Main.java": "public class Main {\n  void f() { undefined(); }\n  void g() { Missing m; }\n"
            "  int h() { }\n}\n"
        },
        "",
        [],
    ),
    "unchecked note": (
        {
            "Main.java": "import java.util.*;\npublic class Main {\n  public static void main(String[] a) {\n"
            "    List l = new ArrayList(); l.add(1); List<String> s = l; System.out.println(l);\n  }\n}\n"
        },
        "",
        [],
    ),
    "deprecation note": ({"Main.java": MAIN.format("System.out.println(new Integer(5));")}, "", []),
    "uncaught exception and its trace": (
        {
            "Main.java": "public class Main {\n  static void f(int n) { if (n == 0) throw new IllegalStateException"
            '("boom"); f(n - 1); }\n  public static void main(String[] a) { f(3); }\n}\n'
        },
        "",
        [],
    ),
    "System.exit after output": ({"Main.java": MAIN.format('System.out.print("bye"); System.exit(7);')}, "", []),
    "stdin and args": (
        {
            "Main.java": MAIN.format(
                'var in = new java.util.Scanner(System.in); System.out.println(String.join("|", args) + " " '
                '+ in.nextLine() + " " + in.nextInt() * 2);'
            )
        },
        "first line\n21\n",
        ["a", "", "b c"],
    ),
    "classes in one file": (
        {
            "Main.java": "class Helper { static int twice(int x) { return 2 * x; } }\n"
            + MAIN.format("System.out.println(Helper.twice(21));")
        },
        "",
        [],
    ),
    "classes in two files": (
        {
            "Main.java": MAIN.format('System.out.println(Util.greet("files"));'),
            "Util.java": 'public class Util { static String greet(String s) { return "hi " + s; } }\n',
        },
        "",
        [],
    ),
    "a package": (
        {
            "Main.java": "import util.Greet;\n" + MAIN.format("System.out.println(Greet.hello());"),
            "util/Greet.java": 'package util;\npublic class Greet { public static String hello() { return "pkg"; } }\n',
        },
        "",
        [],
    ),
    "an error in a package": (
        {
            "Main.java": "import util.Greet;\n" + MAIN.format("System.out.println(Greet.hello());"),
            "util/Greet.java": "package util;\npublic class Greet {\n  static String hello() { return 1; }\n}\n",
        },
        "",
        [],
    ),
    "a class named for its file": (
        {
            "HelloWorld.java": "public class HelloWorld {\n  public static void main(String[] a) {\n"
            '    System.out.println("named");\n  }\n}\n'
        },
        "",
        [],
    ),
    "wrong file for a public class": ({"Main.java": "public class Other { }\n"}, "", []),
    "unicode, in source and out": (
        {"Main.java": MAIN.format('String ünï = "héllo, 世界"; System.out.println(ünï); int 变量 = "x";')},
        "",
        [],
    ),
    "stderr and stdout": ({"Main.java": MAIN.format('System.out.println("out"); System.err.println("err");')}, "", []),
    "a record and a switch": (
        {
            "Main.java": "public class Main {\n  record P(int x, int y) {}\n  public static void main(String[] a) {\n"
            '    var p = new P(1, 2);\n    System.out.println(switch (p.x()) { case 1 -> "one"; default -> "?"; }'
            " + p);\n  }\n}\n"
        },
        "",
        [],
    ),
    "properties it sees": (
        {
            "Main.java": MAIN.format(
                'for (String k : new String[] {"java.class.path", "user.dir", "user.home", "java.io.tmpdir", '
                '"file.encoding", "sun.jnu.encoding", "application.home", "env.class.path"}) '
                'System.out.println(k + "=" + System.getProperty(k));'
            )
        },
        "",
        [],
    ),
}


def fresh(files: dict[str, str]) -> list[dict[str, str]]:
    token = f"\n// {uuid.uuid4()}\n"
    return [{"name": name, "content": source + token} for name, source in files.items()]


def observable(result: RunResult) -> tuple:
    """Both stages as a learner sees them, the box's path masked."""
    stages = [s for s in (result.compile, result.run) if s is not None]
    return result.status, *[(s.status, s.exit_code, s.signal, mask(s.stdout), mask(s.stderr)) for s in stages]


@pytest.fixture(scope="module")
def uncached(engine: Engine) -> Engine:
    """Every stage cold, every compile run: the reference."""
    return Engine(engine.catalogue, engine.sandbox, self_test=False)


@pytest.mark.parametrize("name", list(JAVA))
def test_the_warm_javac_compiles_as_a_cold_javac(engine: Engine, uncached: Engine, name: str):
    files, stdin, args = JAVA[name]
    request = RunRequest(runtime="java", files=fresh(files), stdin=stdin, args=args)
    wait_for_members(engine, "java")
    hits = engine.warm.hits
    warm = engine.run(request)
    assert engine.warm.hits >= hits + 1 and warm.compile is not None and not warm.compile.cached
    cold = uncached.run(request)
    assert observable(warm) == observable(cold)
    if name == "type error, its line and caret":  # the comparison is not of two empty answers
        assert warm.status == "compile_error" and "Main.java:3: error: incompatible types" in warm.compile.stderr


# What a program can see of how it was started: dispositions, mask, fds, limits, ids, env.
C_PROBE = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/resource.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (int s = 1; s < 32; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) printf("signal %d not default\n", s);
    }
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    for (int s = 1; s < 65; s++) if (sigismember(&mask, s)) printf("signal %d blocked\n", s);
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; (e = readdir(d));) if (e->d_name[0] != '.') printf("fd %s\n", e->d_name);
    int resources[] = {RLIMIT_CPU, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_NPROC,
                       RLIMIT_CORE, RLIMIT_AS, RLIMIT_MEMLOCK};
    for (unsigned i = 0; i < sizeof resources / sizeof *resources; i++) {
        struct rlimit rl;
        getrlimit(resources[i], &rl);
        printf("rlimit %d %llu %llu\n", resources[i], (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    }
    printf("ids %d %d sid=%d pgid=%d\n", getuid() == geteuid(), getgid() == getegid(), getsid(0) == getpid(),
           getpgid(0) == getpid());
    printf("umask %o\n", umask(0));
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    char cwd[4096];
    printf("cwd %s\n", getcwd(cwd, sizeof cwd));
    int c, n = 0;
    while ((c = getchar()) != EOF) n++;
    printf("stdin %d bytes\n", n);
    return 0;
}
"""

BASH_PROBE = 'trap -p\nulimit -a\nls /proc/self/fd\nenv | sort\npwd\necho "$0" "$@"\nwc -c\n'


@pytest.mark.parametrize(("runtime", "code"), [("c", C_PROBE), ("bash", BASH_PROBE)])
def test_an_exec_member_starts_the_program_as_a_cold_start_does(
    engine: Engine, uncached: Engine, runtime: str, code: str
):
    request = RunRequest(runtime=runtime, code=code + f"\n// {uuid.uuid4()}\n" * (runtime == "c"),
                         stdin="x" * 70000, args=["one", "", "two words"])  # fmt: skip
    wait_for_members(engine, runtime)
    hits = engine.warm.hits
    warm = engine.run(request)
    assert engine.warm.hits == hits + (2 if runtime == "c" else 1), "not on members"
    cold = uncached.run(request)
    assert warm.status == "ok", warm
    assert observable(warm) == observable(cold)
    assert "stdin 70000 bytes" in warm.run.stdout or "70000" in warm.run.stdout


def test_a_dropped_member_leaves_nothing(engine: Engine):
    """A member that never got its request (the pool closed) ends, and its box goes."""
    slot = ("c", "run")
    pool = WarmPool(engine.sandbox, engine.catalogue, {slot: 1}, {slot: engine.warm.limits[slot]})
    try:
        deadline = time.monotonic() + 30
        while pool.ready()[("c", "run")] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (member,) = pool.members[("c", "run")]
        workdir, payload = member.box.workdir, member.spawned.payload_pid()
    finally:
        pool.close()
    assert payload is not None and not os.path.exists(f"/proc/{payload}") and not workdir.exists()


def test_interpreters_get_a_member_per_run_slot_and_other_stages_fewer(engine: Engine):
    """A worker with 4 run slots: 4 x prewarm python members, but `prewarm` of each other
    stage (a uid and, for javac, a JVM each: they save less than an interpreter's start)."""
    sized = Engine(engine.catalogue, engine.sandbox, self_test=False, prewarm=8, prewarm_stages=2,
                   runtimes=["python", "c"])  # fmt: skip
    try:
        assert sized.warm is not None
        assert sized.warm.sizes == {("python", "run"): 8, ("c", "run"): 2, ("c", "compile"): 2}
    finally:
        sized.warm.close()
