// One event stream per tab saying what changed; the page's live parts fetch themselves
// again (htmx, on "pulse-<topic>" events). Closed while the tab is hidden, caught up when
// it is shown again. While a log viewer follows, the signals come on its stream instead
// (it sets body[data-stream=log]): a tab never holds two. Also keeps relative times
// ("3 s ago") current.

const TOPICS = ["workers", "jobs"];
const indicator = document.getElementById("conn");
let source = null;

function setState(state) {
  if (indicator) indicator.dataset.state = state;
}

function signal(topic) {
  document.body.dispatchEvent(new CustomEvent("pulse-" + topic));
}

/** One event of the tab's stream: its own, or the log viewer's (a "corral-pulse" event). */
function take(kind) {
  if (kind === "ready") {
    setState("live");
    // Catch up on what changed since the tab's previous stream, if it had one.
    if (document.body.dataset.streamed) TOPICS.forEach(signal);
    document.body.dataset.streamed = "1";
  } else if (kind === "error") {
    setState("reconnecting");
  } else {
    signal(kind);
  }
}

function logFollows() {
  return document.body.dataset.stream === "log";
}

function connect() {
  if (source || document.hidden || logFollows()) return;
  source = new EventSource("/ui/events");
  for (const kind of ["ready", "error", ...TOPICS]) {
    source.addEventListener(kind, () => take(kind));
  }
}

function disconnect() {
  source?.close();
  source = null;
}

document.addEventListener("corral-pulse", (event) => take(event.detail));
// The log viewer takes the tab's stream, or gives it back.
document.addEventListener("corral-stream", () => (logFollows() ? disconnect() : connect()));

document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    disconnect();
    setState("paused");
  } else {
    connect();
  }
});

function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

function refreshTimes() {
  const now = Date.now();
  for (const el of document.querySelectorAll("time[data-ago], time[data-age]")) {
    const when = Date.parse(el.getAttribute("datetime"));
    if (Number.isNaN(when)) continue;
    const text = ago((now - when) / 1000);
    el.textContent = el.hasAttribute("data-ago") ? text + " ago" : text;
    el.title = el.getAttribute("datetime");
  }
}

document.body.addEventListener("htmx:afterSettle", refreshTimes);
refreshTimes();
setInterval(refreshTimes, 1000);
// A page with a log viewer starts with the viewer's stream.
if (!document.querySelector(".logview")) connect();
