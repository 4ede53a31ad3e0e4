// One event stream per tab saying what changed; the page's live parts fetch themselves
// again (htmx, on "pulse-<topic>" events). Closed while the tab is hidden, caught up when
// it is shown again. Also keeps relative times ("3 s ago") current.

const TOPICS = ["workers", "jobs"];
const indicator = document.getElementById("conn");
let source = null;
let catchUp = false; // the first connection comes with a freshly rendered page

function setState(state) {
  if (indicator) indicator.dataset.state = state;
}

function signal(topic) {
  document.body.dispatchEvent(new CustomEvent("pulse-" + topic));
}

function connect() {
  source = new EventSource("/ui/events");
  source.addEventListener("ready", () => {
    setState("live");
    if (catchUp) TOPICS.forEach(signal);
    catchUp = true;
  });
  for (const topic of TOPICS) source.addEventListener(topic, () => signal(topic));
  source.addEventListener("error", () => setState("reconnecting"));
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    source?.close();
    source = null;
    setState("paused");
  } else if (!source) {
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
if (!document.hidden) connect();
