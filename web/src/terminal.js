// The terminal of an interactive run (xterm.js). A program reads a pipe, not a tty, so the
// terminal does the line editing a tty would: it echoes what is typed, handles Backspace,
// sends the line on Enter, SIGINT on Ctrl+C and end of input on Ctrl+D.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";

export class LineTerminal {
  constructor(parent) {
    this.term = new Terminal({
      convertEol: true,
      cursorBlink: true,
      fontSize: 13,
      rows: 14,
      scrollback: 5000,
      theme: { background: "#1e1f24" },
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(parent);
    this.fit.fit();
    new ResizeObserver(() => this.fit.fit()).observe(parent);
    this.line = "";
    this.session = null;
    this.term.onData((data) => this.typed(data));
  }

  // A new run: clear the screen; typed text goes to `session` (stdin, eof, signal).
  attach(session) {
    this.term.reset();
    this.line = "";
    this.session = session;
    this.term.focus();
  }

  detach() {
    this.session = null;
  }

  write(text) {
    this.term.write(text);
  }

  note(text) {
    this.term.write(`\x1b[2m${text}\x1b[0m\r\n`);
  }

  typed(data) {
    if (!this.session || data.startsWith("\x1b")) return; // arrows and other escape keys: no line editing
    for (const char of data) {
      if (char === "\r" || char === "\n") {
        this.session.stdin(`${this.line}\n`);
        this.line = "";
        this.term.write("\r\n");
      } else if (char === "\x7f" || char === "\b") {
        if (this.line) {
          this.line = this.line.slice(0, -1);
          this.term.write("\b \b");
        }
      } else if (char === "\x03") {
        this.term.write("^C\r\n");
        this.line = "";
        this.session.signal("SIGINT");
      } else if (char === "\x04") {
        if (this.line) this.session.stdin(this.line);
        this.line = "";
        this.term.write("^D\r\n");
        this.session.eof();
      } else if (char >= " " || char === "\t") {
        this.line += char;
        this.term.write(char);
      }
    }
  }
}
