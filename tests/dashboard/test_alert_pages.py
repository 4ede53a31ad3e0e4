"""The Metrics and Alerts pages in Chromium: charts drawn from the history, alerts, a test send."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser import Watch
from master_api import JobsApi
from master_process import MasterProcess
from waiting import wait_for
from webhook_receiver import receiving

pytestmark = pytest.mark.xdist_group("dashboard-alerts")


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    """A master taking history points every second, evaluating alerts five times a second."""
    m = MasterProcess(
        tmp_path_factory.mktemp("alert-pages") / "data",
        history_interval_s=1,
        alert_interval_s=0.2,
        webhook_retry_base_s=0.2,
    )
    try:
        m.start()
        m.create_worker("w1", cpus=2)
        m.wait_state("w1", "running")
        jobs = JobsApi(m)
        jobs.wait(jobs.submit(["/bin/sh", "-c", "exit 1"])["id"])
        yield m
    finally:
        m.stop()


def points(master: MasterProcess) -> int:
    """How many history points the fleet has in the last 15 minutes."""
    answer = master.read("/metrics/history", params={"series": "jobs_pending", "window": "15m"})
    return len(answer["timestamps"])


def firing(master: MasterProcess) -> list[str]:
    """The names of the alerts firing now."""
    alerts = master.read("/alerts")["alerts"]
    return [a["alertname"] for a in alerts if a["state"] == "firing"]


def test_the_metrics_page_draws_every_chart(
    master: MasterProcess, watched: tuple[Page, Watch], screenshots: Path
) -> None:
    wait_for(lambda: points(master) >= 3, timeout=20, what="history points")
    page, watch = watched
    page.click("nav a[href='/charts']")
    expect(page.locator("h1")).to_contain_text("Metrics")
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(8)
    expect(page.locator("figure.chart canvas")).to_have_count(8)
    expect(page.locator("[data-chart=cpu] .u-legend")).to_contain_text("w1")
    expect(page.locator("[data-chart=finished] .u-legend")).to_contain_text("failed per min")
    expect(page.locator("[data-chart=queue] .note")).to_be_empty()
    page.click("button[data-window='15m']")
    expect(page.locator("button[data-window='15m']")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=screenshots / "dashboard-metrics.png", full_page=True)
    page.click("button[data-window='6h']")
    expect(page.locator("button[data-window='6h']")).to_have_attribute("aria-pressed", "true")
    assert page.url.endswith("/charts?window=6h")
    expect(page.locator("figure.chart canvas")).to_have_count(8)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    watch.assert_clean()


def test_the_alerts_page_shows_alerts_and_sends_a_test(
    master: MasterProcess, watched: tuple[Page, Watch], screenshots: Path
) -> None:
    tuned = {"threshold": 0, "for_s": 0}
    assert master.api.patch("/alert-rules/worker_memory_high", json=tuned).status_code == 200
    with receiving() as receiver:
        body = {"url": receiver.url, "secret": receiver.secret, "rules": ["worker_down"]}
        hook = master.api.post("/webhooks", json=body).json()
        wait_for(lambda: firing(master), timeout=20, what="an alert firing")
        page, watch = watched
        page.click("nav a[href='/alerts']")
        expect(page.locator("h1")).to_have_text("Alerts")
        row = page.locator("#alerts-now tr[data-alert=worker_memory_high]")
        expect(row).to_contain_text("firing")
        expect(row).to_contain_text("worker=w1")
        expect(page.locator("[data-count=alerts-firing]")).to_have_text("1")
        memory_rule = page.locator("form.rule-form[data-rule=worker_memory_high]")
        expect(memory_rule.locator("input[name=threshold]")).to_have_value("0")
        page.wait_for_load_state()  # the page's script listens for the click
        page.click(f"button[data-test-webhook='{hook['id']}']")
        expect(page.locator("#alert-result")).to_contain_text("test queued")
        wait_for(lambda: receiver.received, what="the test notification")
        delivered = page.locator("#deliveries tr", has_text="corral_webhook_test")
        expect(delivered).to_contain_text("delivered", timeout=15_000)
        page.screenshot(path=screenshots / "dashboard-alerts.png", full_page=True)
        watch.assert_clean()
    (sent,) = receiver.received
    assert sent.signed and sent.body["alerts"][0]["labels"]["alertname"] == "corral_webhook_test"
    back = {"threshold": 90, "for_s": 300}
    assert master.api.patch("/alert-rules/worker_memory_high", json=back).status_code == 200


def test_rules_are_tuned_and_webhooks_added_and_deleted_from_the_page(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    payload = "http://127.0.0.1:9/<img/src=x/onerror=alert(1)>"
    odd = {"url": payload, "rules": ["queue_backlog"]}
    assert master.api.post("/webhooks", json=odd).status_code == 201
    page, watch = watched
    page.goto("/alerts")
    page.wait_for_load_state()  # the page's script handles the forms
    expect(page.locator("#webhooks")).to_contain_text(payload)  # as text, not markup
    form = page.locator("form.rule-form[data-rule=queue_backlog]")
    form.locator("input[name=threshold]").fill("250")
    form.locator("input[name=for_s]").fill("30")
    form.locator("input[name=enabled]").uncheck()
    form.locator("button[type=submit]").click()
    expect(page.locator("#alert-result")).to_contain_text("rule queue_backlog saved")
    rule = master.read("/alert-rules/queue_backlog")
    assert (rule["threshold"], rule["for_s"], rule["enabled"]) == (250, 30, False)
    form.locator("input[name=repeat_interval_s]").fill("0")
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error[data-for=repeat_interval_s]")).to_contain_text("1")
    assert master.read("/alert-rules/queue_backlog")["repeat_interval_s"] == 14400

    page.click("#add-webhook summary")
    page.fill("#webhook-form input[name=url]", "ftp://127.0.0.1/hook")
    page.click("#webhook-form button[type=submit]")
    expect(page.locator("#webhook-form .field-error[data-for=url]")).not_to_be_empty()
    page.fill("#webhook-form input[name=url]", "http://127.0.0.1:9/from-the-page")
    page.check("#webhook-form input[value=worker_crash_loop]")
    page.click("#webhook-form button[type=submit]")
    expect(page.locator("#alert-result")).to_contain_text("its secret, shown this once: whsec_")
    (made,) = [h for h in master.read("/webhooks") if h["url"].endswith("/from-the-page")]
    assert made["rules"] == ["worker_crash_loop"]
    row = page.locator(f"#webhooks tr[data-webhook='{made['id']}']")
    expect(row).to_contain_text("worker_crash_loop")
    row.locator("button[data-delete-webhook]").click()
    expect(page.locator("#confirm-text")).to_have_text(
        f"Delete webhook {made['id']} and its deliveries?"
    )
    page.click("#confirm-ok")
    expect(row).to_have_count(0)
    assert master.send("GET", f"/webhooks/{made['id']}").status_code == 404
    watch.assert_clean(refusals_expected=2)
