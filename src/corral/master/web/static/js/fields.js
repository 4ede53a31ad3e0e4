// A 422's problems shown next to the fields they are about (by each problem's `loc`).
import { reason } from "./api.js";

/** Clear the form's messages, then put each problem beside its field. */
export function showInvalid(form, answer) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  const problems = Array.isArray(answer.body?.detail) ? answer.body.detail : [];
  if (!problems.length) {
    place(form, "body", reason(answer));
    return;
  }
  for (const problem of problems) {
    const path = (problem.loc || []).filter((part) => part !== "body").map(String);
    let name = "body";
    for (let n = path.length; n > 0; n--) {
      if (form.querySelector(`.field-error[data-for="${CSS.escape(path.slice(0, n).join("."))}"]`)) {
        name = path.slice(0, n).join(".");
        break;
      }
    }
    place(form, name, name === "body" && path.length ? `${path.join(".")}: ${problem.msg}` : problem.msg);
  }
}

function place(form, name, text) {
  const el = form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
  el.textContent = el.textContent ? `${el.textContent}; ${text}` : text;
}
