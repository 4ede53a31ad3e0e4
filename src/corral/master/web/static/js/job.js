// A job's page: cancel or retry it; its output in the viewer.
import { call, confirmAction, reason, showResults } from "./api.js";
import { mountAll } from "./logview.js";

const bar = document.querySelector(".buttons[data-job]");
const id = bar.dataset.job;
for (const button of bar.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.dataset.action;
    if (!(await confirmAction(`${action} job ${id}?`))) return;
    const answer = await call("POST", `/jobs/${id}/${action}`);
    const box = document.getElementById("job-result");
    showResults(box, answer.ok ? `${action}: ${answer.body.state}` : `${action} failed: ${reason(answer)}`, []);
    if (answer.ok && action === "retry") window.location.reload();
  });
}
mountAll();
