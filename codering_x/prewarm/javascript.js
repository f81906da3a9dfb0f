// codering-x prewarm bootstrap: javascript (Node.js 20).
//
// Prewarm command (this whole file, unchanged, is ONE argv element):
//   ["node", "--max-old-space-size={heap_mb}", "-e", "{bootstrap}"]
// Cold command it stands in for:
//   ["node", "--max-old-space-size={heap_mb}", "<entry>", *args]
//
// Protocol: blocks on fd 0 for "<L>\n" + L bytes = entry NUL arg1 NUL ...;
// everything after those bytes is the learner's stdin and is never read here
// (unbuffered fs.readSync on fd 0: one byte at a time up to "\n", then exactly
// L bytes).  EOF or a malformed header -> exit status 111, no output.
//
// How the cold start is reproduced:
//  * process.argv -> [execPath, path.resolve(entry), ...args] (same array);
//    process.execArgv loses the "-e <bootstrap>" pair; process._eval deleted.
//  * The globals `node -e` defines (module, exports, require, __filename,
//    __dirname, and a lazy getter for every builtin module: fs, http, ...)
//    are deleted.  This code defines no global of its own (one arrow IIFE).
//  * The entry is started the way node's run_main_module does it, after
//    resetting the RegExp statics: Module.runMain() (CommonJS
//    Module._load(main, null, true), or the ESM loader for .mjs /
//    "type": "module"), synchronously, so async ids (executionAsyncId() 1),
//    nextTick / microtask order and require.main / require.cache /
//    module.children are those of a cold start.
//  * Stack traces: the frames below `Function.executeUserEntryPoint [as
//    runMain]` (this bootstrap and node's `-e` machinery) are replaced by the
//    one frame a cold start has there ("node:internal/main/run_main_module:
//    28:49" on node 20.20, computed from node's own source).  This is done by
//    a drop-in for node's default Error.prepareStackTrace with the same name,
//    length and source text (toString()).
//  * An exception escaping the entry synchronously leaves through node's `-e`
//    evaluator, which prefixes err.stack with the "file:line / source / ^"
//    arrow.  Printed without a handler, that is byte-identical to a cold
//    start; when the program handles it ('uncaughtException' listener or
//    capture callback) the prefix is removed before the program sees it.
//
// Known differences that cannot be removed (documented; the ones marked [t]
// are exercised as "known diff" by tests/prewarm_equivalence.py):
//  * [t] A non-Error object (`throw {...}`, an instance of a class that does
//    not extend Error) thrown while the entry loads and not handled: node's
//    fatal report has its blank line after instead of before the arrow.
//  * [t] Worker threads inherit the real exec argv, so their
//    process.execArgv contains "-e", "<bootstrap>".
//  * A program that replaces Error.prepareStackTrace gets raw CallSites whose
//    bottom frames are the bootstrap's (only for errors created while the
//    entry module is loading); the default Error.prepareStackTrace is a
//    different (identical-looking) function object.  'uncaughtExceptionMonitor'
//    listeners of an *unhandled* exception see the arrow-prefixed err.stack.
//  * /proc/self/cmdline, `ps` and process.report's commandLine show the
//    bootstrap; process.moduleLoadList lists a few more internal modules;
//    process.uptime(), performance.now() and friends include the time spent
//    waiting for the header.
//  * Do not put the word c-r-y-p-t-o (as a whole word) anywhere in this file:
//    `node -e` would then wrap the code and define that global.
(() => {
  const req = require;
  const fs = req('fs');
  const path = req('path');
  const Module = req('module');
  const G = globalThis;

  // ---- stack-trace bottom frame of a cold start -------------------------
  let runMainLine = 28;
  let runMainCol = 49;
  try {
    const src = process.binding('natives')['internal/main/run_main_module'];
    const lines = src.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const j = lines[i].indexOf('.Module.runMain(');
      if (j >= 0) {
        runMainLine = i + 1;
        runMainCol = j + '.Module.'.length + 1;
      }
    }
  } catch {
    // keep the node 20.20 defaults
  }
  const fakeFile = 'node:internal/main/run_main_module';
  const fakeText = `${fakeFile}:${runMainLine}:${runMainCol}`;
  const fakeFrame = {
    getThis: () => undefined,
    getTypeName: () => null,
    getFunction: () => undefined,
    getFunctionName: () => null,
    getMethodName: () => null,
    getFileName: () => fakeFile,
    getScriptNameOrSourceURL: () => fakeFile,
    getLineNumber: () => runMainLine,
    getColumnNumber: () => runMainCol,
    getEnclosingLineNumber: () => 1,
    getEnclosingColumnNumber: () => 1,
    getEvalOrigin: () => undefined,
    getPromiseIndex: () => null,
    getScriptHash: () => '',
    isToplevel: () => true,
    isEval: () => false,
    isNative: () => false,
    isConstructor: () => false,
    isAsync: () => false,
    isPromiseAll: () => false,
    toString: () => fakeText,
  };
  // Stacks formatted while the entry module runs (see undecorate below).
  const formatted = new WeakMap();
  let recording = false;
  const origPrepare = Error.prepareStackTrace;
  if (typeof origPrepare === 'function') {
    const isRunMain = (f) => {
      try {
        return f.getFunctionName() === 'executeUserEntryPoint' &&
          f.getFileName() === 'node:internal/modules/run_main';
      } catch {
        return false;
      }
    };
    const isBoot = (f) => {
      try {
        return f.getFileName() === '[eval]';
      } catch {
        return false;
      }
    };
    // eslint-disable-next-line no-unused-vars
    const internalPrepareStackTrace = (error, trace) => {
      if (Array.isArray(trace)) {
        for (let i = 0; i < trace.length - 1; i++) {
          if (isRunMain(trace[i])) {
            if (isBoot(trace[i + 1])) {
              trace = trace.slice(0, i + 1);
              trace.push(fakeFrame);
            }
            break;
          }
        }
      }
      const text = origPrepare(error, trace);
      if (recording && error !== null && typeof error === 'object' &&
          typeof text === 'string') {
        formatted.set(error, text);
      }
      return text;
    };
    // The text below must stay byte-identical to node's own default
    // (Error.prepareStackTrace.toString()), hence the unusual indentation.
    const replacement =
function ErrorPrepareStackTrace(error, trace) {
  return internalPrepareStackTrace(error, trace);
}
;
    if (origPrepare.name === replacement.name) {
      Error.prepareStackTrace = replacement;
    }
  }

  // ---- before the run: stdout and stderr built now, not on the first write ----
  // (their streams cost about 12 ms to build; the program gets the same objects)
  void process.stdout;
  void process.stderr;

  // ---- read the header (unbuffered, exact sizes) --------------------------
  const fail = () => process.reallyExit(111);
  const readSome = (buf, off, len) => {
    for (;;) {
      try {
        return fs.readSync(0, buf, off, len, null);
      } catch (e) {
        if (e && e.code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        if (e && e.code === 'EOF') return 0;
        return -1;
      }
    }
  };
  const one = Buffer.alloc(1);
  let digits = '';
  for (;;) {
    const n = readSome(one, 0, 1);
    if (n !== 1) fail();
    const c = one[0];
    if (c === 10) break;
    if (c < 48 || c > 57 || digits.length >= 9) fail();
    digits += String.fromCharCode(c);
  }
  if (digits === '') fail();
  const total = Number(digits);
  const hb = Buffer.alloc(total);
  let got = 0;
  while (got < total) {
    const n = readSome(hb, got, total - got);
    if (n <= 0) fail();
    got += n;
  }
  const fields = hb.toString('utf8').split('\0');
  const entry = fields[0];
  if (!entry) fail();

  // ---- make the process look like `node <heap flag> <entry> args...` ------
  const argv = process.argv;
  argv.length = 1;
  argv.push(path.resolve(entry));
  for (let i = 1; i < fields.length; i++) argv.push(fields[i]);

  const execArgv = process.execArgv;
  for (let i = 0; i < execArgv.length - 1; i++) {
    if ((execArgv[i] === '-e' || execArgv[i] === '--eval') &&
        execArgv[i + 1] === process._eval) {
      execArgv.splice(i, 2);
      break;
    }
  }
  delete process._eval;

  for (const k of ['module', 'exports', '__dirname', 'require', '__filename']) {
    delete G[k];
  }
  for (const k of Object.getOwnPropertyNames(G)) {
    const d = Object.getOwnPropertyDescriptor(G, k);
    if (d && d.configurable && typeof d.set === 'function' &&
        d.set.name === 'setReal') {
      delete G[k];
    }
  }

  // An exception escaping the entry synchronously leaves through node's `-e`
  // evaluator, which prefixes err.stack with the "file:line / source / ^^^"
  // arrow (a cold start only prints that arrow, it does not store it).  When
  // the program handles it ('uncaughtException' listener or capture
  // callback), undo that before any program listener sees the error.  With
  // no handler the decorated stack is exactly what node prints cold.
  const undecorate = (err) => {
    process.removeListener('uncaughtExceptionMonitor', undecorate);
    recording = false;
    if (process.listenerCount('uncaughtException') === 0 &&
        !process.hasUncaughtExceptionCaptureCallback()) {
      return;
    }
    if (err === null || typeof err !== 'object') return;
    const plain = formatted.get(err);
    const now = err.stack;
    if (typeof plain === 'string' && typeof now === 'string' &&
        now.length > plain.length && now.endsWith('\n' + plain)) {
      err.stack = plain;
    }
  };

  // Same as node:internal/main/run_main_module right before runMain.
  /^/.exec('');
  recording = true;
  let finished = false;
  try {
    Module.runMain();
    finished = true;
  } finally {
    // try/finally (no catch): the exception and V8's message (the location
    // node prints) propagate untouched.
    if (finished) {
      recording = false;
    } else {
      process.prependListener('uncaughtExceptionMonitor', undecorate);
    }
  }
})();
