# The python prewarm bootstrap, run as `python3 -c <this text>` in a sandboxed process that
# waits for its run. Why it looks the way it does: it must leave no trace the learner's
# program could see. It imports nothing that a cold start lacks, keeps its names out of
# the learner's `__main__`, and reads the header from stdin with exact-size os.read calls,
# so not one byte of the learner's stdin is consumed.
#
# Header on stdin: "<length>\n" then <length> bytes: the entry file name and each argument,
# joined by NUL. Everything after it is the program's stdin.
#
# What the program then sees is a cold `python3 main.py args...`: the same `__main__`
# (`__file__` absolute, `__loader__`, `__spec__` None), `sys.argv`, `sys.orig_argv`,
# `sys.path[0]`, and tracebacks without our frame.
# Known differences: `/proc/self/cmdline`; a frame below the program's own one for
# `sys._getframe()` walkers; `gc.get_freeze_count()` is not 0, and `gc.get_objects()` leaves
# out the start-up's objects.
import sys


def _codering_run():
    import gc
    import os

    started_with = set(sys.modules)

    def read_exact(n):
        data = b""
        while len(data) < n:
            chunk = os.read(0, n - len(data))
            if not chunk:
                os._exit(111)  # no run came: the worker dropped us
            data += chunk
        return data

    def read_record():
        length = b""
        while not length.endswith(b"\n"):
            length += read_exact(1)
        return read_exact(int(length))

    # Before the run: the parser warmed up (the first compile costs a millisecond), and the
    # start-up's objects frozen out of the collector, so finalising at exit is quicker.
    compile("x = [i for i in range(3)]\nprint(x)\n", "<codering>", "exec")
    gc.collect()
    gc.freeze()
    del sys.modules["gc"]  # a cold start has not imported it

    if sys.argv[1:2] == ["--zygote"]:
        # A zygote: root, our code only. Each record from the worker asks for one member: it
        # forks, the child becomes the member's helper (libsbexec: cgroups, rlimits, uid),
        # whose own child confines itself and returns here, as the member, to wait for its run.
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker
        confine = ctypes.CDLL(sys.argv[2]).sbexec_confine
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the helpers
        while True:
            worker, stdin, stdout, stderr, status, home, *options = read_record().split(b"\0")
            modes = (os.O_RDONLY, os.O_WRONLY, os.O_WRONLY, os.O_WRONLY)
            fds = [
                os.open(b"/proc/%s/fd/%s" % (worker, n), m)
                for n, m in zip((stdin, stdout, stderr, status), modes, strict=True)
            ]
            pid = os.fork()
            if pid == 0:
                for target, fd in enumerate(fds):
                    os.dup2(fd, target)
                os.closerange(4, 1 << 16)  # the zygote's own pipes above all
                argv = (ctypes.c_char_p * (len(options) + 2))(b"sbexec", *options, None)
                confine(len(options) + 1, argv)  # returns in the member only, confined
                break
            for fd in fds:
                os.close(fd)
            os.write(1, b"%d\n" % pid)
        # The member: as if started cold, with its own work dir as HOME and TMPDIR.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        home = os.fsdecode(home)
        os.environ["HOME"] = os.environ["TMPDIR"] = home
        site = sys.modules["site"]
        site.USER_BASE = site._getuserbase()
        site.USER_SITE = site._get_path(site.USER_BASE)
        for name in set(sys.modules) - started_with:
            del sys.modules[name]

    fields = os.fsdecode(read_record()).split("\0")
    entry, args = fields[0], fields[1:]
    path = os.path.join(os.getcwd(), entry)
    with open(path, "rb") as f:
        source = f.read()
    main = type(sys)("__main__")
    main.__dict__.update(
        __file__=path,
        __cached__=None,
        __annotations__={},
        __builtins__=sys.modules["builtins"],
        __loader__=sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path),
    )
    sys.modules["__main__"] = main
    sys.argv[:] = [entry, *args]
    sys.orig_argv[:] = [sys.orig_argv[0], entry, *args]
    sys.path[0] = os.path.dirname(path)
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        error.__traceback__ = None  # as a cold start: no traceback at all
        sys.excepthook(type(error), error, None)
        raise SystemExit(1) from None
    return code, main.__dict__


_codering_code, _codering_globals = _codering_run()
del _codering_run
try:
    exec(_codering_code, _codering_globals)
except SystemExit:
    raise
except BaseException as _codering_error:
    _codering_error.__traceback__ = _codering_error.__traceback__.tb_next  # our frame: not shown
    sys.excepthook(type(_codering_error), _codering_error, _codering_error.__traceback__)
    if isinstance(_codering_error, KeyboardInterrupt):  # a cold interpreter then dies of SIGINT
        if "atexit" in sys.modules:  # (else the program registered no handler)
            sys.modules["atexit"]._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        sys.modules["_signal"].signal(2, sys.modules["_signal"].SIG_DFL)
        sys.modules["posix"].kill(sys.modules["posix"].getpid(), 2)
    raise SystemExit(1) from None
