// Rows picked with checkboxes, kept across the live table's refreshes.

export class Selection {
  constructor(container, onChange) {
    this.container = container;
    this.picked = new Set();
    this.onChange = onChange;
    document.addEventListener("change", (event) => this.changed(event.target));
    document.body.addEventListener("htmx:afterSettle", () => this.restore());
  }

  boxes() {
    return [...document.querySelectorAll(`#${this.container} input.pick`)];
  }

  changed(target) {
    if (target.id === "select-all") {
      for (const box of this.boxes()) this.set(box, target.checked);
    } else if (target.classList.contains("pick")) {
      this.set(target, target.checked);
    } else {
      return;
    }
    this.onChange();
  }

  set(box, on) {
    box.checked = on;
    if (on) this.picked.add(box.value); else this.picked.delete(box.value);
  }

  restore() {
    const boxes = this.boxes();
    for (const box of boxes) box.checked = this.picked.has(box.value);
    const all = document.getElementById("select-all");
    if (all) all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    this.onChange();
  }

  clear() {
    this.picked.clear();
    this.restore();
  }
}
