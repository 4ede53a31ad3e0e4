// The log viewer, for job output and worker logs alike: the last lines first, then live.
// While it follows, its stream also carries the page's change signals, handed to live.js
// as "corral-pulse" events: the tab holds one stream, the viewer's or live.js's, never
// both (body[data-stream=log] says whose it is). Each event carries an id; reopening the
// stream with the last one resumes exactly where it broke (the browser does so itself after a network error; pause, resume and a hidden
// tab do it here). Lines are text nodes: whatever a program prints is shown, never run.

const MAX_LINES = 3000;
const TAIL = 1000;
const PULSE_TOPICS = ["workers", "jobs"];

/** Say who holds the tab's stream: "log" (this viewer) or "" (live.js). */
function handOver(holder) {
  if (holder) document.body.dataset.stream = holder;
  else delete document.body.dataset.stream;
  document.dispatchEvent(new Event("corral-stream"));
}

/** Hand one of the page's change signals to live.js. */
function pulse(kind) {
  document.dispatchEvent(new CustomEvent("corral-pulse", { detail: kind }));
}

class LogView {
  constructor(root) {
    this.root = root;
    this.source = root.dataset.source;
    this.out = root.querySelector("[data-role=lines]");
    this.status = root.querySelector("[data-role=status]");
    this.lines = []; // {stream, text}, the last MAX_LINES
    this.partial = { stdout: "", stderr: "" };
    this.lastId = "";
    this.paused = false;
    this.ended = false;
    this.filter = null;
    this.streams = "both";
    this.events = null;
    this.bind();
    this.open();
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !this.paused) this.open();
      else if (document.hidden && this.events) this.close("paused while hidden", true);
    });
  }

  bind() {
    const pause = this.root.querySelector("[data-role=pause]");
    pause.addEventListener("click", () => {
      this.paused = !this.paused;
      pause.textContent = this.paused ? "Resume" : "Pause";
      if (this.paused) this.close("paused");
      else this.open();
    });
    this.root.querySelector("[data-role=streams]").addEventListener("change", (event) => {
      this.streams = event.target.value;
      this.render();
    });
    this.root.querySelector("[data-role=filter]").addEventListener("input", (event) => {
      this.filter = matcher(event.target.value);
      event.target.classList.toggle("invalid", this.filter === undefined);
      this.render();
    });
    this.root.querySelector("[data-role=save]")?.addEventListener("click", () => this.save());
  }

  open() {
    if (this.events || this.ended) return;
    const params = new URLSearchParams({ tail: String(TAIL), pulse: "1" });
    if (this.lastId) params.set("after", this.lastId);
    handOver("log");
    this.events = new EventSource(`${this.source}?${params}`);
    this.events.addEventListener("open", () => this.say("live"));
    this.events.addEventListener("error", () => {
      this.say("reconnecting");
      pulse("error");
    });
    for (const kind of ["ready", ...PULSE_TOPICS]) {
      this.events.addEventListener(kind, () => pulse(kind));
    }
    for (const stream of ["stdout", "stderr"]) {
      this.events.addEventListener(stream, (event) => {
        this.lastId = event.lastEventId;
        this.take(stream, JSON.parse(event.data));
      });
    }
    this.events.addEventListener("end", () => {
      for (const stream of ["stdout", "stderr"]) {
        if (this.partial[stream]) this.append([{ stream, text: this.partial[stream] }]);
        this.partial[stream] = "";
      }
      this.ended = true;
      this.close("ended");
    });
  }

  /** Close the stream; unless ``keep`` (a hidden tab), live.js takes the tab's signals. */
  close(why, keep = false) {
    this.events?.close();
    this.events = null;
    this.say(why);
    if (!keep) handOver("");
  }

  say(text) {
    this.status.textContent = text;
    this.root.dataset.status = text;
  }

  take(stream, text) {
    const parts = (this.partial[stream] + text).split("\n");
    this.partial[stream] = parts.pop();
    this.append(parts.map((line) => ({ stream, text: line })));
  }

  // In one batch: the page lays out once per chunk, not once per line.
  append(lines) {
    for (const line of lines) this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    const shown = lines.filter((line) => this.shows(line)).slice(-MAX_LINES);
    if (!shown.length) return;
    const follow = this.atBottom();
    const batch = document.createDocumentFragment();
    batch.append(...shown.map(element));
    this.out.append(batch);
    for (let extra = this.out.childElementCount - MAX_LINES; extra > 0; extra--) {
      this.out.firstElementChild.remove();
    }
    if (follow) this.out.scrollTop = this.out.scrollHeight;
  }

  shows(line) {
    if (this.streams !== "both" && line.stream !== this.streams) return false;
    return !this.filter || this.filter(line.text);
  }

  atBottom() {
    return this.out.scrollHeight - this.out.scrollTop - this.out.clientHeight < 40;
  }

  render() {
    this.out.replaceChildren(...this.lines.filter((line) => this.shows(line)).map(element));
    this.out.scrollTop = this.out.scrollHeight;
  }

  save() {
    const text = this.lines.filter((line) => this.shows(line)).map((l) => l.text + "\n").join("");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    link.download = "log.txt";
    link.click();
    URL.revokeObjectURL(link.href);
  }
}

/** A test for lines: text to look for, or /regex/flags; undefined when the regex is bad. */
function matcher(text) {
  if (!text) return null;
  const regex = /^\/(.+)\/([a-z]*)$/.exec(text);
  if (!regex) return (line) => line.includes(text);
  try {
    const pattern = new RegExp(regex[1], regex[2]);
    return (line) => pattern.test(line);
  } catch {
    return undefined;
  }
}

function element(line) {
  const el = document.createElement("span");
  el.className = line.stream;
  el.textContent = line.text + "\n";
  return el;
}

/** Start a viewer in every .logview of the page. */
export function mountAll() {
  for (const root of document.querySelectorAll(".logview")) new LogView(root);
}
