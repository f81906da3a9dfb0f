// The page's state, kept in localStorage so that a reload keeps the work: the runtime, each
// runtime's files, stdin, arguments, limits and tests.
const KEY = "codering-x.playground.v1";

export function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    return { runtime: null, files: {}, stdin: null, args: "", limits: {}, tests: [], token: "", ...saved };
  } catch {
    return { runtime: null, files: {}, stdin: null, args: "", limits: {}, tests: [], token: "" };
  }
}

let timer = null;

// Saves at most every 300 ms: typing in the editor calls this on every key.
export function save(state) {
  clearTimeout(timer);
  timer = setTimeout(() => saveNow(state), 300);
}

export function saveNow(state) {
  clearTimeout(timer);
  try {
    localStorage.setItem(KEY, JSON.stringify(state));
  } catch {
    // storage full or disabled: the page still works, it just forgets on reload
  }
}
