#!/usr/bin/env python3
"""Cold start vs prewarmed interpreter: byte-for-byte equivalence check.

Standalone script (deliberately not named ``test_*``; pytest does not collect
it).  Run it with::

    .venv/bin/python tests/prewarm_equivalence.py [--runs 20] [--only node,ruby,php]
                                                  [--program NAME] [--show-diff]
                                                  [--no-timing]

For every runtime (javascript / ruby / php) and every learner program below it
runs

* the cold command, e.g. ``node --max-old-space-size=N main.js a b``, and
* the prewarm command (``codering_x/prewarm/<runtime>``'s bootstrap passed as
  one argv element), which gets ``header + stdin`` on its stdin,

each in a fresh temporary directory (cwd) holding the learner's files, with the
same clean environment, arguments and stdin.  stdout, stderr and the exit code
are compared after the temporary directory's path is replaced by ``<DIR>``.

Programs marked ``known`` exercise a difference that is documented as
unavoidable in the bootstrap's header comment: they are run and reported
("known diff"), but do not make the script fail.  Any other mismatch makes it
exit with status 1.

It also prints, per runtime, the median wall time of N cold "hello world" runs
versus the time from writing the header to exit of an already started
prewarmed process (started, left alone for 0.3 s, then timed).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREWARM_DIR = ROOT / "codering_x" / "prewarm"
HEAP_MB = 256
TIMEOUT = 30

PREWARM_COMMANDS: dict[str, list[str]] = {
    # {bootstrap}: the whole bootstrap file as ONE argv element.
    "javascript": ["node", "--max-old-space-size={heap_mb}", "-e", "{bootstrap}"],
    "ruby": ["ruby", "-e", "{bootstrap}"],
    "php": ["php", "-d", "memory_limit={heap_mb}M", "-r", "{bootstrap}"],
}
COLD_COMMANDS: dict[str, list[str]] = {
    "javascript": ["node", "--max-old-space-size={heap_mb}", "{entry}"],
    "ruby": ["ruby", "{entry}"],
    "php": ["php", "-d", "memory_limit={heap_mb}M", "{entry}"],
}
BOOTSTRAP_FILES = {"javascript": "javascript.js", "ruby": "ruby.rb", "php": "php.php"}


def bootstrap_text(runtime: str) -> str:
    return (PREWARM_DIR / BOOTSTRAP_FILES[runtime]).read_text()


def cold_command(runtime: str, entry: str, args: list[str]) -> list[str]:
    return [
        part.replace("{heap_mb}", str(HEAP_MB)).replace("{entry}", entry) for part in COLD_COMMANDS[runtime]
    ] + list(args)


def prewarm_command(runtime: str) -> list[str]:
    cmd = []
    for part in PREWARM_COMMANDS[runtime]:
        if part == "{bootstrap}":
            cmd.append(bootstrap_text(runtime))
        else:
            cmd.append(part.replace("{heap_mb}", str(HEAP_MB)))
    return cmd


def header(entry: str, args: list[str]) -> bytes:
    body = "\0".join([entry, *args]).encode()
    return str(len(body)).encode() + b"\n" + body


def clean_env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


@dataclass
class Program:
    name: str
    files: dict[str, str]
    entry: str = ""
    args: list[str] = field(default_factory=list)
    stdin: bytes = b""
    known: str = ""  # non-empty: documented unavoidable difference (reason)
    raw_stdin: bytes | None = None  # protocol tests: bytes sent instead of header+stdin
    expect_rc: int | None = None  # protocol tests: expected exit code (no cold run)


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    rc: int


def normalise(data: bytes, workdir: str) -> bytes:
    for path in {workdir, os.path.realpath(workdir)}:
        data = data.replace(path.encode(), b"<DIR>")
    data = re.sub(rb"\((node|ruby):\d+\)", rb"(\1:<PID>)", data)
    return data


def make_dir(prog: Program) -> str:
    workdir = tempfile.mkdtemp(prefix="cxpw-")
    for name, text in prog.files.items():
        p = Path(workdir, name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return workdir


def run_cold(runtime: str, prog: Program) -> Result:
    workdir = make_dir(prog)
    try:
        proc = subprocess.run(
            cold_command(runtime, prog.entry, prog.args),
            cwd=workdir,
            env=clean_env(workdir),
            input=prog.stdin,
            capture_output=True,
            timeout=TIMEOUT,
        )
        return Result(normalise(proc.stdout, workdir), normalise(proc.stderr, workdir), proc.returncode)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_prewarm(runtime: str, prog: Program, settle: float = 0.05) -> Result:
    workdir = make_dir(prog)
    try:
        proc = subprocess.Popen(
            prewarm_command(runtime),
            cwd=workdir,
            env=clean_env(workdir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(settle)  # let it reach the blocking header read
        data = prog.raw_stdin if prog.raw_stdin is not None else header(prog.entry, prog.args) + prog.stdin
        # Two writes, so the bootstrap has to cope with a header split over reads.
        assert proc.stdin is not None
        try:
            proc.stdin.write(data[:2])
            proc.stdin.flush()
            time.sleep(0.01)
        except BrokenPipeError:
            pass
        out, err = proc.communicate(data[2:], timeout=TIMEOUT)
        return Result(normalise(out, workdir), normalise(err, workdir), proc.returncode)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# Learner programs
# --------------------------------------------------------------------------

BIG_STDIN = b"".join(b"%06d some learner input line\n" % i for i in range(8000))  # ~270 KB

JS: list[Program] = [
    Program("hello", {"main.js": 'console.log("Hello, world!");\n'}),
    Program(
        "stdin_all",
        {
            "main.js": (
                "const data = require('fs').readFileSync(0, 'utf8');\n"
                "console.log(JSON.stringify(data), data.length);\n"
                "console.log(data.split('\\n').map(l => l.toUpperCase()).join('|'));\n"
            )
        },
        stdin=b"line one\nline two\n\xc3\xa9t\xc3\xa9\nno newline at end",
    ),
    Program(
        "stdin_stream",
        {
            "main.js": (
                "let s = '';\n"
                "process.stdin.setEncoding('utf8');\n"
                "process.stdin.on('data', c => s += c);\n"
                "process.stdin.on('end', () => console.log(JSON.stringify(s), process.stdin.isTTY));\n"
            )
        },
        stdin=b"3 4\n5 6\n",
    ),
    Program(
        "stdin_big",
        {
            "main.js": (
                "const d = require('fs').readFileSync(0);\n"
                "console.log(d.length, d.subarray(0, 40).toString(), require('crypto').createHash('sha256').update(d).digest('hex'));\n"
            )
        },
        stdin=BIG_STDIN,
    ),
    Program(
        "argv",
        {"main.js": ("console.log(JSON.stringify(process.argv.slice(2)), process.argv.length);\n")},
        args=["a", "", "b c", "--flag", "-x", "\u00e9\u00e8", "*"],
    ),
    Program(
        "identity",
        {
            "main.js": (
                "console.log(process.argv[1], __filename, __dirname);\n"
                "console.log(require.main === module, process.mainModule === module, module.id, module.parent, module.loaded);\n"
                "console.log(JSON.stringify(process.execArgv), process.argv0, process.title, process.execPath);\n"
                "console.log(module.paths.join(':'), require.resolve('./main'));\n"
                "console.log(typeof require, typeof exports, exports === module.exports, this === module.exports);\n"
                "console.log(process.cwd(), '_eval' in process, process.argv.length);\n"
            )
        },
        args=["x"],
    ),
    Program(
        "require_util",
        {
            "main.js": (
                "const util = require('./util');\n"
                "const again = require('./util.js');\n"
                "console.log(util.add(2, 3), util === again, util.where);\n"
                "console.log(JSON.stringify(Object.keys(require.cache)));\n"
                "console.log(module.children.map(m => m.id), require.cache[require.resolve('./util')].parent === module);\n"
            ),
            "util.js": (
                "exports.add = (a, b) => a + b;\n"
                "exports.where = [__filename, require.main === module, module.parent && module.parent.id];\n"
            ),
        },
    ),
    Program(
        "uncaught_error",
        {
            "main.js": (
                "console.log('before');\n"
                "function divide(a, b) {\n"
                "  if (b === 0) throw new Error('division by zero');\n"
                "  return a / b;\n"
                "}\n"
                "console.log(divide(1, 0));\n"
            )
        },
    ),
    Program(
        "uncaught_in_util",
        {
            "main.js": "const u = require('./util');\nu.boom();\n",
            "util.js": "exports.boom = function boom() {\n  null.x;\n};\n",
        },
    ),
    Program(
        "uncaught_in_required_toplevel",
        {
            "main.js": "require('./util');\n",
            "util.js": "const x = 1;\nundefinedFunction(x);\n",
        },
    ),
    Program("syntax_error", {"main.js": "console.log('a');\nlet x = ;\n"}),
    Program(
        "error_stack_printed",
        {
            "main.js": (
                "function f() { return new Error('made here'); }\n"
                "console.log(f().stack);\n"
                "Error.stackTraceLimit = Infinity;\n"
                "console.log(new Error('deep').stack);\n"
                "Error.stackTraceLimit = 3;\n"
                "console.log(new Error('short').stack);\n"
                "Error.stackTraceLimit = 10;\n"
                "const r = (n) => n ? r(n - 1) : new Error('rec').stack;\n"
                "for (const n of [0, 1, 2, 3, 4]) console.log(r(n));\n"
                "console.trace('trace here');\n"
                "console.log(typeof Error.prepareStackTrace, Error.prepareStackTrace.name, Error.prepareStackTrace.length);\n"
                "console.log(Error.prepareStackTrace.toString());\n"
                "console.log(JSON.stringify(Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace'), (k, v) => typeof v === 'function' ? 'fn' : v));\n"
            )
        },
    ),
    Program(
        "exit_code",
        {
            "main.js": (
                "console.log('out');\nconsole.error('err');\nprocess.on('exit', c => console.log('exit event', c));\nprocess.exit(3);\nconsole.log('never');\n"
            )
        },
    ),
    Program(
        "exit_code_property",
        {"main.js": ("process.exitCode = 4;\nsetTimeout(() => console.log('later', process.exitCode), 5);\n")},
    ),
    Program(
        "unhandled_rejection",
        {
            "main.js": (
                "async function load() {\n  await null;\n  throw new TypeError('bad data');\n}\n"
                "load();\nPromise.reject(new RangeError('sync reject'));\nconsole.log('sync done');\n"
            )
        },
    ),
    Program("async_rejection", {"main.js": ("Promise.resolve().then(() => { throw new Error('from then'); });\n")}),
    Program(
        "event_order",
        {
            "main.js": (
                "const ah = require('async_hooks');\n"
                "const log = (...a) => console.log(...a);\n"
                "const macro = [];  // timers / immediates / I/O race each other: report them sorted\n"
                "log('main', ah.executionAsyncId(), ah.triggerAsyncId(), JSON.stringify(ah.executionAsyncResource()));\n"
                "setTimeout(() => macro.push(['timeout', ah.executionAsyncId(), ah.triggerAsyncId()]), 0);\n"
                "setImmediate(() => macro.push(['immediate', ah.executionAsyncId(), ah.triggerAsyncId()]));\n"
                "process.nextTick(() => log('tick', ah.executionAsyncId(), ah.triggerAsyncId()));\n"
                "Promise.resolve().then(() => log('micro', ah.executionAsyncId(), new Error('m').stack));\n"
                "queueMicrotask(() => log('qm'));\n"
                "(async () => { await null; log('async', new Error('a').stack); })();\n"
                "require('fs').readFile(__filename, () => macro.push(['io', ah.executionAsyncId()]));\n"
                "process.on('exit', () => log(JSON.stringify(macro.sort())));\n"
                "log('end of main', RegExp.lastMatch === '', RegExp.input);\n"
            )
        },
    ),
    Program(
        "own_source",
        {
            "main.js": (
                "// reads itself\nconst fs = require('fs');\n"
                "process.stdout.write(fs.readFileSync(__filename, 'utf8'));\n"
                "console.log(fs.readFileSync(process.argv[1]).length, fs.readdirSync(__dirname).sort());\n"
            )
        },
    ),
    Program(
        "environment",
        {
            "main.js": (
                "console.log(JSON.stringify(Object.entries(process.env).sort()));\n"
                "console.log(require('os').homedir(), require('os').tmpdir());\n"
            )
        },
    ),
    Program(
        "tty",
        {
            "main.js": (
                "console.log(process.stdin.isTTY, process.stdout.isTTY, process.stderr.isTTY,\n"
                "  require('tty').isatty(0), require('tty').isatty(1), process.stdin.constructor.name,\n"
                "  process.stdout.constructor.name, process.stdin.readable);\n"
            )
        },
    ),
    Program(
        "globals",
        {
            "main.js": (
                "const g = Object.getOwnPropertyNames(globalThis).map(k => {\n"
                "  const d = Object.getOwnPropertyDescriptor(globalThis, k);\n"
                "  return k + ':' + ('value' in d ? typeof d.value : 'accessor') + (d.enumerable ? 'E' : '') + (d.configurable ? 'C' : '') + (d.writable ? 'W' : '');\n"
                "});\n"
                "console.log(g.join(' '));\n"
                "console.log(Object.getOwnPropertySymbols(globalThis).length, typeof fs, typeof http, typeof path, typeof crypto, typeof module, typeof __filename);\n"
                "console.log(Object.keys(process).filter(k => k.startsWith('_')).sort().join(' '));\n"
                "console.log(JSON.stringify(Object.keys(require.cache)), module.children.length);\n"
                "console.log(process.listenerCount('uncaughtException'), process.listenerCount('exit'), process.listenerCount('warning'));\n"
                "console.log(typeof process.noDeprecation, process.emitWarning.name);\n"
            )
        },
    ),
    Program(
        "memory_limit",
        {
            "main.js": (
                "const v8 = require('v8');\n"
                "console.log(Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) > 200,\n"
                "  Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) < 400);\n"
            )
        },
    ),
    Program(
        "child_fork",
        {
            "main.js": (
                "const { fork } = require('child_process');\n"
                "const c = fork('./child.js', ['k']);\n"
                "c.on('message', m => { console.log('from child', JSON.stringify(m)); });\n"
                "c.on('exit', code => console.log('child exit', code));\n"
            ),
            "child.js": "process.send({ execArgv: process.execArgv, argv: process.argv.slice(1) });\n",
        },
    ),
    Program(
        "parse_args",
        {
            "main.js": (
                "const { parseArgs } = require('util');\n"
                "const { values, positionals } = parseArgs({ options: { n: { type: 'string', short: 'n' }, v: { type: 'boolean' } }, allowPositionals: true });\n"
                "console.log(JSON.stringify(values), JSON.stringify(positionals));\n"
            )
        },
        args=["-n", "5", "--v", "file.txt"],
    ),
    Program(
        "dev_stdin",
        {
            "main.js": (
                "const lines = require('fs').readFileSync('/dev/stdin', 'utf8').trim().split('\\n');\n"
                "console.log(lines.map(Number).reduce((a, b) => a + b, 0));\n"
            )
        },
        stdin=b"1\n2\n3\n",
    ),
    Program(
        "worker_thread",
        {
            "main.js": (
                "const { Worker } = require('worker_threads');\n"
                "const w = new Worker('./w.js', { workerData: 5 });\n"
                "w.on('message', m => console.log('worker says', JSON.stringify(m)));\n"
                "w.on('exit', c => console.log('worker exit', c));\n"
            ),
            "w.js": (
                "const { parentPort, workerData } = require('worker_threads');\n"
                "parentPort.postMessage({ d: workerData * 2, argv: process.argv.slice(1), main: require.main === module,\n"
                "  g: typeof fs + typeof module + typeof require });\n"
            ),
        },
    ),
    Program(
        "worker_exec_argv",
        {
            "main.js": (
                "const { Worker } = require('worker_threads');\n"
                "new Worker('console.log(JSON.stringify(process.execArgv))', { eval: true });\n"
            ),
        },
        known="worker threads inherit the real exec argv (including -e <bootstrap>) in process.execArgv",
    ),
    Program(
        "esm_entry",
        {
            "main.mjs": (
                "import { add } from './util.mjs';\n"
                "import { fileURLToPath } from 'node:url';\n"
                "console.log(add(1, 2), fileURLToPath(import.meta.url), process.argv.slice(1));\n"
                "await new Promise(r => setTimeout(r, 1));\n"
                "throw new Error('esm boom');\n"
            ),
            "util.mjs": "export const add = (a, b) => a + b;\n",
        },
        entry="main.mjs",
    ),
    Program(
        "type_module",
        {
            "package.json": '{"type": "module"}\n',
            "main.js": "console.log(typeof require, import.meta.url.endsWith('/main.js'));\nnull.f();\n",
        },
    ),
    Program(
        "uncaught_handler",
        {
            "main.js": (
                "process.on('uncaughtException', (err, origin) => {\n"
                "  console.error('caught:', origin, err);\n"
                "  process.exitCode = 9;\n"
                "});\n"
                "setTimeout(() => console.log('still running', process.listenerCount('uncaughtExceptionMonitor')), 1);\n"
                "nonexistentFunc();\n"
            )
        },
    ),
    Program(
        "uncaught_handler_stack_read_before",
        {
            "main.js": (
                "process.on('uncaughtException', (err) => { console.log(JSON.stringify(err.stack)); });\n"
                "const e = new Error('seen before');\nconsole.log(e.stack.split('\\n').length);\nthrow e;\n"
            )
        },
    ),
    Program(
        "uncaught_capture_callback",
        {
            "main.js": (
                "process.setUncaughtExceptionCaptureCallback(e => console.log('captured', JSON.stringify(e.stack)));\n"
                "undefinedThing.x = 1;\n"
            )
        },
    ),
    Program(
        "uncaught_monitor_only",
        {
            "main.js": (
                "process.on('uncaughtExceptionMonitor', (err, origin) => { console.log('monitor', origin, err.message); });\n"
                "throw new TypeError('monitored');\n"
            )
        },
    ),
    Program(
        "throw_non_errors",
        {"main.js": "console.log('x');\nthrow {code: 42, toString() { return 'custom'; }};\n"},
        known="fatal report of a non-Error object thrown while the entry loads: blank line after, not before, the arrow",
    ),
    Program(
        "throw_custom_class_handled",
        {
            "main.js": (
                "class Oops { constructor(m) { this.m = m; } }\n"
                "process.on('uncaughtException', e => console.log('got', e, e instanceof Oops));\n"
                "throw new Oops('x');\n"
            )
        },
    ),
    Program("throw_primitive", {"main.js": "throw 42;\n"}),
]

RUBY: list[Program] = [
    Program("hello", {"main.rb": 'puts "Hello, world!"\n'}),
    Program(
        "stdin_all",
        {
            "main.rb": (
                "data = $stdin.read\np data, data.size, data.encoding\nputs data.lines.map(&:upcase).join('|')\n"
            )
        },
        stdin=b"line one\nline two\n\xc3\xa9t\xc3\xa9\nno newline at end",
    ),
    Program(
        "stdin_gets",
        {"main.rb": ("a = gets.split.map(&:to_i)\nb = STDIN.gets\np a.sum, b, $stdin.read, $stdin.eof?\n")},
        stdin=b"3 4\n5 6\nrest\n",
    ),
    Program(
        "stdin_big",
        {
            "main.rb": (
                "require 'digest'\nd = $stdin.binmode.read\np d.bytesize, d[0, 40], Digest::SHA256.hexdigest(d)\n"
            )
        },
        stdin=BIG_STDIN,
    ),
    Program(
        "argv",
        {"main.rb": ("p ARGV, ARGV.size, $*.equal?(ARGV), ARGV.map(&:encoding).uniq, ARGV.map(&:frozen?).uniq\n")},
        args=["a", "", "b c", "--flag", "-x", "\u00e9\u00e8", "*"],
    ),
    Program(
        "identity",
        {
            "main.rb": (
                "p $0, __FILE__, $PROGRAM_NAME, __FILE__ == $0, __dir__, __method__, self, Process.argv0\n"
                "p $0.frozen?, $0.encoding, __FILE__.frozen?, __FILE__.encoding, $PROGRAM_NAME.equal?($0)\n"
                "p File.expand_path(__FILE__), caller_locations(0)[0].path, caller_locations(0)[0].absolute_path\n"
                "p Dir.pwd, $PROGRAM_NAME == 'main.rb'\n"
            )
        },
        args=["x"],
    ),
    Program(
        "require_relative",
        {
            "main.rb": (
                "require_relative 'util'\nrequire_relative 'util.rb'\n"
                "p Util.add(2, 3), Util::WHERE\n"
                "p $LOADED_FEATURES.grep(/util/).map { |f| f.sub(Dir.pwd, '.') }\n"
                "load './util2.rb'\np $LOADED_FEATURES.size\n"
            ),
            "util.rb": (
                "module Util\n  WHERE = [__FILE__, __dir__, $0 == __FILE__]\n  def self.add(a, b) = a + b\nend\n"
            ),
            "util2.rb": "puts 'loaded util2'\n",
        },
    ),
    Program(
        "uncaught_error",
        {
            "main.rb": (
                "puts 'before'\n$stdout.flush\n"
                "def divide(a, b)\n  raise ZeroDivisionError, 'division by zero' if b.zero?\n  a / b\nend\n"
                "puts divide(1, 0)\n"
            )
        },
    ),
    Program(
        "uncaught_in_util",
        {
            "main.rb": "require_relative 'util'\nUtil.boom\n",
            "util.rb": "module Util\n  def self.boom\n    nil.upcase\n  end\nend\n",
        },
    ),
    Program("name_error_highlight", {"main.rb": "x = 1\nputs x + undefined_thing\n"}),
    Program(
        "no_method_nested",
        {
            "main.rb": (
                "class Box\n  def initialize(v) = @v = v\n  def size = @v.length\nend\n[1, 2].each { |i| Box.new(i).size }\n"
            )
        },
    ),
    Program("syntax_error", {"main.rb": "puts 1\ndef (\n"}),
    Program(
        "exit_code",
        {
            "main.rb": (
                "puts 'out'\n$stderr.puts 'err'\nat_exit { puts \"at_exit #{$!.inspect}\" }\nexit 3\nputs 'never'\n"
            )
        },
    ),
    Program(
        "at_exit_uncaught",
        {
            "main.rb": (
                'at_exit { puts "at_exit sees #{$!.class}: #{$!.message}"; puts $!.backtrace.inspect }\n'
                "at_exit { puts 'second handler' }\n"
                "def f = raise(ArgumentError, 'nope')\nf\n"
            )
        },
    ),
    Program(
        "abort_and_exit_bang", {"main.rb": "at_exit { puts 'not run' }\n$stdout.flush\nabort 'fatal: giving up'\n"}
    ),
    Program(
        "top_level_return_and_data",
        {
            "main.rb": (
                "p DATA.read, DATA.path, defined?(DATA)\nreturn if ARGV.empty?\nputs 'not printed'\n__END__\nsome data\nmore\n"
            )
        },
    ),
    Program(
        "own_source",
        {"main.rb": ("# reads itself\nprint File.read(__FILE__)\np File.read($0).size, Dir.children(__dir__).sort\n")},
    ),
    Program("environment", {"main.rb": "p ENV.to_h.sort\np Dir.home, Dir.tmpdir rescue p $!.class\n"}),
    Program(
        "tty",
        {
            "main.rb": "p $stdin.tty?, $stdout.tty?, $stderr.tty?, STDIN.fileno, $stdin.sync, $stdout.sync, $stdin.external_encoding\n"
        },
    ),
    Program(
        "globals",
        {
            "main.rb": (
                "p $LOADED_FEATURES\n"
                "p global_variables.sort\n"
                "p Object.constants.sort\n"
                "p Object.private_instance_methods(false).sort, self.singleton_methods, local_variables, binding.local_variables\n"
                "p defined?(DATA), $~, $_, $!, $;, $,, $/, $\\, $VERBOSE, $DEBUG, $-w, $PROGRAM_NAME\n"
                "p ObjectSpace.count_objects.keys.size, Thread.list.size, Thread.current == Thread.main\n"
                "p RubyVM::InstructionSequence.compile_option.hash == RubyVM::InstructionSequence.compile_option.hash\n"
                "p __method__, self.to_s, self.class\n"
                "z = 5\n"
            )
        },
    ),
    Program(
        "warnings_and_magic_comments",
        {
            "main.rb": (
                "# frozen_string_literal: true\n"
                "h = {a: 1, a: 2}\np h\nwarn 'careful'\nWarning.warn(\"direct\\n\")\n"
                "p __ENCODING__, 'abc'.frozen?\ns = 'abc'\ns << 'd'\n"
            )
        },
    ),
    Program(
        "gets_loop_and_argf",
        {"main.rb": ("total = 0\nwhile (line = gets)\n  total += line.to_i\nend\np total, $., ARGF.filename\n")},
        stdin=b"1\n2\n3\n",
    ),
    Program(
        "raise_in_block_and_ensure",
        {"main.rb": ("begin\n  [1, 2].map { |x| x / 0 }\nensure\n  puts 'ensure ran'\nend\n")},
    ),
    Program(
        "custom_exception_full_message",
        {
            "main.rb": (
                "class AppError < StandardError\n  def initialize(msg = 'app failed') = super\nend\n"
                "def run = raise(AppError)\nbegin\n  run\nrescue => e\n  puts e.full_message(highlight: false).lines.first\n  puts e.backtrace.first\nend\n"
                'raise AppError, "multi\\nline"\n'
            )
        },
    ),
    Program(
        "begin_end_blocks",
        {
            "main.rb": (
                "puts 'body'\nBEGIN { puts 'BEGIN block' }\nEND { puts 'END block' }\ndef helper = :ok\np helper, self.private_methods.include?(:helper)\n"
            )
        },
    ),
    Program(
        "caller_frames",
        {"main.rb": "def f = caller\np f\n"},
        known="caller / caller_locations / caught exceptions' backtraces end with the 2 bootstrap frames",
    ),
    Program(
        "toplevel_binding",
        {"main.rb": "x = 1\np TOPLEVEL_BINDING.local_variables\n"},
        known="TOPLEVEL_BINDING does not hold the program's top-level locals",
    ),
]

PHP: list[Program] = [
    Program("hello", {"main.php": '<?php\necho "Hello, world!\\n";\n'}),
    Program(
        "stdin_all",
        {
            "main.php": (
                "<?php\n$d = stream_get_contents(STDIN);\nvar_dump($d, strlen($d));\n"
                "$e = file_get_contents('php://stdin');\nvar_dump($e);\necho strtoupper(str_replace(\"\\n\", '|', $d)), \"\\n\";\n"
            )
        },
        stdin=b"line one\nline two\n\xc3\xa9t\xc3\xa9\nno newline at end",
    ),
    Program(
        "stdin_fgets",
        {
            "main.php": (
                "<?php\n$a = array_map('intval', explode(' ', trim(fgets(STDIN))));\n"
                "$b = fgets(STDIN);\nvar_dump(array_sum($a), $b, ftell(STDIN), feof(STDIN), stream_get_contents(STDIN), feof(STDIN));\n"
                "var_dump(stream_get_meta_data(STDIN));\n"
            )
        },
        stdin=b"3 4\n5 6\nrest\n",
    ),
    Program(
        "stdin_php_stdin_stream",
        {"main.php": ("<?php\n$f = fopen('php://stdin', 'r');\nvar_dump(fgets($f), fread($f, 100));\n")},
        stdin=b"first\nsecond\n",
    ),
    Program(
        "stdin_big",
        {
            "main.php": (
                "<?php\n$d = stream_get_contents(STDIN);\nvar_dump(strlen($d), substr($d, 0, 40), hash('sha256', $d));\n"
            )
        },
        stdin=BIG_STDIN,
    ),
    Program(
        "argv",
        {
            "main.php": (
                "<?php\nvar_dump($argv, $argc, $_SERVER['argv'] === $argv, $_SERVER['argc'], $GLOBALS['argc']);\n"
                "function f() { global $argv; return count($argv); }\nvar_dump(f());\n"
            )
        },
        args=["a", "", "b c", "--flag", "-x", "\u00e9\u00e8", "*"],
    ),
    Program(
        "identity",
        {
            "main.php": (
                "<?php\nvar_dump(__FILE__, __DIR__, __LINE__, $argv[0], get_included_files(), realpath($argv[0]) === __FILE__);\n"
                "$s = $_SERVER;\nforeach (['PHP_SELF', 'SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_TRANSLATED', 'DOCUMENT_ROOT'] as $k) var_dump($k, $s[$k]);\n"
                "var_dump(array_keys($_SERVER), is_float($_SERVER['REQUEST_TIME_FLOAT']), abs($_SERVER['REQUEST_TIME'] - time()) < 5);\n"
                "var_dump(php_sapi_name(), PHP_BINARY, getcwd(), ini_get('memory_limit'), get_cfg_var('cfg_file_path'));\n"
            )
        },
        args=["x"],
    ),
    Program(
        "include_util",
        {
            "main.php": (
                "<?php\ninclude 'util.php';\nrequire_once __DIR__ . '/util.php';\n"
                "var_dump(add(2, 3), $whereUtil, get_included_files());\n"
            ),
            "util.php": (
                "<?php\nfunction add($a, $b) { return $a + $b; }\n$whereUtil = [__FILE__, basename($argv[0]), count(get_included_files())];\n"
            ),
        },
    ),
    Program(
        "uncaught_error",
        {
            "main.php": (
                "<?php\necho \"before\\n\";\nfunction divide($a, $b) {\n  if ($b === 0) throw new DivisionByZeroError('division by zero');\n  return intdiv($a, $b);\n}\n"
                "echo divide(1, 0);\n"
            )
        },
    ),
    Program(
        "uncaught_in_util",
        {
            "main.php": "<?php\nrequire 'util.php';\nboom();\n",
            "util.php": "<?php\nfunction boom() {\n  $x = null;\n  return $x->method();\n}\n",
        },
    ),
    Program(
        "uncaught_chain_and_toplevel",
        {
            "main.php": (
                "<?php\ntry {\n  throw new RuntimeException('inner', 1);\n} catch (RuntimeException $e) {\n"
                "  throw new LogicException('outer', 2, $e);\n}\n"
            )
        },
    ),
    Program("parse_error", {"main.php": "<?php\necho 1;\nfunction (\n"}),
    Program(
        "warnings",
        {
            "main.php": (
                "<?php\necho $undefined;\n$a = [];\necho $a['k'];\necho intdiv(1, 1), \"\\n\";\ntrigger_error('custom', E_USER_WARNING);\n"
                "echo str_repeat('=', 3), \"\\n\";\nvar_dump(error_get_last());\n"
            )
        },
    ),
    Program(
        "strict_types",
        {
            "main.php": (
                "<?php\ndeclare(strict_types=1);\nfunction f(int $x): int { return $x; }\necho f(1), \"\\n\";\necho f('2');\n"
            )
        },
    ),
    Program(
        "exit_code",
        {
            "main.php": (
                '<?php\necho "out\\n";\nfwrite(STDERR, "err\\n");\nregister_shutdown_function(function () { echo "shutdown\\n"; });\nexit(3);\necho \'never\';\n'
            )
        },
    ),
    Program(
        "shutdown_destruct_uncaught",
        {
            "main.php": (
                '<?php\nclass D { function __construct(public $n) {} function __destruct() { echo "destruct {$this->n}\\n"; } }\n'
                '$a = new D(1);\nregister_shutdown_function(function () { echo "shutdown\\n"; var_dump(new stdClass, new stdClass, error_get_last()); });\n'
                "function thrower() { $local = new D(2); throw new Exception('boom'); }\nthrower();\n"
            )
        },
    ),
    Program(
        "exception_handler",
        {
            "main.php": (
                "<?php\nset_exception_handler(function (Throwable $e) {\n  echo 'handler: ', get_class($e), ': ', $e->getMessage(), \"\\n\", $e->getTraceAsString(), \"\\n\";\n});\n"
                "register_shutdown_function(fn () => print(\"shutdown\\n\"));\nfunction f() { throw new Exception('handled'); }\nf();\necho 'never';\n"
            )
        },
    ),
    Program(
        "exception_handler_stack",
        {
            "main.php": (
                '<?php\nset_exception_handler(fn ($e) => print("first\\n"));\n'
                "set_exception_handler(function ($e) {\n  echo 'second: ', $e->getMessage(), \"\\n\";\n"
                "  var_dump(restore_exception_handler(), set_exception_handler(null) instanceof Closure, set_exception_handler(null));\n});\n"
                "throw new Exception('x');\n"
            )
        },
    ),
    Program(
        "exception_handler_throws",
        {
            "main.php": (
                "<?php\nset_exception_handler(function ($e) { echo \"H\\n\"; throw new Exception('inner'); });\nthrow new Exception('outer');\n"
            )
        },
    ),
    Program("top_level_return", {"main.php": "<?php\necho \"a\\n\";\nreturn;\necho 'b';\n"}),
    Program(
        "shebang_and_html",
        {"main.php": "#!/usr/bin/env php\nText before <?php echo 1 + 1, \"\\n\"; ?>after\n<?= 'short' ?>\n"},
    ),
    Program(
        "own_source",
        {
            "main.php": (
                "<?php\n// reads itself\necho file_get_contents(__FILE__);\nvar_dump(strlen(file_get_contents($argv[0])), scandir(__DIR__));\n"
                "var_dump(__COMPILER_HALT_OFFSET__ > 0, stream_get_contents(fopen(__FILE__, 'r'), -1, __COMPILER_HALT_OFFSET__));\n"
                "__halt_compiler();raw data here\n"
            )
        },
    ),
    Program(
        "own_source_no_resources",
        {
            "main.php": (
                "<?php\n// reads itself\necho file_get_contents(__FILE__);\nvar_dump(strlen(file_get_contents($argv[0])), scandir(__DIR__));\n"
                "var_dump(__COMPILER_HALT_OFFSET__ > 0, substr(file_get_contents(__FILE__), __COMPILER_HALT_OFFSET__));\n"
                "__halt_compiler();raw data here\n"
            )
        },
    ),
    Program("environment", {"main.php": "<?php\n$e = getenv();\nksort($e);\nvar_dump($e, $_ENV);\n"}),
    Program(
        "tty",
        {
            "main.php": "<?php\nvar_dump(stream_isatty(STDIN), stream_isatty(STDOUT), posix_isatty(STDIN), function_exists('posix_isatty'), ftell(STDIN));\n"
        },
    ),
    Program(
        "globals",
        {
            "main.php": (
                "<?php\nvar_dump(array_keys(get_defined_vars()), array_keys($GLOBALS), get_included_files());\n"
                "$fns = get_defined_functions();\nvar_dump($fns['user'], count($fns['internal']));\n"
                "$c = get_declared_classes();\nvar_dump(count($c), array_slice($c, -3), get_defined_constants(true)['user'] ?? null);\n"
                "var_dump(new stdClass, new ArrayObject([]), spl_object_id(new stdClass), error_get_last(), ob_get_level());\n"
                "var_dump(count(get_resources()), array_keys(get_resources()), set_exception_handler(null), set_error_handler(null));\n"
                "var_dump(stream_get_meta_data(STDIN), ftell(STDIN), ini_get('memory_limit'), get_resources()[1] === STDIN);\n"
                "function g() { return array_keys(get_defined_vars()); }\nvar_dump(g());\n$late = 1;\n"
                "$rp = array_keys(realpath_cache_get());\nsort($rp);\nvar_dump($rp, realpath_cache_size() > 0);\n"
                "file_put_contents('main.php', 'changed');\nvar_dump(filesize('main.php'));\n"
            )
        },
    ),
    Program(
        "getopt",
        {"main.php": ("<?php\nvar_dump(getopt('n:v', ['verbose'], $rest), $rest, array_slice($argv, $rest));\n")},
        args=["-n", "5", "-v", "--verbose", "file.txt"],
    ),
    Program(
        "readline_stdin",
        {"main.php": ("<?php\n$n = (int) readline();\n$line = readline();\nvar_dump($n, $line, fgets(STDIN));\n")},
        stdin=b"7\nsecond line\nthird\n",
    ),
    Program(
        "memory_limit_hit",
        {
            "main.php": (
                "<?php\necho ini_get('memory_limit'), \"\\n\";\n$a = [];\nwhile (true) { $a[] = str_repeat('x', 1 << 20); }\n"
            )
        },
    ),
    Program(
        "error_in_nested_include",
        {
            "main.php": "<?php\nrequire 'a.php';\n",
            "a.php": "<?php\nrequire 'b.php';\nfunction fa() { fb(); }\nfa();\n",
            "b.php": "<?php\nfunction fb() { throw new InvalidArgumentException('from b'); }\n",
        },
    ),
    Program(
        "debug_backtrace",
        {"main.php": "<?php\nfunction f() { return debug_backtrace(); }\nprint_r(f());\n"},
        known="debug_backtrace() ends with the bootstrap's include() frame",
    ),
    Program(
        "fopen_resource",
        {"main.php": "<?php\nvar_dump(fopen('php://memory', 'r'));\n"},
        known="resource ids are one higher (include registers a stream resource)",
    ),
]

PROTOCOL: list[Program] = [
    Program("proto_empty_stdin", {"main.x": ""}, raw_stdin=b"", expect_rc=111),
    Program("proto_truncated_header", {"main.x": ""}, raw_stdin=b"20\nmain.x\0abc", expect_rc=111),
    Program("proto_garbage_length", {"main.x": ""}, raw_stdin=b"x1\nmain.x", expect_rc=111),
    Program("proto_no_newline", {"main.x": ""}, raw_stdin=b"12", expect_rc=111),
]

PROGRAMS = {"javascript": JS, "ruby": RUBY, "php": PHP}
ENTRY_DEFAULT = {"javascript": "main.js", "ruby": "main.rb", "php": "main.php"}


def compare(runtime: str, prog: Program, show_diff: bool) -> tuple[str, str]:
    """Returns (status, detail); status in match / MISMATCH / known diff / known diff gone."""
    if prog.expect_rc is not None:
        res = run_prewarm(runtime, prog)
        ok = res.rc == prog.expect_rc and res.stdout == b"" and res.stderr == b""
        detail = f"rc={res.rc} out={len(res.stdout)}B err={len(res.stderr)}B"
        if not ok and show_diff:
            detail += "\n" + res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
        return ("match" if ok else "MISMATCH"), detail
    cold = run_cold(runtime, prog)
    warm = run_prewarm(runtime, prog)
    parts = []
    diffs = []
    for label, a, b in (("stdout", cold.stdout, warm.stdout), ("stderr", cold.stderr, warm.stderr)):
        if a == b:
            parts.append(f"{label} ok")
        else:
            parts.append(f"{label} DIFF")
            diffs.append(
                "\n".join(
                    difflib.unified_diff(
                        a.decode(errors="replace").splitlines(),
                        b.decode(errors="replace").splitlines(),
                        f"cold {label}",
                        f"prewarm {label}",
                        lineterm="",
                        n=2,
                    )
                )
            )
            diffs[-1] = "\n".join(line[:300] + (" ..." if len(line) > 300 else "") for line in diffs[-1].splitlines())
    if cold.rc == warm.rc:
        parts.append(f"rc {cold.rc}")
    else:
        parts.append(f"rc DIFF {cold.rc}/{warm.rc}")
        diffs.append(f"exit code: cold {cold.rc}, prewarm {warm.rc}")
    same = not diffs
    status = {
        (False, True): "match",
        (False, False): "MISMATCH",
        (True, True): "known diff gone",
        (True, False): "known diff",
    }[(bool(prog.known), same)]
    detail = ", ".join(parts)
    if diffs and (show_diff or (not same and not prog.known)):
        detail += "\n" + "\n".join(diffs)
    return status, detail


def time_cold(runtime: str, runs: int) -> float:
    prog = Program("hello", {ENTRY_DEFAULT[runtime]: HELLO[runtime]}, entry=ENTRY_DEFAULT[runtime])
    workdir = make_dir(prog)
    times = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(
                cold_command(runtime, prog.entry, []),
                cwd=workdir,
                env=clean_env(workdir),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
                timeout=TIMEOUT,
            )
            times.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return statistics.median(times)


def time_prewarm(runtime: str, runs: int) -> float:
    prog = Program("hello", {ENTRY_DEFAULT[runtime]: HELLO[runtime]}, entry=ENTRY_DEFAULT[runtime])
    workdir = make_dir(prog)
    times = []
    try:
        for _ in range(runs):
            proc = subprocess.Popen(
                prewarm_command(runtime),
                cwd=workdir,
                env=clean_env(workdir),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            time.sleep(0.3)
            t0 = time.perf_counter()
            out, _ = proc.communicate(header(prog.entry, []), timeout=TIMEOUT)
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0 or b"Hello" not in out:
                raise RuntimeError(f"prewarmed hello world failed for {runtime}: rc={proc.returncode}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return statistics.median(times)


HELLO = {
    "javascript": 'console.log("Hello, world!");\n',
    "ruby": 'puts "Hello, world!"\n',
    "php": '<?php\necho "Hello, world!\\n";\n',
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="timing runs per runtime (default 20)")
    ap.add_argument("--only", default="", help="comma-separated runtimes (javascript,ruby,php)")
    ap.add_argument("--program", default="", help="only programs whose name contains this")
    ap.add_argument("--show-diff", action="store_true", help="also print diffs of known differences")
    ap.add_argument("--no-timing", action="store_true")
    opts = ap.parse_args()

    wanted = {{"node": "javascript", "js": "javascript"}.get(x, x) for x in opts.only.split(",") if x}
    runtimes = [r for r in PROGRAMS if not wanted or r in wanted]
    print("Prewarm command lines:")
    for r in runtimes:
        print(f"  {r:<10} {PREWARM_COMMANDS[r]!r}")
    print()

    failures = 0
    rows = []
    for runtime in runtimes:
        for prog in PROGRAMS[runtime] + PROTOCOL:
            if opts.program and opts.program not in prog.name:
                continue
            if not prog.entry:
                prog.entry = ENTRY_DEFAULT[runtime]
                if prog.entry not in prog.files:
                    prog.entry = next(iter(prog.files))
            status, detail = compare(runtime, prog, opts.show_diff)
            if status == "MISMATCH":
                failures += 1
            rows.append((runtime, prog.name, status, detail, prog.known))
            first, *rest = detail.split("\n")
            print(f"{runtime:<10} {prog.name:<32} {status:<16} {first}")
            for line in rest:
                print("    " + line)
            sys.stdout.flush()

    print()
    counts: dict[str, int] = {}
    for _, _, status, _, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    print("Summary:", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    known = [(r, n, k) for r, n, s, _, k in rows if k and s == "known diff"]
    if known:
        print("Known (documented, unavoidable) differences exercised:")
        for r, n, k in known:
            print(f"  {r}/{n}: {k}")

    if not opts.no_timing:
        print()
        print(f"Timing (median of {opts.runs}): cold hello world vs prewarmed header->exit")
        for runtime in runtimes:
            cold = time_cold(runtime, opts.runs)
            warm = time_prewarm(runtime, opts.runs)
            print(
                f"  {runtime:<10} cold {cold * 1000:7.1f} ms   prewarmed {warm * 1000:7.1f} ms   "
                f"speed-up x{cold / warm:5.1f}"
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
