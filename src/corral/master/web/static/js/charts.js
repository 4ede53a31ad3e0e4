// The Metrics page: one uPlot chart per figure of the metrics history, over the chosen
// window, read whole from GET /metrics/history at load and again at each step; a master
// that restarted answers the same history from its database.
import { call, reason } from "./api.js";

const PALETTE = ["#2f6f4f", "#1f77b4", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
const HEIGHT = 220;
const SPANS = { "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400 };
const section = document.getElementById("charts");
const status = document.getElementById("charts-status");
const plots = new Map(); // chart id -> {plot, key}
let windowName = section.dataset.window;

function human(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "bytes") {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  if (unit === "s" && value !== 0 && Math.abs(value) < 1) {
    return `${Number((value * 1000).toPrecision(3))} ms`;
  }
  const text = Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
  return unit ? `${text} ${unit}` : text;
}

function options(figure, answer, width) {
  const unit = figure.dataset.unit;
  const ink = getComputedStyle(document.body).color;
  const grid = { stroke: "rgba(128,128,128,0.2)" };
  return {
    width,
    height: HEIGHT,
    scales: {
      // The whole window, however few its points; figures from zero up.
      x: { time: true, range: () => { const now = Date.now() / 1000; return [now - SPANS[windowName], now]; } },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    legend: { live: true },
    series: [
      {},
      ...answer.series.map((s, i) => ({
        label: s.worker ?? s.name.replace(/_/g, " "),
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        value: (u, v) => human(v, unit),
      })),
    ],
    axes: [
      { stroke: ink, grid },
      {
        stroke: ink,
        grid,
        values: (u, values) => values.map((v) => human(v, unit)),
        // As wide as its longest label ("0.75 CPUs"), at about 7 px a character.
        size: (u, labels) => 20 + 7 * Math.max(4, ...(labels ?? []).map((l) => l.length)),
      },
    ],
  };
}

async function draw(figure) {
  const params = new URLSearchParams({ window: windowName });
  for (const name of figure.dataset.series.split(",")) params.append("series", name);
  const answer = await call("GET", `/metrics/history?${params}`);
  const note = figure.querySelector(".note");
  if (!answer.ok) {
    note.textContent = `cannot read the history: ${reason(answer)}`;
    return false;
  }
  const body = answer.body;
  note.textContent = body.timestamps.length ? "" : "no points in this window yet";
  const data = [body.timestamps, ...body.series.map((s) => s.values)];
  const key = `${windowName}|${body.series.map((s) => `${s.name}:${s.worker}`).join(",")}`;
  const known = plots.get(figure.dataset.chart);
  if (known && known.key === key) {
    known.plot.setData(data);
    return true;
  }
  known?.plot.destroy();
  const holder = figure.querySelector(".plot");
  holder.replaceChildren();
  const plot = new globalThis.uPlot(options(figure, body, holder.clientWidth || 400), data, holder);
  plots.set(figure.dataset.chart, { plot, key });
  return true;
}

async function drawAll() {
  const figures = [...section.querySelectorAll("figure.chart")];
  try {
    const done = await Promise.all(figures.map(draw));
    status.textContent = done.every(Boolean) ? `updated ${new Date().toLocaleTimeString()}` : "";
  } catch (error) {
    status.textContent = `the master does not answer (${error.message}); trying again`;
  }
  section.dataset.drawn = String(Date.now());
}

for (const button of document.querySelectorAll("button[data-window]")) {
  button.addEventListener("click", () => {
    windowName = button.dataset.window;
    for (const other of document.querySelectorAll("button[data-window]")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    const url = new URL(window.location.href);
    url.searchParams.set("window", windowName);
    window.history.replaceState(null, "", url);
    drawAll();
  });
}

window.addEventListener("resize", () => {
  for (const [id, { plot }] of plots) {
    const holder = section.querySelector(`figure[data-chart="${id}"] .plot`);
    plot.setSize({ width: holder.clientWidth, height: HEIGHT });
  }
});

drawAll();
setInterval(() => { if (!document.hidden) drawAll(); }, Math.max(5, Number(section.dataset.refreshS)) * 1000);
