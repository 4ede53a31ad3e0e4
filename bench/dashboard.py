"""Dashboard figures: the overview's weight and time to data, cold; master CPU with tabs open."""

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from bench.supervision import Master
from corral.master.tokens import admin_token_path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABS = 10
COLD_LOADS = 5
# Bytes over the wire and milliseconds from navigation start, read in the page.
TIMINGS = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const assets = performance.getEntriesByType("resource");
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    return {
        bytes: nav.transferSize + assets.reduce((n, r) => n + r.transferSize, 0),
        requests: 1 + assets.length,
        first_paint_ms: paint ? paint.startTime : null,
        loaded_ms: nav.loadEventEnd,
    };
}"""


def dashboard(args: argparse.Namespace) -> dict[str, Any]:
    """Cold loads of the overview, then master CPU with no tab open and with TABS open."""
    with tempfile.TemporaryDirectory() as tmp:
        master = Master(Path(tmp))
        master.wait_ready()
        for i in range(args.workers):
            master.api.post("/worker-configs", json={"worker_id": f"w{i}", "cpus": 1})
        for i in range(args.workers):
            master.wait_running(f"w{i}")
        origin = f"http://127.0.0.1:{master.port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                cold = [_cold_load(browser, origin, master.data_dir) for _ in range(COLD_LOADS)]
                proc = psutil.Process(master.proc.pid)
                idle = _cpu_percent(proc, args.seconds)
                tabs = [_open_tab(browser, origin, master.data_dir) for _ in range(TABS)]
                watched = _cpu_percent(proc, args.seconds)
                for tab in tabs:
                    tab.close()
                browser.close()
        finally:
            master.close()
    return {
        "workers": args.workers,
        "overview_bytes_cold": cold[0]["bytes"],
        "overview_requests": cold[0]["requests"],
        "first_paint_ms_p50": round(statistics.median(c["first_paint_ms"] for c in cold), 1),
        "live_ms_p50": round(statistics.median(c["live_ms"] for c in cold), 1),
        "window_s": args.seconds,
        "master_cpu_percent_no_tab": idle,
        f"master_cpu_percent_{TABS}_tabs": watched,
    }


def _context(browser: Browser, origin: str, data_dir: Path) -> BrowserContext:
    """A fresh context (empty cache) holding a session cookie from the login link."""
    token = admin_token_path(data_dir).read_text().strip()
    answer = httpx.get(f"{origin}/login", params={"token": token}, follow_redirects=False)
    context = browser.new_context(base_url=origin)
    cookies = [{"name": k, "value": v, "url": origin} for k, v in answer.cookies.items()]
    context.add_cookies(cookies)  # type: ignore[arg-type]
    return context


def _cold_load(browser: Browser, origin: str, data_dir: Path) -> dict[str, Any]:
    """One load of the overview with an empty cache: bytes, and times to data and to live."""
    context = _context(browser, origin, data_dir)
    page = context.new_page()
    started = time.monotonic()
    page.goto("/")
    page.wait_for_selector("#conn[data-state=live]")
    live_ms = 1000 * (time.monotonic() - started)
    result: dict[str, Any] = page.evaluate(TIMINGS)
    context.close()
    return {**result, "live_ms": live_ms}


def _open_tab(browser: Browser, origin: str, data_dir: Path) -> BrowserContext:
    """A context showing the Workers page, its stream live."""
    context = _context(browser, origin, data_dir)
    page = context.new_page()
    page.goto("/workers")
    page.wait_for_selector("#conn[data-state=live]")
    return context


def _cpu_percent(proc: psutil.Process, seconds: float) -> float:
    """The process's CPU use over ``seconds``, in percent of one CPU."""
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return round(100 * used / seconds, 2)
