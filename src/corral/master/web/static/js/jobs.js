// The Jobs page: cancel or retry the picked jobs (or every job matching the filters),
// and submit new ones.
import { call, confirmAction, inParallel, reason, showResults } from "./api.js";
import { Selection } from "./selection.js";
import { showInvalid } from "./fields.js";

const count = document.getElementById("selected-count");
let allMatching = false;
const selection = new Selection("jobs", () => {
  const table = document.getElementById("jobs");
  count.textContent = allMatching ? `all ${table.dataset.matching} matching selected` : `${selection.picked.size} selected`;
});

document.addEventListener("click", (event) => {
  if (event.target.id !== "select-matching") return;
  allMatching = true;
  for (const box of selection.boxes()) selection.set(box, true);
  selection.onChange();
});
document.addEventListener("change", (event) => {
  if (event.target.classList.contains("pick") && !event.target.checked) allMatching = false;
});

/** Every id matching the page's filters, read from the API page by page. */
async function matchingIds() {
  const params = new URLSearchParams(document.getElementById("jobs").dataset.query);
  params.delete("before_id");
  params.set("limit", "1000");
  const ids = [];
  for (;;) {
    const answer = await call("GET", `/jobs?${params}`);
    if (!answer.ok) throw new Error(reason(answer));
    ids.push(...answer.body.jobs.map((job) => job.id));
    if (!answer.body.next_before_id) return ids;
    params.set("before_id", answer.body.next_before_id);
  }
}

for (const button of document.querySelectorAll(".actions button[data-action]")) {
  button.addEventListener("click", () => act(button.dataset.action));
}

const UNFINISHED = ["pending", "assigned", "running"];

/** The page's filters as the body of POST /jobs/cancel; null when no unfinished job can match. */
function cancelFilter() {
  const params = new URLSearchParams(document.getElementById("jobs").dataset.query);
  const body = {};
  const states = params.getAll("state").filter(Boolean);
  if (states.length) body.state = states.filter((s) => UNFINISHED.includes(s));
  if (params.get("worker_id")) body.worker_id = params.get("worker_id");
  if (params.get("account")) body.account = params.get("account");
  return body.state && !body.state.length ? null : body;
}

/** Cancel every job matching the filters in one request. */
async function cancelMatching(box) {
  const matching = document.getElementById("jobs").dataset.matching;
  if (!(await confirmAction(`Cancel ${matching} jobs?`))) return;
  const body = cancelFilter();
  const answer = body ? await call("POST", "/jobs/cancel", body) : { ok: true, body: { matched: 0, cancelled: 0, ending: 0 } };
  if (answer.ok) {
    const { matched, cancelled, ending } = answer.body;
    showResults(box, `cancel: ${matched} matching, ${cancelled} cancelled, ${ending} ending`, []);
  } else {
    showResults(box, `cancel: ${reason(answer)}`, []);
  }
  allMatching = false;
  selection.clear();
}

async function act(action) {
  const box = document.getElementById("job-result");
  if (allMatching && action === "cancel") return cancelMatching(box);
  const ids = allMatching ? await matchingIds() : [...selection.picked];
  if (!ids.length) {
    showResults(box, "Pick one job or more first.", []);
    return;
  }
  const noun = ids.length === 1 ? "job" : "jobs";
  if (!(await confirmAction(`${action[0].toUpperCase()}${action.slice(1)} ${ids.length} ${noun}?`))) return;
  showResults(box, `${action}: ${ids.length} ${noun}…`, []);
  const answers = await inParallel(ids, 8, (id) => call("POST", `/jobs/${id}/${action}`));
  const failed = answers.map((a, i) => ({ a, id: ids[i] })).filter(({ a }) => !a.ok);
  const lines = failed.slice(0, 50).map(({ a, id }) => ({ ok: false, text: `job ${id}: ${reason(a)}` }));
  showResults(box, `${action}: ${ids.length - failed.length} done, ${failed.length} failed`, lines);
  allMatching = false;
  selection.clear();
}

/** Words of a command line, as a POSIX shell would split simple quoting. */
function split(line) {
  const words = [];
  const pattern = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(pattern)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2] ?? m[3]);
  }
  return words;
}

function labelsOf(text) {
  const labels = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [key, ...rest] = part.split("=");
    labels[key.trim()] = rest.join("=").trim();
  }
  return labels;
}

const form = document.getElementById("submit-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = form.elements;
  const shell = f.shell.checked;
  const body = { command: shell ? [f.command.value] : split(f.command.value), shell };
  for (const name of ["cpus", "max_attempts", "priority"]) body[name] = Number(f[name].value);
  if (f.timeout_s.value) body.timeout_s = Number(f.timeout_s.value);
  if (f.labels.value.trim()) body.labels = labelsOf(f.labels.value);
  const answer = await call("POST", "/jobs", body);
  if (answer.ok) {
    window.location.assign(`/jobs/${answer.body.id}`);
  } else {
    showInvalid(form, answer);
  }
});
