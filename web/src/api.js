// The public API, as any client calls it: GET v1/runtimes, POST v1/run, and the WebSocket
// v1/interactive. URLs are relative to the page, so a proxy may serve it under a prefix.

function headers(token) {
  const h = { "Content-Type": "application/json" };
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function answer(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = { error: { code: `http_${response.status}`, message: response.statusText || "no JSON body" } };
  }
  return { status: response.status, body };
}

export async function runtimes(token) {
  return answer(await fetch("v1/runtimes", { headers: headers(token) }));
}

export async function run(request, token) {
  return answer(await fetch("v1/run", { method: "POST", headers: headers(token), body: JSON.stringify(request) }));
}

// Opens a session; `on` gets each frame the server sends, then onClose(code, reason).
export function interactive(start, token, on, onClose) {
  const url = new URL("v1/interactive", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", ...start, ...(token ? { token } : {}) }));
  ws.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    on(frame);
  };
  ws.onclose = (event) => onClose(event.code, event.reason);
  const send = (frame) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(frame));
  return {
    stdin: (data) => send({ type: "stdin", data }),
    eof: () => send({ type: "eof" }),
    signal: (signal) => send({ type: "signal", signal }),
    close: () => ws.close(1000),
  };
}

// Bytes of a stage's text, whichever encoding the server chose (base64 for non-UTF-8 output).
export function decode(text, encoding) {
  if (encoding !== "base64") return text;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

// Splits an arguments box like a shell does for words and quotes, nothing more (no variables,
// no globs): `one "two words" 'three'` is three arguments.
export function splitArgs(text) {
  const args = [];
  const pattern = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    if (match[1] !== undefined) args.push(match[1].replace(/\\(.)/g, "$1"));
    else if (match[2] !== undefined) args.push(match[2]);
    else args.push(match[3]);
  }
  return args;
}
