// A worker's page: start, stop or restart it; its logs in the viewer.
import { call, confirmAction, reason, showResults } from "./api.js";
import { mountAll } from "./logview.js";

const bar = document.querySelector(".buttons[data-worker]");
const id = bar.dataset.worker;
for (const button of bar.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.dataset.action;
    if (action !== "start" && !(await confirmAction(`${action} worker ${id}?`))) return;
    const answer = await call("POST", `/workers/${encodeURIComponent(id)}/${action}`);
    const box = document.getElementById("action-result");
    showResults(box, answer.ok ? `${action}: ${answer.body.state}` : `${action} failed: ${reason(answer)}`, []);
  });
}
mountAll();
