// Renders a RunResult: the status line, the compile output, stdout and stderr, and each test's
// verdict with a line diff of what it expected against what the program printed.
import { diffLines } from "diff";
import { decode } from "./api.js";

const $ = (id) => document.getElementById(id);

const LIMITS = {
  cpu: "CPU time limit", // the sandbox says "CPU time limit exceeded" too: shown once
  wall: "wall time limit",
  memory: "memory limit",
  output: "output limit",
  file_size: "file size limit",
  processes: "process limit",
  disk: "disk limit",
  inodes: "file count limit",
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function ms(value) {
  return `${value} ms`;
}

function memory(kb) {
  return kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${kb} KB`;
}

// "exit 1", "signal 9", and which limit fired, for one stage.
function ending(stage) {
  const parts = [];
  if (stage.exit_code !== null && stage.exit_code !== undefined) parts.push(`exit ${stage.exit_code}`);
  if (stage.signal) parts.push(`signal ${stage.signal}`);
  if (stage.limit) parts.push(`${LIMITS[stage.limit] || stage.limit} exceeded`);
  return parts;
}

export function showStatus(kind, text, details = []) {
  const status = $("status");
  status.className = `status ${kind}`;
  const label = text === "ok" ? "OK" : text.charAt(0).toUpperCase() + text.slice(1);
  status.replaceChildren(el("strong", "verdict", label));
  for (const detail of details) status.append(" · ", el("span", "detail", detail));
}

export function clearOutput() {
  for (const id of ["stdout", "stderr", "compile-output", "stdout-note", "stderr-note"]) $(id).textContent = "";
  $("compile-box").hidden = true;
  for (const verdict of document.querySelectorAll("#tests .verdict")) verdict.replaceChildren();
}

function showStage(stage, label = "") {
  for (const stream of ["stdout", "stderr"]) {
    $(stream).textContent = decode(stage[stream], stage.encoding);
    const notes = [];
    if (label) notes.push(label);
    if (stage[`${stream}_truncated`]) notes.push("truncated: the program wrote more than the output limit");
    $(`${stream}-note`).textContent = notes.join(" · ");
    $(`${stream}-note`).dataset.truncated = stage[`${stream}_truncated`] ? "true" : "false";
  }
}

// `interactive`: the output went to the terminal; stdout and stderr say so.
export function showResult(result, interactive = false) {
  clearOutput();
  const compile = result.compile;
  if (compile) {
    const text = [decode(compile.stdout, compile.encoding), decode(compile.stderr, compile.encoding)].join("");
    $("compile-output").textContent = text || (compile.cached ? "(compiled before: cached)" : "(no compiler output)");
    $("compile-box").hidden = false;
  }
  const stage = result.run || (result.tests.find((t) => t.status !== "ok") || result.tests[0] || {}).run || compile;
  if (result.run) showStage(result.run, interactive ? "shown in the terminal" : "");
  else if (result.tests.length) {
    const shown = result.tests.find((t) => t.status !== "ok") || result.tests[0];
    showStage(shown.run, `of ${shown.name}`);
  }
  const details = stage ? ending(stage) : [];
  if (stage) {
    details.push(`CPU ${ms(stage.cpu_time_ms)}`, `wall ${ms(stage.wall_time_ms)}`, `memory ${memory(stage.memory_kb)}`);
    if (stage.message && !details.includes(stage.message)) details.push(stage.message);
  }
  if (result.tests.length) {
    const passed = result.tests.filter((t) => t.status === "ok").length;
    details.unshift(`${passed}/${result.tests.length} tests passed`);
  }
  if (result.meta) {
    details.push(`worker ${result.meta.worker ?? "?"}`);
    details.push(`${result.meta.attempts} send${result.meta.attempts === 1 ? "" : "s"}`);
  }
  showStatus(result.status === "ok" ? "ok" : "failed", result.status.replace(/_/g, " "), details);
  result.tests.forEach((test, index) => showVerdict(index, test));
}

export function showError(status, body) {
  clearOutput();
  const error = body.error || {};
  const details = [`HTTP ${status}`];
  if (error.details) details.push(JSON.stringify(error.details));
  showStatus("error", `${(error.code || "error").replace(/_/g, " ")}: ${error.message || ""}`, details);
}

function showVerdict(index, test) {
  const verdict = document.querySelector(`#tests [data-index="${index}"] .verdict`);
  if (!verdict) return;
  const actual = decode(test.run.stdout, test.run.encoding);
  const ok = test.status === "ok";
  verdict.replaceChildren(el("span", ok ? "badge ok" : "badge failed", ok ? "passed" : test.status.replace(/_/g, " ")));
  verdict.dataset.status = test.status;
  if (ok) return;
  const detail = ending(test.run);
  if (detail.length) verdict.append(el("span", "detail", detail.join(" · ")));
  const diff = el("pre", "diff");
  diff.dataset.testid = "diff";
  for (const part of diffLines(test.expected_stdout, actual)) {
    const kind = part.added ? "added" : part.removed ? "removed" : "same";
    const mark = part.added ? "+ " : part.removed ? "- " : "  ";
    const lines = part.value.replace(/\n$/, "").split("\n");
    for (const line of lines) diff.append(el("div", kind, mark + line));
  }
  verdict.append(el("div", "legend", "- expected   + actual"), diff);
  if (test.run.stderr) verdict.append(el("pre", "stderr", decode(test.run.stderr, test.run.encoding)));
}
