// The Workers page: filters submit themselves; start, stop or restart the picked workers.
import { call, confirmAction, reason, showResults } from "./api.js";
import { Selection } from "./selection.js";

const count = document.getElementById("selected-count");
const selection = new Selection("workers", () => {
  count.textContent = `${selection.picked.size} selected`;
});

document.getElementById("filters").addEventListener("change", (event) => {
  if (event.target.tagName === "SELECT") event.currentTarget.requestSubmit();
});

for (const button of document.querySelectorAll("#actions button[data-action]")) {
  button.addEventListener("click", () => act(button.dataset.action));
}

async function act(action) {
  const ids = [...selection.picked];
  const box = document.getElementById("batch-result");
  if (!ids.length) {
    showResults(box, "Pick one worker or more first.", []);
    return;
  }
  const noun = ids.length === 1 ? "worker" : "workers";
  if (!(await confirmAction(`${action[0].toUpperCase()}${action.slice(1)} ${ids.length} ${noun}?`))) return;
  showResults(box, `${action}: ${ids.length} ${noun}…`, []);
  const answer = await call("POST", "/workers/batch", { action, worker_ids: ids });
  if (!answer.ok) {
    showResults(box, `${action} refused: ${reason(answer)}`, []);
    return;
  }
  const { succeeded, failed, results } = answer.body;
  const lines = results.map((r) => ({
    ok: r.ok,
    text: r.ok ? `${r.worker_id}: ${r.state}` : `${r.worker_id}: ${r.error}`,
  }));
  showResults(box, `${action}: ${succeeded} done, ${failed} failed`, lines);
  selection.clear();
}
