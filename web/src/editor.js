// The code editor (CodeMirror 6): one document per file, shown as tabs, with the language's
// highlighting. Languages without a CodeMirror package use its legacy (stream) modes.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState, Compartment, Prec } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { StreamLanguage } from "@codemirror/language";
// Each language is its own chunk of the bundle, fetched (from this service) when first used.
const legacy = (load, name) => () => load().then((mode) => StreamLanguage.define(mode[name]));

// Runtime name (or alias) -> its highlighting. A runtime not listed is edited as plain text.
const LANGUAGES = {
  python: () => import("@codemirror/lang-python").then((m) => m.python()),
  pypy: () => import("@codemirror/lang-python").then((m) => m.python()),
  javascript: () => import("@codemirror/lang-javascript").then((m) => m.javascript()),
  typescript: () => import("@codemirror/lang-javascript").then((m) => m.javascript({ typescript: true })),
  c: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
  cpp: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
  clang: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
  java: () => import("@codemirror/lang-java").then((m) => m.java()),
  rust: () => import("@codemirror/lang-rust").then((m) => m.rust()),
  php: () => import("@codemirror/lang-php").then((m) => m.php()),
  go: () => import("@codemirror/lang-go").then((m) => m.go()),
  bash: legacy(() => import("@codemirror/legacy-modes/mode/shell"), "shell"),
  ruby: legacy(() => import("@codemirror/legacy-modes/mode/ruby"), "ruby"),
  lua: legacy(() => import("@codemirror/legacy-modes/mode/lua"), "lua"),
  perl: legacy(() => import("@codemirror/legacy-modes/mode/perl"), "perl"),
  haskell: legacy(() => import("@codemirror/legacy-modes/mode/haskell"), "haskell"),
  clojure: legacy(() => import("@codemirror/legacy-modes/mode/clojure"), "clojure"),
  commonlisp: legacy(() => import("@codemirror/legacy-modes/mode/commonlisp"), "commonLisp"),
  scheme: legacy(() => import("@codemirror/legacy-modes/mode/scheme"), "scheme"),
  racket: legacy(() => import("@codemirror/legacy-modes/mode/scheme"), "scheme"),
  erlang: legacy(() => import("@codemirror/legacy-modes/mode/erlang"), "erlang"),
  elixir: legacy(() => import("@codemirror/legacy-modes/mode/ruby"), "ruby"),
  fortran: legacy(() => import("@codemirror/legacy-modes/mode/fortran"), "fortran"),
  pascal: legacy(() => import("@codemirror/legacy-modes/mode/pascal"), "pascal"),
  r: legacy(() => import("@codemirror/legacy-modes/mode/r"), "r"),
  sql: legacy(() => import("@codemirror/legacy-modes/mode/sql"), "standardSQL"),
  tcl: legacy(() => import("@codemirror/legacy-modes/mode/tcl"), "tcl"),
  octave: legacy(() => import("@codemirror/legacy-modes/mode/octave"), "octave"),
  ocaml: legacy(() => import("@codemirror/legacy-modes/mode/mllike"), "oCaml"),
  kotlin: legacy(() => import("@codemirror/legacy-modes/mode/clike"), "kotlin"),
  scala: legacy(() => import("@codemirror/legacy-modes/mode/clike"), "scala"),
  csharp: legacy(() => import("@codemirror/legacy-modes/mode/clike"), "csharp"),
  objectivec: legacy(() => import("@codemirror/legacy-modes/mode/clike"), "objectiveC"),
  d: legacy(() => import("@codemirror/legacy-modes/mode/d"), "d"),
  groovy: legacy(() => import("@codemirror/legacy-modes/mode/groovy"), "groovy"),
  cobol: legacy(() => import("@codemirror/legacy-modes/mode/cobol"), "cobol"),
  crystal: legacy(() => import("@codemirror/legacy-modes/mode/crystal"), "crystal"),
  coffeescript: legacy(() => import("@codemirror/legacy-modes/mode/coffeescript"), "coffeeScript"),
  assembly: legacy(() => import("@codemirror/legacy-modes/mode/gas"), "gas"),
};

// A promise of the runtime's language support ([] for plain text).
export function languageFor(runtime) {
  for (const name of [runtime.name, ...(runtime.aliases || [])]) {
    const make = LANGUAGES[name.replace(/[^a-z0-9]/g, "")];
    if (make) return make().catch(() => []);
  }
  return Promise.resolve([]);
}

// files: [{name, content}], the entry first. onChange(files) after each edit; onRun() on Mod-Enter.
export class Editor {
  constructor(parent, tabs, { onChange, onRun }) {
    this.tabs = tabs;
    this.onChange = onChange;
    this.language = new Compartment();
    this.files = [{ name: "main", content: "" }];
    this.active = 0;
    this.extensions = [
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
      basicSetup,
      keymap.of([indentWithTab]),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) {
          this.files[this.active].content = update.state.doc.toString();
          this.onChange(this.files);
        }
      }),
    ];
    this.view = new EditorView({ parent, state: this.state("", []) });
  }

  state(content, language) {
    return EditorState.create({ doc: content, extensions: [...this.extensions, this.language.of(language)] });
  }

  // Shows `files` (a runtime's) on the first tab; highlights them once `language` arrives.
  load(files, language) {
    this.files = files.map((f) => ({ ...f }));
    this.currentLanguage = [];
    this.select(0);
    const files_ = this.files;
    language.then((support) => {
      if (this.files !== files_) return; // another runtime was picked meanwhile
      this.currentLanguage = support;
      this.view.dispatch({ effects: this.language.reconfigure(support) });
    });
  }

  select(index) {
    this.active = index;
    this.view.setState(this.state(this.files[index].content, this.currentLanguage));
    this.renderTabs();
  }

  getCode() {
    return this.files[0].content;
  }

  setCode(text) {
    this.files[0].content = text;
    if (this.active === 0) {
      this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
    } else {
      this.select(0);
    }
    this.onChange(this.files);
  }

  addFile(name) {
    if (!name || this.files.some((f) => f.name === name)) return false;
    this.files.push({ name, content: "" });
    this.onChange(this.files);
    this.select(this.files.length - 1);
    return true;
  }

  removeFile(index) {
    if (index === 0) return;
    this.files.splice(index, 1);
    this.onChange(this.files);
    this.select(Math.min(this.active, this.files.length - 1));
  }

  renderTabs() {
    this.tabs.replaceChildren();
    this.files.forEach((file, index) => {
      const tab = document.createElement("span");
      tab.className = index === this.active ? "tab active" : "tab";
      tab.dataset.testid = "tab";
      const label = document.createElement("button");
      label.textContent = file.name;
      label.title = index === 0 ? "the entry file" : file.name;
      label.onclick = () => this.select(index);
      tab.append(label);
      if (index > 0) {
        const close = document.createElement("button");
        close.className = "close";
        close.textContent = "×";
        close.title = `remove ${file.name}`;
        close.onclick = () => this.removeFile(index);
        tab.append(close);
      }
      this.tabs.append(tab);
    });
    const name = document.createElement("input");
    name.placeholder = "new file name";
    name.dataset.testid = "new-file";
    name.size = 14;
    const add = document.createElement("button");
    add.textContent = "+";
    add.title = "add a file (the first tab is the entry)";
    add.dataset.testid = "add-file";
    add.onclick = () => this.addFile(name.value.trim());
    name.onkeydown = (event) => {
      if (event.key === "Enter") add.onclick();
    };
    this.tabs.append(name, add);
  }
}
