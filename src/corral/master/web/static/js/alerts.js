// The Alerts page: "Send test" queues a test notification to one webhook; the deliveries
// table (refreshed by htmx) shows how sending it went.
import { call, reason, showResults } from "./api.js";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-test-webhook]");
  if (!button) return;
  const id = button.dataset.testWebhook;
  const box = document.getElementById("alert-result");
  button.disabled = true;
  const answer = await call("POST", `/webhooks/${id}/test`);
  button.disabled = false;
  if (answer.ok) {
    showResults(box, `test queued for webhook ${id}: ${answer.body.message_id}`, []);
    document.body.dispatchEvent(new CustomEvent("pulse-jobs"));
  } else {
    showResults(box, `webhook ${id}: ${reason(answer)}`, [{ ok: false, text: reason(answer) }]);
  }
});
