// The worker config form: JSON to the API, its 422s beside the fields, delete behind a question.
import { call, confirmAction } from "./api.js";
import { showInvalid } from "./fields.js";

const form = document.getElementById("config-form");
const workerId = form.dataset.worker;
const NUMBERS = ["port", "cpus", "max_accounts", "max_restart_attempts", "restart_delay_ms"];
const NULLABLE = ["host", "port", "cpus", "cpu_ids", "master_ca", "master_fingerprint"];

/** A number when the text is one; else the text, for the API to refuse beside its field. */
function numberOr(text) {
  return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
}

/** "0,1" as a list of CPU numbers; else the text, for the API to refuse beside its field. */
function cpuIds(text) {
  return /^\d+(\s*,\s*\d+)*$/.test(text) ? text.split(",").map(Number) : text;
}

function pairs(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    out[at < 0 ? line : line.slice(0, at)] = at < 0 ? "" : line.slice(at + 1);
  }
  return out;
}

function body() {
  const f = form.elements;
  const out = {};
  const texts = ["worker_id", "name", "deployment_type", "host", "master_ca", "master_fingerprint"];
  for (const name of [...texts, ...NUMBERS]) {
    if (!f[name]) continue;
    const value = f[name].value.trim();
    if (value) out[name] = NUMBERS.includes(name) ? numberOr(value) : value;
    else if (workerId && NULLABLE.includes(name)) out[name] = null;
  }
  const ids = f.cpu_ids.value.trim();
  if (ids) out.cpu_ids = cpuIds(ids);
  else if (workerId) out.cpu_ids = null;
  out.labels = pairs(f.labels.value);
  out.env = pairs(f.env.value);
  if (f.secret_env.value.trim()) out.secret_env = pairs(f.secret_env.value);
  const launcher = {};
  for (const el of form.querySelectorAll("[name^='launcher.']")) {
    if (el.value.trim()) launcher[el.name.slice("launcher.".length)] = el.value.trim();
  }
  out.launcher = launcher;
  out.auto_start = f.auto_start.checked;
  out.auto_restart = f.auto_restart.checked;
  return out;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = body();
  const answer = workerId
    ? await call("PATCH", `/worker-configs/${encodeURIComponent(workerId)}`, data)
    : await call("POST", "/worker-configs", data);
  if (answer.ok) window.location.assign(`/workers/${encodeURIComponent(answer.body.worker_id)}`);
  else showInvalid(form, answer);
});

document.getElementById("delete")?.addEventListener("click", async () => {
  if (!(await confirmAction(`Delete worker ${workerId}? A running worker is stopped first.`))) return;
  const answer = await call("DELETE", `/worker-configs/${encodeURIComponent(workerId)}`);
  if (answer.ok) window.location.assign("/workers");
  else showInvalid(form, answer);
});
