"""Hostile programs in every runtime they apply to, each with the one outcome that is correct.

Place-independent: the embedded tests (tests/test_attacks.py) run them through the engine, and
the same table can be sent as JSON to POST /v1/run of a server in a container. Every program
prints an exact marker (DENIED when the sandbox refused, OPEN / PLANTED / KILLED / the secret
when it did not), so each check is strict. "{port}" in `args` is a TCP port of the server's
that must stay unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from codering_x.models import RunResult

SECRET_MARK = "root:"  # begins the first line of /etc/shadow (mode 0640 root:shadow)


def planted_path(runtime: str) -> str:
    """Where the "plant" attack of `runtime` tries to create a file (Landlock must deny it)."""
    return f"/tmp/codering-planted-{runtime}"


@dataclass(frozen=True)
class Attack:
    name: str
    runtime: str
    code: str
    args: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)

    def check(self, result: RunResult) -> str | None:
        """None when the sandbox contained the attack, else what went wrong (with output excerpts)."""
        return EXPECTATIONS[self.name](self, result)


def request_body(attack: Attack, port: int) -> dict:
    """The JSON body of POST /v1/run for `attack`, with "{port}" filled in."""
    body = {
        "runtime": attack.runtime,
        "code": attack.code,
        "args": [a.replace("{port}", str(port)) for a in attack.args],
    }
    if attack.limits:
        body["limits"] = dict(attack.limits)
    return body


# C sources that g++ compiles too: the attack is the same system call either way.
C_NETWORK = r"""#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) printf("DENIED %s\n", strerror(errno));
    else puts("OPEN");
}
"""
C_READ_SECRET = r"""#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    FILE *f = fopen("/etc/shadow", "r");
    if (!f) { printf("DENIED %s\n", strerror(errno)); return 0; }
    for (int c; (c = fgetc(f)) != EOF;) putchar(c);
}
"""
C_PLANT = r"""#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    FILE *f = fopen("@FILE@", "w");
    if (!f) { printf("DENIED %s\n", strerror(errno)); return 0; }
    fputs("x", f);
    puts(fclose(f) == 0 ? "PLANTED" : "DENIED");
}
"""
C_ENVIRONMENT = r"""#include <stdio.h>
#include <string.h>
int main(int argc, char **argv, char **envp) {
    for (char **e = envp; *e; e++) printf("%.*s\n", (int)strcspn(*e, "="), *e);
}
"""
C_KILL_PARENT = r"""#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int pids[2] = {1, getppid()};
    for (int i = 0; i < 2; i++) {
        if (kill(pids[i], SIGKILL)) printf("DENIED %s\n", strerror(errno));
        else printf("KILLED %d\n", pids[i]);
    }
}
"""
C_INCLUDE_SECRET = '#include "/etc/shadow"\nint main() { return 0; }\n'

PROGRAMS: dict[str, dict[str, str]] = {
    # Connect to the server's port given as the first argument.
    "network": {
        "bash": 'if exec 3<>"/dev/tcp/127.0.0.1/$1"; then echo OPEN; else echo DENIED; fi\n',
        "c": C_NETWORK,
        "cpp": C_NETWORK,
        "go": r"""package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+os.Args[1], 2*time.Second)
	if err != nil {
		fmt.Println("DENIED", err)
		return
	}
	c.Close()
	fmt.Println("OPEN")
}
""",
        "java": r"""import java.net.*;

public class Main {
    public static void main(String[] args) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 2000);
            System.out.println("OPEN");
        } catch (Exception e) {
            System.out.println("DENIED " + e);
        }
    }
}
""",
        "javascript": r"""require("net")
  .connect(Number(process.argv[2]), "127.0.0.1")
  .on("connect", () => { console.log("OPEN"); process.exit(0); })
  .on("error", (e) => console.log("DENIED", e.code));
""",
        "php": r"""<?php
$s = @fsockopen("127.0.0.1", (int)$argv[1], $errno, $errstr, 2);
echo $s ? "OPEN\n" : "DENIED $errstr\n";
""",
        "python": r"""import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    print("OPEN")
except OSError as e:
    print("DENIED", e)
""",
        "ruby": r"""require "socket"
begin
  TCPSocket.new("127.0.0.1", ARGV[0].to_i)
  puts "OPEN"
rescue SystemCallError, IOError => e
  puts "DENIED #{e.message}"
end
""",
        "rust": r"""fn main() {
    let port = std::env::args().nth(1).unwrap();
    match std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
        Ok(_) => println!("OPEN"),
        Err(e) => println!("DENIED {e}"),
    }
}
""",
    },
    # Print /etc/shadow, or DENIED.
    "read_secret": {
        "bash": 'if s=$(cat /etc/shadow); then echo "$s"; else echo DENIED; fi\n',
        "c": C_READ_SECRET,
        "cpp": C_READ_SECRET,
        "go": r"""package main

import (
	"fmt"
	"os"
)

func main() {
	s, err := os.ReadFile("/etc/shadow")
	if err != nil {
		fmt.Println("DENIED", err)
		return
	}
	fmt.Print(string(s))
}
""",
        "java": r"""import java.nio.file.*;

public class Main {
    public static void main(String[] args) {
        try {
            System.out.print(Files.readString(Path.of("/etc/shadow")));
        } catch (Exception e) {
            System.out.println("DENIED " + e);
        }
    }
}
""",
        "javascript": r"""try {
  process.stdout.write(require("fs").readFileSync("/etc/shadow", "utf8"));
} catch (e) {
  console.log("DENIED", e.code);
}
""",
        "php": r"""<?php
$s = @file_get_contents("/etc/shadow");
echo $s === false ? "DENIED\n" : $s;
""",
        "python": r"""try:
    print(open("/etc/shadow").read())
except OSError as e:
    print("DENIED", e)
""",
        "ruby": r"""begin
  print File.read("/etc/shadow")
rescue SystemCallError => e
  puts "DENIED #{e.message}"
end
""",
        "rust": r"""fn main() {
    match std::fs::read_to_string("/etc/shadow") {
        Ok(s) => print!("{s}"),
        Err(e) => println!("DENIED {e}"),
    }
}
""",
    },
    # Create @FILE@ (planted_path) outside the work dir: PLANTED, or DENIED.
    "plant": {
        "bash": "if echo x > @FILE@; then echo PLANTED; else echo DENIED; fi\n",
        "c": C_PLANT,
        "cpp": C_PLANT,
        "go": r"""package main

import (
	"fmt"
	"os"
)

func main() {
	if err := os.WriteFile("@FILE@", []byte("x"), 0o644); err != nil {
		fmt.Println("DENIED", err)
		return
	}
	fmt.Println("PLANTED")
}
""",
        "java": r"""import java.nio.file.*;

public class Main {
    public static void main(String[] args) {
        try {
            Files.writeString(Path.of("@FILE@"), "x");
            System.out.println("PLANTED");
        } catch (Exception e) {
            System.out.println("DENIED " + e);
        }
    }
}
""",
        "javascript": r"""try {
  require("fs").writeFileSync("@FILE@", "x");
  console.log("PLANTED");
} catch (e) {
  console.log("DENIED", e.code);
}
""",
        "php": r"""<?php
echo @file_put_contents("@FILE@", "x") === false ? "DENIED\n" : "PLANTED\n";
""",
        "python": r"""try:
    open("@FILE@", "w").write("x")
    print("PLANTED")
except OSError as e:
    print("DENIED", e)
""",
        "ruby": r"""begin
  File.write("@FILE@", "x")
  puts "PLANTED"
rescue SystemCallError => e
  puts "DENIED #{e.message}"
end
""",
        "rust": r"""fn main() {
    match std::fs::write("@FILE@", "x") {
        Ok(()) => println!("PLANTED"),
        Err(e) => println!("DENIED {e}"),
    }
}
""",
    },
    # Print the name of every environment variable, one a line.
    "environment": {
        "bash": "compgen -e\n",
        "c": C_ENVIRONMENT,
        "cpp": C_ENVIRONMENT,
        "go": r"""package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	for _, kv := range os.Environ() {
		fmt.Println(strings.SplitN(kv, "=", 2)[0])
	}
}
""",
        "java": r"""public class Main {
    public static void main(String[] args) {
        System.getenv().keySet().forEach(System.out::println);
    }
}
""",
        "javascript": 'console.log(Object.keys(process.env).join("\\n"));\n',
        "php": '<?php\nforeach (array_keys(getenv()) as $name) echo "$name\\n";\n',
        "python": 'import os\nprint("\\n".join(os.environ))\n',
        "ruby": "puts ENV.keys\n",
        "rust": r"""fn main() {
    for (name, _) in std::env::vars_os() {
        println!("{}", name.to_string_lossy());
    }
}
""",
    },
    # SIGKILL pid 1, then the parent: DENIED for each refusal, KILLED <pid> when it was sent.
    "kill_parent": {
        "bash": 'for pid in 1 "$PPID"; do\n  if kill -9 "$pid"; then echo "KILLED $pid"; else echo DENIED; fi\ndone\n',
        "c": C_KILL_PARENT,
        "cpp": C_KILL_PARENT,
        "go": r"""package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	for _, pid := range []int{1, os.Getppid()} {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			fmt.Println("DENIED", err)
		} else {
			fmt.Println("KILLED", pid)
		}
	}
}
""",
        "java": r"""public class Main {
    public static void main(String[] args) {
        long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        for (long pid : new long[] {1, parent}) {
            boolean sent = ProcessHandle.of(pid).map(ProcessHandle::destroyForcibly).orElse(false);
            System.out.println(sent ? "KILLED " + pid : "DENIED");
        }
    }
}
""",
        "javascript": r"""for (const pid of [1, process.ppid]) {
  try {
    process.kill(pid, "SIGKILL");
    console.log("KILLED", pid);
  } catch (e) {
    console.log("DENIED", e.code);
  }
}
""",
        "php": r"""<?php
foreach ([1, posix_getppid()] as $pid) {
    echo posix_kill($pid, 9) ? "KILLED $pid\n" : "DENIED " . posix_strerror(posix_get_last_error()) . "\n";
}
""",
        "python": r"""import os, signal
for pid in (1, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
        print("KILLED", pid, flush=True)
    except OSError as e:
        print("DENIED", e, flush=True)
""",
        "ruby": r"""$stdout.sync = true
[1, Process.ppid].each do |pid|
  Process.kill(:KILL, pid)
  puts "KILLED #{pid}"
rescue SystemCallError => e
  puts "DENIED #{e.message}"
end
""",
        "rust": r"""extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

fn main() {
    for pid in [1, std::os::unix::process::parent_id() as i32] {
        if unsafe { kill(pid, 9) } == 0 {
            println!("KILLED {pid}");
        } else {
            println!("DENIED {}", std::io::Error::last_os_error());
        }
    }
}
""",
    },
    # Processes without end: the wall-time limit (or the process limit) must end the run.
    "fork_bomb": {
        "bash": ":(){ :|:& };:\n",
        "c": "#include <unistd.h>\nint main(void) { for (;;) fork(); }\n",
        "go": 'package main\n\nimport "os/exec"\n\nfunc main() {\n\tfor {\n\t\t_ = exec.Command("/proc/self/exe").Start()\n\t}\n}\n',
        "javascript": r"""const { spawn } = require("child_process");
for (;;) {
  try {
    spawn(process.execPath, [__filename], { stdio: "ignore" });
  } catch (e) {}
}
""",
        "python": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "ruby": "loop do\n  fork\nrescue SystemCallError\nend\n",
    },
    # Read the secret while compiling: the compiler must fail to open it.
    "compile_include": {
        "c": C_INCLUDE_SECRET,
        "cpp": C_INCLUDE_SECRET,
        "go": r"""package main

import (
	_ "embed"
	"fmt"
)

//go:embed ../../../../../../../../etc/shadow
var secret string

func main() { fmt.Print(secret) }
""",
        "rust": 'fn main() {\n    print!("{}", include_str!("/etc/shadow"));\n}\n',
    },
}

# sandbox.md §5 rows whose system call is the same in every runtime: one program each.
PROBE = """import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, call):
    ctypes.set_errno(0)
    try:
        result = call()
    except OSError as e:
        print("DENIED", name, errno.errorcode.get(e.errno))
        return
    if result == -1:
        print("DENIED", name, errno.errorcode.get(ctypes.get_errno()))
    else:
        print("ALLOWED", name)
"""
PROGRAMS["syscalls"] = {
    "python": PROBE
    + """attempt("io_uring_setup", lambda: libc.syscall(425, 8, ctypes.byref(ctypes.create_string_buffer(120))))
attempt("unshare_user", lambda: libc.unshare(0x10000000))
attempt("unshare_net", lambda: libc.unshare(0x40000000))
attempt("ptrace_parent", lambda: libc.ptrace(16, os.getppid(), 0, 0))
attempt("mount", lambda: libc.mount(b"none", b".", b"tmpfs", 0, None))
attempt("bpf", lambda: libc.syscall(321, 0, 0, 0))
attempt("process_vm_readv_parent", lambda: libc.syscall(310, os.getppid(), 0, 0, 0, 0, 0))
""",
}
PROGRAMS["escape_paths"] = {
    "python": PROBE
    + """def opener(path, mode="r"):
    return lambda: open(path, mode).close()
attempt("list_other_work_dirs", lambda: os.listdir(os.path.dirname(os.getcwd())))
attempt("lower_oom_score", lambda: open("/proc/self/oom_score_adj", "w").write("-500"))
attempt("plant_dev_shm", opener("/dev/shm/codering-planted", "w"))
attempt("plant_var_tmp", opener("/var/tmp/codering-planted", "w"))
attempt("parent_environ", opener(f"/proc/{os.getppid()}/environ"))
attempt("pid1_root", lambda: os.listdir("/proc/1/root/"))
os.symlink("/etc/shadow", "result.txt")
attempt("symlink_to_secret", opener("result.txt"))
attempt("hardlink_passwd", lambda: os.link("/etc/passwd", "pw"))
import fcntl, termios
attempt("tiocsti", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"x"))
""",
}
PROGRAMS["daemon"] = {
    # A setsid, double-forked daemon writing forever: gone when the run ends (the harness checks
    # for leftover processes); the run itself ends normally.
    "python": """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            open("beat", "a").write(".")
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.2)
print("DENIED nothing: parent done")
""",
}
PROGRAMS["int80"] = {
    # i386 socketcall through int 0x80, the classic seccomp bypass: killed with SIGSYS.
    "c": """int main(void) {
    long ret;
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(102), "b"(1), "c"(0) : "memory");
    return ret >= 0 ? 42 : 0;
}
""",
}

# Fillers (issue 18): each ends at the run's disk or inode limit, or is denied, and leaves
# the host's free space and inodes as they were.
C_DISK_FILL = r"""#include <stdio.h>
#include <string.h>
static char block[1 << 20];
int main(void) {
    memset(block, 'x', sizeof block);
    for (int i = 0;; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        FILE *f = fopen(name, "wb");
        if (!f) { perror("fopen"); return 1; }
        for (int j = 0; j < 15; j++)
            if (fwrite(block, 1, sizeof block, f) != sizeof block || fflush(f)) { perror("fwrite"); return 1; }
        fclose(f);
    }
}
"""
PROGRAMS["disk_fill"] = {
    "python": "i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * (8 << 20))\n    i += 1\n",
    "c": C_DISK_FILL,
    "javascript": "const fs = require('fs');\nconst block = Buffer.alloc(8 << 20, 120);\n"
    "for (let i = 0; ; i++) fs.writeFileSync('f' + i, block);\n",
}
PROGRAMS["tmpdir_fill"] = {
    "python": "import os, tempfile\nwhile True:\n"
    "    with tempfile.NamedTemporaryFile(dir=os.environ['TMPDIR'], delete=False) as f:\n"
    "        f.write(b'x' * (8 << 20))\n",
}
PROGRAMS["inode_files"] = {
    "python": "i = 0\nwhile True:\n    open(f'f{i}', 'w').close()\n    i += 1\n",
}
PROGRAMS["inode_dirs"] = {
    "bash": "seq -f d%g 200000 | xargs mkdir 2>/dev/null || exit 1\n",
}
PROGRAMS["many_writers"] = {
    # eight processes at once, each writing files of 15 MB (under the file size limit)
    "bash": 'for p in 1 2 3 4 5 6 7 8; do\n  (for j in $(seq 40); do head -c 15M /dev/zero > "w$p-$j" || exit 1; done) &\n'
    "done\nfailed=0\nfor job in $(jobs -p); do wait $job || failed=1; done\nexit $failed\n",
}
PROGRAMS["sparse"] = {
    # a thousand sparse files of 15 MB cost nothing; one of 1 TB passes the file size limit
    "python": "for i in range(1000):\n    open(f's{i}', 'wb').truncate(15 << 20)\n"
    "open('huge', 'wb').truncate(1 << 40)\n",
}
PROGRAMS["dev_shm_fill"] = {
    "python": "try:\n    f = open('/dev/shm/codering-fill', 'wb')\nexcept OSError as e:\n    print('DENIED', e)\n"
    "else:\n    while True:\n        f.write(b'x' * (8 << 20))\n",
}
FILLERS = {"disk_fill", "tmpdir_fill", "inode_files", "inode_dirs", "many_writers", "sparse", "dev_shm_fill"}

ARGS = {"network": ("{port}",)}
# The inode fillers get the maximum time: where boxes share a container's tmpfs they make
# 100,000 entries before it is full, not 10,000.
LIMITS = {
    "fork_bomb": {"wall_time_ms": 1500},
    "inode_files": {"cpu_time_ms": 10000, "wall_time_ms": 20000},
    "inode_dirs": {"cpu_time_ms": 10000, "wall_time_ms": 20000},
}


def _show(result: RunResult) -> str:
    stage = result.run or result.compile
    if stage is None:
        return f"status={result.status}"
    return (
        f"status={result.status} exit={stage.exit_code} signal={stage.signal} "
        f"stdout={stage.stdout[:400]!r} stderr={stage.stderr[:400]!r}"
    )


def _output(result: RunResult) -> str:
    return "".join(s.stdout + s.stderr for s in (result.compile, result.run) if s is not None)


def _denied(forbidden: str) -> Callable[[Attack, RunResult], str | None]:
    """The program ran normally, printed DENIED, and `forbidden` appears in none of its output."""

    def check(attack: Attack, result: RunResult) -> str | None:
        if result.status != "ok" or result.run is None:
            return f"expected a normal run, got {_show(result)}"
        if "DENIED" not in result.run.stdout:
            return f"no DENIED printed: {_show(result)}"
        if forbidden in _output(result):
            return f"{forbidden!r} in the output, the sandbox let it through: {_show(result)}"
        return None

    return check


def _clean_environment(attack: Attack, result: RunResult) -> str | None:
    if result.status != "ok" or result.run is None:
        return f"expected a normal run, got {_show(result)}"
    names = result.run.stdout.split()
    if "PATH" not in names:
        return f"no PATH listed, the listing did not work: {_show(result)}"
    leaked = [
        n for n in names if n.startswith(("CODERING_", "KUBERNETES_")) or n == "HOSTNAME" or "SECRET" in n.upper()
    ]
    return f"server variables leaked into the run: {leaked}" if leaked else None


def _both_kills_denied(attack: Attack, result: RunResult) -> str | None:
    lines = [line.split()[0] for line in (result.run.stdout if result.run else "").splitlines() if line.strip()]
    if result.status != "ok" or lines != ["DENIED", "DENIED"]:
        return f"expected SIGKILL to pid 1 and to the parent both refused (two DENIED lines): {_show(result)}"
    return None


def _ended_by_a_limit(attack: Attack, result: RunResult) -> str | None:
    allowed = {"time_limit", "runtime_error"} | ({"ok"} if attack.runtime == "bash" else set())
    return None if result.status in allowed else f"expected one of {sorted(allowed)}: {_show(result)}"


def _ended_at(limit: str) -> Callable[[Attack, RunResult], str | None]:
    """The run was stopped by `limit` (its status says so), and nothing else went wrong."""

    def check(attack: Attack, result: RunResult) -> str | None:
        if result.status != "output_limit" or result.run is None or result.run.limit != limit:
            return f"expected output_limit with limit={limit}: {_show(result)} limit={result.run and result.run.limit}"
        return None

    return check


def _compile_denied(attack: Attack, result: RunResult) -> str | None:
    if result.status != "compile_error" or result.compile is None:
        return f"expected a compile_error, got {_show(result)}"
    if SECRET_MARK in _output(result):
        return f"the secret's content reached the output: {_show(result)}"
    if "shadow" not in result.compile.stdout + result.compile.stderr:
        return f"the compiler did not fail on the secret: {_show(result)}"
    return None


def _killed_by_sigsys(attack: Attack, result: RunResult) -> str | None:
    if result.status == "runtime_error" and result.run is not None and result.run.signal == 31:
        return None
    return f"expected death by SIGSYS: {_show(result)}"


EXPECTATIONS: dict[str, Callable[[Attack, RunResult], str | None]] = {
    "syscalls": _denied("ALLOWED"),
    "escape_paths": _denied("ALLOWED"),
    "daemon": _denied("ALLOWED"),
    "int80": _killed_by_sigsys,
    "network": _denied("OPEN"),
    "read_secret": _denied(SECRET_MARK),
    "plant": _denied("PLANTED"),
    "environment": _clean_environment,
    "kill_parent": _both_kills_denied,
    "fork_bomb": _ended_by_a_limit,
    "compile_include": _compile_denied,
    "disk_fill": _ended_at("disk"),
    "tmpdir_fill": _ended_at("disk"),
    "inode_files": _ended_at("inodes"),
    "inode_dirs": _ended_at("inodes"),
    "many_writers": _ended_at("disk"),
    "sparse": _ended_at("file_size"),
    "dev_shm_fill": _denied("Traceback"),
}

ATTACKS: list[Attack] = [
    Attack(
        name=name,
        runtime=runtime,
        code=code.replace("@FILE@", planted_path(runtime)),
        args=ARGS.get(name, ()),
        limits=LIMITS.get(name, {}),
    )
    for name, programs in PROGRAMS.items()
    for runtime, code in sorted(programs.items())
]
