"""Hostile programs (sandbox.md §5) beyond the cross-runtime table of tests/attacks.py: each
gets the right outcome, leaves no process of a sandbox uid behind, and the next run works."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codering_x.catalogue import Catalogue

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.fixture(autouse=True)
def next_run_works(run):
    yield
    result = run("python", "print('still fine')")
    assert result.status == "ok" and result.run.stdout == "still fine\n"


def test_fork_bomb(run):
    result = run(
        "python", "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", limits={"wall_time_ms": 1500}
    )
    assert result.status in ("time_limit", "runtime_error")


def test_bash_fork_bomb(run):
    result = run("bash", ":(){ :|:& };:", limits={"wall_time_ms": 1500})
    assert result.status in ("time_limit", "runtime_error", "ok")


def test_double_fork_daemon_dies_with_the_run(run, engine):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            with open('beat', 'a') as f: f.write('.')\n"
        "            time.sleep(0.05)\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\nprint('parent done')"
    )
    result = run("python", code)
    assert result.status == "ok" and result.run.stdout == "parent done\n"


def test_daemon_holding_stdout_does_not_block_the_answer(run):
    result = run("bash", "(setsid sleep 30 &) ; echo main done", limits={"wall_time_ms": 5000})
    assert result.status == "ok" and result.run.stdout == "main done\n"
    assert result.run.wall_time_ms < 2000


def test_stopped_children_are_killed(run):
    code = "import os, signal\nfor _ in range(3):\n    if os.fork() == 0:\n        os.kill(os.getpid(), signal.SIGSTOP)\nprint('ok')"
    assert run("python", code).status == "ok"


def test_unreaped_zombies_are_cleaned_up(run):
    code = "import os\nfor _ in range(5):\n    if os.fork() == 0: os._exit(0)\nimport time; time.sleep(0.1); print('left zombies')"
    assert run("python", code).run.stdout == "left zombies\n"


def test_non_dumpable_daemon_cannot_hide_from_the_sweep(run):
    code = (
        "import ctypes, os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid(); ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n"
        "    time.sleep(30)\n"
        "print('ok')"
    )
    assert run("python", code).status == "ok"


NETWORK_ATTEMPTS = {
    "tcp to the server": "socket.create_connection(('127.0.0.1', PORT), timeout=1)",
    "tcp6": "socket.socket(socket.AF_INET6, socket.SOCK_STREAM)",
    "udp": "socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
    "raw packet": "socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    "netlink": "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)",
}


@pytest.mark.parametrize("attempt", sorted(NETWORK_ATTEMPTS))
def test_python_network_is_denied(run, listener, attempt):
    port = listener.getsockname()[1]
    code = f"import socket\nPORT = {port}\ntry:\n    {NETWORK_ATTEMPTS[attempt]}\n    print('OPEN')\nexcept OSError as e:\n    print('DENIED', e.errno)"
    result = run("python", code)
    assert result.run.stdout.startswith("DENIED 13"), result.run.stdout + result.run.stderr


def test_node_network_is_denied(run, listener):
    port = listener.getsockname()[1]
    code = f"require('net').connect({port}, '127.0.0.1').on('connect', () => console.log('OPEN')).on('error', e => console.log('DENIED', e.code));"
    assert run("javascript", code).run.stdout.strip() == "DENIED EACCES"


def test_bash_dev_tcp_is_denied(run, listener):
    port = listener.getsockname()[1]
    result = run("bash", f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo OPEN || echo DENIED")
    assert "DENIED" in result.run.stdout and "OPEN" not in result.run.stdout


def test_32_bit_syscall_abi_is_killed(run):
    code = (
        "int main(void) {\n long ret;\n"
        "  /* i386 socketcall(SYS_SOCKET, ...) through int 0x80: the classic seccomp bypass */\n"
        '  __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(102), "b"(1), "c"(0) : "memory");\n'
        "  return ret >= 0 ? 42 : 0;\n}\n"
    )
    result = run("c", code)
    assert result.status == "runtime_error" and result.run.signal == 31  # SIGSYS


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("libc.syscall(425, 8, ctypes.byref(ctypes.create_string_buffer(120)))", "ENOSYS"),  # io_uring_setup
        ("libc.unshare(0x10000000)", "EPERM"),  # CLONE_NEWUSER
        ("libc.unshare(0x40000000)", "EPERM"),  # CLONE_NEWNET
        ("libc.ptrace(16, os.getppid(), 0, 0)", "EPERM"),  # PTRACE_ATTACH the supervisor
        ("libc.mount(b'none', b'.', b'tmpfs', 0, None)", "EPERM"),
        ("libc.syscall(321, 0, 0, 0)", "EPERM"),  # bpf
    ],
)
def test_dangerous_syscalls_are_denied(run, call, expected):
    code = f"import ctypes, errno, os\nlibc = ctypes.CDLL(None, use_errno=True)\nr = {call}\nprint(r, errno.errorcode.get(ctypes.get_errno()))"
    assert run("python", code).run.stdout.split() == ["-1", expected]


def test_server_secret_is_unreadable(run, engine):
    secret = engine.sandbox.root / "test-secret"
    secret.write_text("top secret")
    secret.chmod(0o600)
    try:
        result = run("python", f"print(open({str(secret)!r}).read())")
    finally:
        secret.unlink()
    assert result.status == "runtime_error" and "top secret" not in result.run.stdout
    assert "Permission denied" in result.run.stderr


def test_server_source_and_config_are_unreadable(run):
    import codering_x.engine

    source = Path(codering_x.engine.__file__).resolve()
    assert source.stat().st_mode & stat.S_IROTH  # world-readable on disk: only Landlock stops it
    result = run("python", f"print(len(open({str(source)!r}).read()))")
    assert "Permission denied" in result.run.stderr


@pytest.mark.parametrize("place", ["/tmp", "/dev/shm", "/var/tmp", "/run/lock"])
def test_files_cannot_be_planted_outside_the_work_dir(run, place):
    if not os.path.isdir(place):
        pytest.fail(f"{place} missing on this host")
    name = f"{place}/codering-planted"
    result = run("python", f"open({name!r}, 'w').write('x')")
    assert result.status == "runtime_error" and not os.path.exists(name)


def test_other_work_dirs_are_invisible(run, engine):
    result = run("python", f"import os\nprint(os.listdir({str(engine.sandbox.boxes)!r}))")
    assert "Permission denied" in result.run.stderr


def test_symlinks_out_of_the_work_dir_lead_nowhere(run):
    code = (
        "import os\n"
        "os.symlink('/etc', 'etc_link')\nos.symlink('/etc/shadow', 'result.txt')\n"
        "for p in ('etc_link/hostname', 'result.txt'):\n"
        "    try:\n        open(p).read(); print('READ', p)\n"
        "    except OSError as e:\n        print('DENIED', e.errno)\n"
        "try:\n    os.link('/etc/passwd', 'pw')\n    print('LINKED')\nexcept OSError as e:\n    print('NOLINK', e.errno)"
    )
    result = run("python", code)
    # /etc itself is readable (it holds the toolchains' config); the point is that the
    # server never follows the links: /etc survives the work dir's removal, shadow stays shut.
    assert "DENIED 13" in result.run.stdout and "LINKED" not in result.run.stdout
    assert os.path.exists("/etc/hostname") and os.path.exists("/etc/passwd")


def test_kill_of_every_process_reaches_none_but_the_run(run):
    """kill(-1) as the sandbox uid: Landlock's signal scope leaves only the run's own domain
    (and kill(-1) never signals the caller), so the worker, the helper and other runs live."""
    result = run("python", "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('survived')")
    assert result.status == "ok" and result.run.stdout == "survived\n"


def test_environment_holds_nothing_of_the_server(run):
    os.environ["CODERING_TEST_SECRET"] = "hunter2"
    try:
        result = run("python", "import os\nprint(sorted(os.environ))")
    finally:
        del os.environ["CODERING_TEST_SECRET"]
    # the sandbox's four, then what runtimes/python/runtime.yaml sets: nothing of the server's
    runtime_env = Catalogue.load().get("python").env
    assert set(runtime_env) == {"PYTHONDONTWRITEBYTECODE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}
    assert result.run.stdout.strip() == str(sorted(["HOME", "LANG", "PATH", "TMPDIR", *runtime_env]))


def test_oom_score_cannot_be_lowered(run):
    result = run("python", "open('/proc/self/oom_score_adj', 'w').write('-500')")
    assert result.status == "runtime_error" and "Permission denied" in result.run.stderr


def test_no_tty_to_inject_into(run):
    code = "import fcntl, termios\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x')\nexcept OSError as e:\n    print('DENIED', e.errno)"
    assert run("python", code).run.stdout.startswith("DENIED")


def test_segfault_leaves_no_core_file(run):
    code = '#include <stdio.h>\nint main(void) { FILE *f = fopen("probe", "w"); fclose(f); volatile int *p = 0; return *p; }\n'
    result = run("c", code)
    assert result.status == "runtime_error" and result.run.signal == 11
