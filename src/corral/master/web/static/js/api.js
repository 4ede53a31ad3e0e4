// Calls to the master's JSON API from the pages; the session cookie authenticates them.

/** Send a request; resolve to {ok, status, body} whatever the answer. */
export async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch("/api/v1" + path, init);
  const text = await answer.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  return { ok: answer.ok, status: answer.status, body: parsed };
}

/** A person-readable reason from an error answer. */
export function reason(answer) {
  const detail = answer.body && answer.body.detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return detail || `HTTP ${answer.status}`;
}

/** Ask before acting; resolves true when the person confirms. */
export function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** Run fn over items, at most `width` at a time; results in the items' order. */
export async function inParallel(items, width, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return results;
}

/** Fill a result box with one line per item (text only: names come from users). */
export function showResults(box, summary, lines) {
  box.replaceChildren();
  const head = document.createElement("p");
  head.textContent = summary;
  box.append(head);
  if (lines.length) {
    const list = document.createElement("ul");
    for (const { text, ok } of lines) {
      const item = document.createElement("li");
      item.textContent = text;
      item.className = ok ? "ok" : "failed";
      list.append(item);
    }
    box.append(list);
  }
}
