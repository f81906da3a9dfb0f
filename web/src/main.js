// The playground: wires the runtime picker, the editor, the tests and the terminal to the
// public API. Everything it does, a client of the API can do the same way.
import "@xterm/xterm/css/xterm.css";
import "./playground.css";
import * as api from "./api.js";
import * as store from "./store.js";
import { Editor, languageFor } from "./editor.js";
import { LineTerminal } from "./terminal.js";
import { clearOutput, showError, showResult, showStatus } from "./results.js";

const $ = (id) => document.getElementById(id);
const LIMIT_KEYS = ["cpu_time_ms", "wall_time_ms", "memory_mb", "output_bytes", "processes", "disk_mb", "disk_inodes"];

const state = store.load();
let runtimes = {};
let busy = false;
let session = null;

const editor = new Editor($("editor"), $("tabs"), {
  onChange: (files) => {
    state.files[state.runtime] = files;
    store.save(state);
  },
  onRun: () => run(),
});
const terminal = new LineTerminal($("terminal"));

function current() {
  return runtimes[state.runtime];
}

function exampleFiles(runtime) {
  return [{ name: runtime.entry || "main", content: runtime.example ? runtime.example.code : "" }];
}

function selectRuntime(name) {
  const runtime = runtimes[name];
  if (!runtime) return;
  state.runtime = name;
  $("runtime").value = name;
  const files = state.files[name] && state.files[name].length ? state.files[name] : exampleFiles(runtime);
  state.files[name] = files;
  editor.load(files, languageFor(runtime));
  const kind = runtime.compiled ? "compiled" : "interpreted";
  $("runtime-info").textContent =
    `${runtime.version ?? "version unknown"} · ${kind} · ${runtime.healthy_workers ?? "?"} healthy workers` +
    (runtime.available === false ? " · unavailable" : "");
  renderLimits(runtime);
  renderOptions(runtime);
  store.saveNow(state);
}

// The options boxes: the runtime's rules as their hint, its defaults as the placeholder.
// Options hold no whitespace (the service refuses it), so the boxes split on it.
function renderOptions(runtime) {
  state.options = state.options || {};
  const chosen = (state.options[runtime.name] = state.options[runtime.name] || { compile: "", run: "" });
  for (const stage of ["compile", "run"]) {
    const input = $(`${stage}-options`);
    const rules = (runtime.options && runtime.options[stage]) || [];
    input.disabled = rules.length === 0;
    input.value = rules.length ? chosen[stage] : "";
    input.placeholder = rules.length ? rules.filter((r) => r.default).map((r) => r.default).join(" ") || "none" : "none taken";
    input.title = rules.map((r) => `${r.pattern}: ${r.description}${r.default ? ` (default ${r.default})` : ""}`).join("\n");
    input.oninput = () => {
      chosen[stage] = input.value;
      store.save(state);
    };
  }
}

function chosenOptions(stage) {
  const text = ((state.options || {})[state.runtime] || {})[stage] || "";
  return text.split(/\s+/).filter(Boolean);
}

// One number box per limit, bounded by the runtime's maxima; empty means the default.
function renderLimits(runtime) {
  const box = $("limits");
  box.replaceChildren();
  if (!runtime.maximum_limits) return; // not described yet: no worker of it has answered
  for (const key of LIMIT_KEYS) {
    const label = document.createElement("label");
    label.textContent = key.replace(/_/g, " ");
    const input = document.createElement("input");
    input.type = "number";
    input.min = "1";
    input.max = String(runtime.maximum_limits[key]);
    input.placeholder = String(runtime.default_limits[key]);
    input.title = `default ${runtime.default_limits[key]}, at most ${runtime.maximum_limits[key]}`;
    input.dataset.testid = `limit-${key}`;
    input.value = state.limits[key] ?? "";
    input.oninput = () => {
      if (input.value === "") delete state.limits[key];
      else state.limits[key] = Number(input.value);
      store.save(state);
    };
    label.append(input);
    box.append(label);
  }
}

// The limits the person set, or an error naming the first one outside its bounds.
function chosenLimits(interactive) {
  const runtime = current();
  const limits = {};
  if (!runtime.maximum_limits) return undefined;
  for (const key of LIMIT_KEYS) {
    const value = state.limits[key];
    if (value === undefined || value === null || value === "") continue;
    const max = key === "wall_time_ms" && interactive ? runtime.interactive_wall_time_ms.maximum : runtime.maximum_limits[key];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new Error(`${key} must be a whole number from 1 to ${max}`);
    }
    limits[key] = value;
  }
  return Object.keys(limits).length ? limits : undefined;
}

// `code` for one file (the service then names it as the language demands), else `files`.
function source() {
  const files = editor.files;
  if (files.length === 1) return { code: files[0].content };
  return { files: files.map((f) => ({ name: f.name, content: f.content })) };
}

function renderTests() {
  const list = $("tests");
  list.replaceChildren();
  state.tests.forEach((test, index) => {
    const row = document.createElement("div");
    row.className = "test";
    row.dataset.index = String(index);
    row.dataset.testid = "test";
    const field = (tag, key, placeholder) => {
      const input = document.createElement(tag);
      input.placeholder = placeholder;
      input.value = test[key] ?? "";
      input.spellcheck = false;
      input.dataset.testid = `test-${key}`;
      if (tag === "textarea") input.rows = 2;
      input.oninput = () => {
        test[key] = input.value;
        store.save(state);
      };
      return input;
    };
    const remove = document.createElement("button");
    remove.textContent = "×";
    remove.title = "remove this test";
    remove.dataset.testid = "remove-test";
    remove.onclick = () => {
      state.tests.splice(index, 1);
      store.saveNow(state);
      renderTests();
    };
    const verdict = document.createElement("div");
    verdict.className = "verdict";
    verdict.dataset.testid = "verdict";
    row.append(field("input", "name", `test ${index + 1}`), remove);
    row.append(field("textarea", "stdin", "stdin"), field("textarea", "expected", "expected stdout"), verdict);
    list.append(row);
  });
}

function setBusy(value) {
  busy = value;
  $("run").disabled = value || !current();
  $("run-interactive").disabled = value || !current();
  $("stop").hidden = !session;
}

async function run() {
  if (busy || !current()) return;
  let request;
  try {
    request = {
      runtime: state.runtime,
      ...source(),
      args: api.splitArgs(state.args),
      compile_options: chosenOptions("compile"),
      run_options: chosenOptions("run"),
      limits: chosenLimits(false),
    };
  } catch (error) {
    showStatus("error", "invalid limit", [error.message]);
    return;
  }
  if (state.tests.length) {
    request.tests = state.tests.map((t, i) => ({
      name: t.name || `test ${i + 1}`,
      stdin: t.stdin || "",
      expected_stdout: t.expected || "",
    }));
  } else {
    request.stdin = state.stdin ?? "";
  }
  setBusy(true);
  clearOutput();
  showStatus("running", "running…");
  try {
    const { status, body } = await api.run(request, state.token);
    if (status === 200) showResult(body);
    else showError(status, body);
  } catch (error) {
    showStatus("error", `the service did not answer: ${error.message}`);
  } finally {
    setBusy(false);
  }
}

function runInteractive() {
  if (busy || !current()) return;
  let start;
  try {
    start = {
      runtime: state.runtime,
      ...source(),
      args: api.splitArgs(state.args),
      compile_options: chosenOptions("compile"),
      run_options: chosenOptions("run"),
      limits: chosenLimits(true),
    };
  } catch (error) {
    showStatus("error", "invalid limit", [error.message]);
    return;
  }
  clearOutput();
  showStatus("running", "connecting…");
  let finished = false;
  const onFrame = (frame) => {
    if (frame.type === "accepted") showStatus("running", "started", [`session ${frame.session}`]);
    else if (frame.type === "stage") showStatus("running", frame.stage === "compile" ? "compiling…" : "running…");
    else if (frame.type === "output") {
      if (frame.encoding === "base64") terminal.write(Uint8Array.from(atob(frame.data), (c) => c.charCodeAt(0)));
      else terminal.write(frame.data);
    } else if (frame.type === "result") {
      finished = true;
      showResult(frame.result, true);
      const stage = frame.result.run || frame.result.compile;
      const how = stage && stage.signal ? `signal ${stage.signal}` : `exit ${stage ? stage.exit_code : "?"}`;
      terminal.note(`\r\n[${frame.result.status.replace(/_/g, " ")}, ${how}]`);
    } else if (frame.type === "error") {
      showStatus("error", `${frame.error.code}: ${frame.error.message}`);
      terminal.note(`[${frame.error.code}: ${frame.error.message}]`);
    }
  };
  const onClose = (code, reason) => {
    terminal.detach();
    session = null;
    if (!finished && code !== 1000) showStatus("error", `the session ended (${code}${reason ? `: ${reason}` : ""})`);
    setBusy(false);
  };
  session = api.interactive(start, state.token, onFrame, onClose);
  terminal.attach(session);
  setBusy(true);
}

function stop() {
  if (session) session.signal("SIGKILL");
}

async function init() {
  $("token-form").onsubmit = (event) => event.preventDefault();
  $("token").value = state.token || "";
  $("token").onchange = () => {
    state.token = $("token").value;
    store.saveNow(state);
    init();
  };
  $("stdin").oninput = () => {
    state.stdin = $("stdin").value;
    store.save(state);
  };
  $("args").value = state.args || "";
  $("args").oninput = () => {
    state.args = $("args").value;
    store.save(state);
  };
  $("runtime").onchange = () => selectRuntime($("runtime").value);
  $("run").onclick = run;
  $("run-interactive").onclick = runInteractive;
  $("stop").onclick = stop;
  $("add-test").onclick = () => {
    state.tests.push({ name: "", stdin: "", expected: "" });
    store.saveNow(state);
    renderTests();
  };
  renderTests();
  let answer;
  try {
    answer = await api.runtimes(state.token);
  } catch (error) {
    showStatus("error", `the service did not answer: ${error.message}`);
    return;
  }
  if (answer.status !== 200) {
    if (answer.status === 401) $("settings").open = true;
    showError(answer.status, answer.body);
    return;
  }
  runtimes = Object.fromEntries(answer.body.runtimes.map((r) => [r.name, r]));
  const select = $("runtime");
  select.replaceChildren();
  for (const runtime of answer.body.runtimes) {
    const option = document.createElement("option");
    option.value = runtime.name;
    option.textContent = runtime.available === false ? `${runtime.name} (unavailable)` : runtime.name;
    select.append(option);
  }
  select.disabled = false;
  const first = answer.body.runtimes.find((r) => r.available !== false) || answer.body.runtimes[0];
  const example = first && first.example;
  if (state.stdin === null && example) state.stdin = example.stdin;
  $("stdin").value = state.stdin ?? "";
  selectRuntime(runtimes[state.runtime] ? state.runtime : runtimes.python ? "python" : first && first.name);
  setBusy(false);
  showStatus("idle", "Ready: press Run (Ctrl+Enter) or Run interactively.");
  document.body.dataset.ready = "true";
}

document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && !event.defaultPrevented) {
    event.preventDefault();
    run();
  }
});

// Stable hooks for automation and for embedding pages.
window.codering = {
  getCode: () => editor.getCode(),
  setCode: (text) => editor.setCode(text),
  files: () => editor.files.map((f) => ({ ...f })),
  runtime: () => state.runtime,
  setRuntime: (name) => selectRuntime(name),
  run,
  runInteractive,
};

init();
