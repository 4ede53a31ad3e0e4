"""Every page of the dashboard loads in Chromium with no error and no request elsewhere."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from browser import Watch
from dashboard.conftest import admin_token
from master_process import MasterProcess

pytestmark = pytest.mark.xdist_group("dashboard-pages")


@pytest.fixture(scope="module", autouse=True)
def fleet(master: MasterProcess) -> None:
    """A running worker with a label, and a job that ran on it."""
    master.create_worker("w1", cpus=2, labels={"zone": "a"})
    master.wait_state("w1", "running")
    r = master.api.post("/jobs", json={"command": ["sh", "-c", "echo out; echo err >&2"]})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    done = master.api.get(f"/jobs/{job_id}/wait", params={"timeout_s": 30})
    assert done.json()["state"] == "succeeded", done.text


PAGES = [
    ("/", "Overview"),
    ("/workers", "Workers"),
    ("/workers?state=running&label=zone%3Da&sort=memory&desc=true", "Workers"),
    ("/workers/w1", "Worker w1"),
    ("/workers/new", "New worker"),
    ("/workers/w1/edit", "Worker w1"),
    ("/jobs", "Jobs"),
    ("/jobs?state=succeeded&worker_id=w1", "Jobs"),
    ("/jobs/1", "Job 1"),
]


@pytest.mark.parametrize(("path", "heading"), PAGES)
def test_page_loads_clean(watched: tuple[Page, Watch], path: str, heading: str) -> None:
    page, watch = watched
    page.goto(path)
    expect(page.locator("h1")).to_contain_text(heading)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    watch.assert_clean()


def test_the_overview_shows_the_fleet(watched: tuple[Page, Watch], screenshots: Path) -> None:
    page, watch = watched
    expect(page.locator("[data-count=workers-running]")).to_have_text("1")
    expect(page.locator("[data-count=cpus-free]")).to_have_text("2")
    expect(page.locator("table.events")).to_contain_text("w1")
    page.screenshot(path=screenshots / "dashboard-overview.png", full_page=True)
    watch.assert_clean()


def test_a_workers_page_shows_its_config_history_and_logs(
    watched: tuple[Page, Watch], screenshots: Path
) -> None:
    page, watch = watched
    page.goto("/workers/w1")
    expect(page.locator("[data-field=state]")).to_have_text("running")
    expect(page.locator("dl.config")).to_contain_text("zone=a")
    expect(page.locator("table.events")).to_contain_text("registered")
    expect(page.locator(".logview")).to_have_attribute("data-status", "live")
    expect(page.locator(".logview .lines")).to_contain_text("registered instance")
    page.screenshot(path=screenshots / "dashboard-worker.png", full_page=True)
    watch.assert_clean()


def test_a_jobs_page_shows_its_attempts_and_whole_output(watched: tuple[Page, Watch]) -> None:
    page, watch = watched
    page.goto("/jobs/1")
    expect(page.locator("[data-field=state]")).to_have_text("succeeded")
    expect(page.locator("table.attempts")).to_contain_text("w1")
    lines = page.locator(".logview .lines")
    expect(lines.locator("span.stdout")).to_have_text(["out\n"])
    expect(lines.locator("span.stderr")).to_have_text(["err\n"])
    expect(page.locator(".logview")).to_have_attribute("data-status", "ended")
    page.select_option("[data-role=streams]", "stderr")
    expect(lines).to_have_text("err\n")
    with page.expect_download() as download:
        page.click("a[href='/jobs/1/stdout.log']")
    assert Path(download.value.path()).read_text() == "out\n"
    watch.assert_clean()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_from_the_master_only(watched: tuple[Page, Watch], path: str) -> None:
    page, watch = watched
    page.goto(path)
    expect(page.get_by_text("/api/v1/jobs").first).to_be_visible(timeout=30_000)
    if path == "/redoc":  # its footer linked a logo from a CDN: the vendored copy does not
        expect(page.get_by_text("API docs by Redocly")).to_be_visible()
    page.wait_for_load_state("networkidle")
    watch.assert_clean()


def test_a_browser_without_a_session_gets_a_login_page(
    master: MasterProcess, browser: Browser
) -> None:
    context = browser.new_context(base_url=master.url)
    page = context.new_page()
    watch = Watch(master.url)
    watch.attach(page)
    try:
        answer = page.goto("/workers")
        assert answer is not None and answer.status == 401
        page.fill("input[name=token]", admin_token(master))
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Overview")
        watch.assert_clean(refusals_expected=1)
    finally:
        context.close()


def test_every_answer_carries_a_policy_without_inline_script(master: MasterProcess) -> None:
    for path in ["/", "/workers", "/static/app.css", "/api/v1/health"]:
        r = httpx.get(master.url + path, headers=master.auth())
        assert r.status_code == 200, (path, r.text)
        policy = r.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy, policy
    assert httpx.get(master.url + "/api/v1/health").status_code == 401
