// codering-x prewarm bootstrap: php (PHP 8.2 CLI).
//
// Prewarm command (this whole file, unchanged, is ONE argv element; `-r`
// takes code without an opening tag, so there is none):
//   ["php", "-d", "memory_limit={heap_mb}M", "-r", "{bootstrap}"]
// Cold command it stands in for:
//   ["php", "-d", "memory_limit={heap_mb}M", "<entry>", *args]
//
// Protocol: blocks on fd 0 for "<L>\n" + L bytes = entry NUL arg1 NUL ...;
// the bytes after the header are the learner's stdin and are never read here.
// The header is read with read(2) through FFI (one byte at a time up to "\n",
// then exactly L bytes), so PHP's STDIN stream is not touched at all (no read
// buffer filled, ftell(STDIN) stays false).  Without FFI (ffi.enable=0) it
// falls back to fread(STDIN) with the read buffer switched off and back on.
// EOF or a malformed header -> exit status 111, no output.
//
// How the cold start is reproduced:
//  * $argv / $argc and $_SERVER['argv'|'argc'|'PHP_SELF'|'SCRIPT_NAME'|
//    'SCRIPT_FILENAME'|'PATH_TRANSLATED'|'REQUEST_TIME'|'REQUEST_TIME_FLOAT']
//    get the values `php <entry> args` has (same keys, same order).  The
//    engine keeps its own reference to the $_SERVER array (PG(http_globals),
//    read by getopt()); writing $_SERVER from PHP would copy the array and
//    leave the engine's copy stale.  So the array is located through FFI
//    (the IS_ARRAY zval in core_globals whose zend_array is shared and has
//    count($_SERVER) elements) and its refcount is lowered by one while the
//    writes run, which makes them happen in place; then it is restored.
//  * The entry is `include`d (by absolute path) from the global scope, so its
//    top-level variables are globals and get_defined_vars(),
//    get_included_files(), __FILE__, __DIR__, the stat and realpath caches
//    match.  The bootstrap defines no variables, functions, classes or
//    constants: it only uses closures, freed newest first so that object ids
//    (#1, #2, ... / spl_object_id) are the same as cold.
//  * A missing entry prints "Could not open input file: <entry>", exit 1.
//  * `php -r` ignores set_exception_handler(), so a throwable leaving the
//    program is caught here, the bootstrap's frames ("Command line code(N):
//    include()") are removed from its trace and from its previous ones, and
//    it is passed to the program's exception handler (through a real
//    internal-function call: "#0 [internal function]: {closure}()" as in a
//    cold start) or re-thrown, so PHP prints the same "PHP Fatal error:
//    Uncaught ..." / "PHP Parse error: ..." and exits 255.
//
// Known differences that cannot be removed (documented; the ones marked [t]
// are exercised as "known diff" by tests/prewarm_equivalence.py):
//  * [t] debug_backtrace() / debug_print_backtrace(), and the trace of an
//    exception *caught by the program*, end with the bootstrap's frame
//    "Command line code(N): include()" (uncaught ones do not).
//  * [t] Resource ids are one higher: the engine registers the stream that
//    `include` reads the entry through as a resource, so the program's first
//    fopen() returns resource(6) where a cold start returns resource(5).
//  * getlastmod(), getmyinode(), getmyuid(), getmygid() describe the primary
//    script, which is the command-line code here.
//  * /proc/self/cmdline and `ps` show the bootstrap; memory_get_usage() and
//    friends differ; when a throwable leaves the program the global
//    $__coderingx_prewarm_throwable exists for a moment (it is unset before
//    the program's handler or shutdown functions run).
//  * auto_prepend_file / auto_append_file are not run (php -r ignores them).
//  * Without FFI: ftell(STDIN) is off by the header length and getopt() sees
//    no arguments.
try {
    include (static function (): string {
        $fail = static function (): void {
            exit(111);
        };

        // ---- FFI: raw read(2) on fd 0, and the engine's $_SERVER array ----
        $libc = null;
        $globals = null;
        if (extension_loaded('FFI') && class_exists('FFI', false)) {
            try {
                $libc = \FFI::cdef(
                    'long read(int fd, void *buf, unsigned long count);'
                    . ' int *__errno_location(void);'
                    . ' int usleep(unsigned int usec);'
                );
            } catch (\Throwable $ignored) {
                $libc = null;
            }
            try {
                $globals = \FFI::cdef('extern uint64_t core_globals[84];');
            } catch (\Throwable $ignored) {
                $globals = null;
            }
            unset($ignored);
        }

        // getopt() and other engine code read $_SERVER through PG(http_globals),
        // the engine's own reference to the very array that is $_SERVER.
        // Writing $_SERVER from PHP would separate (copy) it, leaving the
        // engine's copy with the bootstrap's argv.  So find that array (an
        // IS_ARRAY zval in core_globals whose zend_array has as many elements
        // as $_SERVER and is shared), and make the writes below happen in
        // place by lowering its refcount by one while they run.
        $serverArray = 0;
        if ($libc !== null && $globals !== null) {
            $n = count($_SERVER);
            $found = [];
            for ($i = 0; $i + 1 < 84; $i++) {
                $addr = $globals->core_globals[$i];
                if (($globals->core_globals[$i + 1] & 0xffffffff) !== 0x307 || $addr <= 4096) {
                    continue;
                }
                $refcount = $libc->cast('uint32_t *', $addr)[0];
                $count = $libc->cast('uint32_t *', $addr + 28)[0];
                if ($count === $n && $refcount === 2) {
                    $found[] = $addr;
                }
            }
            if (count($found) === 1) {
                $serverArray = $found[0];
            }
            unset($found);
        }

        $viaStream = $libc === null;
        if (!$viaStream) {
            $buf = $libc->new('char[65536]');
            $read = static function (int $n) use ($libc, $buf): ?string {
                for (;;) {
                    $got = $libc->read(0, $buf, $n);
                    if ($got > 0) {
                        return \FFI::string($buf, $got);
                    }
                    if ($got === 0) {
                        return null;
                    }
                    $errno = $libc->__errno_location()[0];
                    if ($errno === 4) {          // EINTR
                        continue;
                    }
                    if ($errno === 11) {         // EAGAIN: non-blocking pipe
                        $libc->usleep(1000);
                        continue;
                    }
                    return null;
                }
            };
        } else {
            stream_set_read_buffer(STDIN, 0);
            $read = static function (int $n): ?string {
                $s = fread(STDIN, $n);
                return ($s === false || $s === '') ? null : $s;
            };
        }

        // ---- the header -----------------------------------------------------
        $digits = '';
        for (;;) {
            $c = $read(1);
            if ($c === null) {
                $fail();
            }
            if ($c === "\n") {
                break;
            }
            if ($c < '0' || $c > '9' || strlen($digits) >= 9) {
                $fail();
            }
            $digits .= $c;
        }
        if ($digits === '') {
            $fail();
        }
        $total = (int) $digits;
        $header = '';
        while (strlen($header) < $total) {
            $part = $read(min(65536, $total - strlen($header)));
            if ($part === null) {
                $fail();
            }
            $header .= $part;
        }
        unset($read, $buf);
        if ($viaStream) {
            stream_set_read_buffer(STDIN, 8192);
        }
        $fields = explode("\0", $header);
        $entry = array_shift($fields);
        if ($entry === null || $entry === '') {
            $fail();
        }

        // ---- what `php <entry> args...` has -----------------------------------
        $argv = array_merge([$entry], $fields);
        $GLOBALS['argv'] = $argv;
        $GLOBALS['argc'] = count($argv);
        $now = microtime(true);
        $unshared = false;
        if ($serverArray !== 0) {
            $rc = $libc->cast('uint32_t *', $serverArray);
            if ($rc[0] === 2) {
                $rc[0] = 1;
                $unshared = true;
            }
            unset($rc);
        }
        $_SERVER['PHP_SELF'] = $entry;
        $_SERVER['SCRIPT_NAME'] = $entry;
        $_SERVER['SCRIPT_FILENAME'] = $entry;
        $_SERVER['PATH_TRANSLATED'] = $entry;
        $_SERVER['DOCUMENT_ROOT'] = '';
        $_SERVER['REQUEST_TIME_FLOAT'] = $now;
        $_SERVER['REQUEST_TIME'] = (int) $now;
        $_SERVER['argv'] = $argv;
        $_SERVER['argc'] = count($argv);
        if ($unshared) {
            $rc = $libc->cast('uint32_t *', $serverArray);
            $rc[0] = $rc[0] + 1;
            unset($rc);
        }
        // Free the closure / FFI objects newest first: the engine reuses freed
        // object handles last-in-first-out, so the program's first objects
        // get #1, #2, ... exactly as in a cold start.
        unset($globals, $libc);

        if (!is_file($entry) || !is_readable($entry)) {
            echo "Could not open input file: $entry\n";
            exit(1);
        }
        // Forget what these checks cached (stat cache and realpath cache):
        // a cold start begins with both empty.
        clearstatcache(true);
        unset($fail);
        // Absolute, relative to the working directory only (a cold start does
        // not consult include_path either).
        return ($entry[0] === '/') ? $entry : getcwd() . '/' . $entry;
    })();
} catch (\Throwable $__coderingx_prewarm_throwable) {
    (static function (\Throwable $t): void {
        // Remove the frames that belong to this bootstrap (file "Command line
        // code"; they are always the outermost ones) from a throwable chain.
        $strip = static function (\Throwable $t): void {
            $seen = [];
            for ($x = $t; $x !== null && !isset($seen[spl_object_id($x)]); $x = $x->getPrevious()) {
                $seen[spl_object_id($x)] = true;
                $trace = $x->getTrace();
                $keep = count($trace);
                while ($keep > 0 && ($trace[$keep - 1]['file'] ?? null) === 'Command line code') {
                    $keep--;
                }
                if ($keep !== count($trace)) {
                    $prop = new \ReflectionProperty($x instanceof \Exception ? \Exception::class : \Error::class, 'trace');
                    $prop->setValue($x, array_slice($trace, 0, $keep));
                    unset($prop);
                }
            }
        };
        $strip($t);

        $handler = set_exception_handler(null);
        if ($handler === null) {
            // Let the engine report it ("PHP Fatal error:  Uncaught ..."),
            // exactly like an uncaught throwable of a primary script.
            unset($strip, $GLOBALS['__coderingx_prewarm_throwable']);
            throw $t;
        }
        // Undo the push set_exception_handler() did on the handler stack, so
        // restore_exception_handler() in the program behaves as in a cold
        // start; then call the handler as the engine would (from an internal
        // frame) and end normally.
        restore_exception_handler();
        // Through a real internal-function call (not the compiled
        // call_user_func opcode), so the handler's frame has no file/line:
        // "#0 [internal function]: {closure}()" as in a cold start.
        $call = 'call_user_func';
        try {
            $call($handler, $t);
        } catch (\Throwable $inner) {
            $strip($inner);
            unset($call, $strip, $GLOBALS['__coderingx_prewarm_throwable']);
            throw $inner;
        }
        unset($call, $strip);
    })($__coderingx_prewarm_throwable);
    unset($__coderingx_prewarm_throwable);
}
