// The Alerts page: tune a rule, add or delete a webhook, send one a test notification.
// The live part (alerts, webhooks, deliveries) is refreshed by htmx.
import { call, confirmAction, reason, showResults } from "./api.js";
import { showInvalid } from "./fields.js";

const box = document.getElementById("alert-result");

function refresh() {
  document.body.dispatchEvent(new CustomEvent("pulse-jobs"));
}

async function sendTest(id) {
  const answer = await call("POST", `/webhooks/${id}/test`);
  if (answer.ok) {
    showResults(box, `test queued for webhook ${id}: ${answer.body.message_id}`, []);
    refresh();
  } else {
    showResults(box, `webhook ${id}: ${reason(answer)}`, [{ ok: false, text: reason(answer) }]);
  }
}

async function remove(id) {
  if (!(await confirmAction(`Delete webhook ${id} and its deliveries?`))) return;
  const answer = await call("DELETE", `/webhooks/${id}`);
  showResults(box, answer.ok ? `webhook ${id} deleted` : `webhook ${id}: ${reason(answer)}`, []);
  refresh();
}

document.addEventListener("click", async (event) => {
  const test = event.target.closest("button[data-test-webhook]");
  const gone = event.target.closest("button[data-delete-webhook]");
  if (!test && !gone) return;
  const button = test || gone;
  button.disabled = true;
  try {
    await (test ? sendTest(test.dataset.testWebhook) : remove(gone.dataset.deleteWebhook));
  } finally {
    button.disabled = false;
  }
});

/** A number field as JSON: a number, or the text as typed (for the API to refuse). */
function number(input) {
  const value = input.value.trim();
  return value !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
}

for (const form of document.querySelectorAll("form.rule-form")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = { enabled: f.enabled.checked };
    for (const name of ["threshold", "for_s", "repeat_interval_s"]) body[name] = number(f[name]);
    const answer = await call("PATCH", `/alert-rules/${form.dataset.rule}`, body);
    if (!answer.ok) {
      showInvalid(form, answer);
      return;
    }
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    showResults(box, `rule ${form.dataset.rule} saved`, []);
  });
}

const hookForm = document.getElementById("webhook-form");
hookForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = hookForm.elements;
  const rules = [...hookForm.querySelectorAll("input[name=rules]:checked")].map((box) => box.value);
  const body = { url: f.url.value.trim(), rules: rules.length ? rules : null };
  if (f.secret.value.trim()) body.secret = f.secret.value.trim();
  const answer = await call("POST", "/webhooks", body);
  if (!answer.ok) {
    showInvalid(hookForm, answer);
    return;
  }
  for (const el of hookForm.querySelectorAll(".field-error")) el.textContent = "";
  hookForm.reset();
  const made = answer.body.secret;
  const lines = made ? [{ ok: true, text: `its secret, shown this once: ${made}` }] : [];
  showResults(box, `webhook ${answer.body.id} added`, lines);
  refresh();
});
