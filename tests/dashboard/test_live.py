"""Pages follow the fleet without a reload: a killed worker, a job printing as it runs."""

import os
import signal
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from browser import Watch
from master_process import MasterProcess

pytestmark = pytest.mark.xdist_group("dashboard-live")


def test_a_killed_workers_row_changes_state_within_2_s(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    master.create_worker("doomed", restart_delay_ms=600_000)
    pid = master.wait_state("doomed", "running")["pid"]
    page, watch = watched
    page.goto("/workers")
    state = page.locator("tr[data-worker=doomed] [data-field=state]")
    expect(state).to_have_text("running")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    os.kill(pid, signal.SIGKILL)
    expect(state).to_have_text("crashed", timeout=2000)
    watch.assert_clean()


def test_output_appears_in_the_viewer_as_the_job_prints_it(
    master: MasterProcess, watched: tuple[Page, Watch], tmp_path: Path
) -> None:
    master.create_worker("printer")
    master.wait_state("printer", "running")
    go_on, finish = tmp_path / "go-on", tmp_path / "finish"
    script = (
        f"echo first; while [ ! -e {go_on} ]; do sleep 0.02; done; echo second; "
        f"echo third >&2; while [ ! -e {finish} ]; do sleep 0.02; done; echo last"
    )
    r = master.api.post("/jobs", json={"command": ["sh", "-c", script]})
    assert r.status_code == 201, r.text
    page, watch = watched
    page.goto(f"/jobs/{r.json()['id']}")
    viewer = page.locator(".logview")
    out, err = viewer.locator(".lines span.stdout"), viewer.locator(".lines span.stderr")
    expect(out).to_have_text(["first\n"])
    expect(viewer).to_have_attribute("data-status", "live")
    go_on.touch()
    # The two pipes are read apart: order holds within each stream, not between them.
    expect(out).to_have_text(["first\n", "second\n"])
    expect(err).to_have_text(["third\n"])
    # Paused, the viewer holds no stream; resumed, it takes up where it stopped.
    page.click("[data-role=pause]")
    expect(viewer).to_have_attribute("data-status", "paused")
    finish.touch()
    expect(page.locator("[data-field=state]")).to_have_text("succeeded")
    page.click("[data-role=pause]")
    expect(out).to_have_text(["first\n", "second\n", "last\n"])
    expect(err).to_have_text(["third\n"])
    expect(viewer).to_have_attribute("data-status", "ended")
    page.fill("[data-role=filter]", "/^(fir|la)st$/")
    expect(viewer.locator(".lines span")).to_have_text(["first\n", "last\n"])
    watch.assert_clean()


def test_a_hidden_page_closes_its_stream_and_catches_up_when_shown(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    page, watch = watched
    page.goto("/workers")
    conn = page.locator("#conn")
    expect(conn).to_have_attribute("data-state", "live")
    set_hidden = """hidden => {
        Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(set_hidden, True)
    expect(conn).to_have_attribute("data-state", "paused")
    master.create_worker("while-hidden", auto_start=False)
    page.evaluate(set_hidden, False)
    expect(page.locator("tr[data-worker=while-hidden]")).to_be_visible()
    expect(conn).to_have_attribute("data-state", "live")
    watch.assert_clean()


def test_the_viewer_keeps_at_most_3000_lines(
    master: MasterProcess, watched: tuple[Page, Watch], tmp_path: Path
) -> None:
    master.create_worker("chatty")
    master.wait_state("chatty", "running")
    gate = tmp_path / "gate"
    script = f"echo start; while [ ! -e {gate} ]; do sleep 0.02; done; seq 1 4000; echo done"
    r = master.api.post("/jobs", json={"command": ["sh", "-c", script]})
    assert r.status_code == 201, r.text
    page, watch = watched
    page.goto(f"/jobs/{r.json()['id']}")
    lines = page.locator(".logview .lines span")
    expect(lines).to_have_text(["start\n"])
    gate.touch()
    expect(page.locator(".logview")).to_have_attribute("data-status", "ended", timeout=30_000)
    expect(lines).to_have_count(3000)
    expect(lines.first).to_have_text("1002\n")
    expect(lines.last).to_have_text("done\n")
    watch.assert_clean()


def test_a_tab_holds_one_stream_the_viewers_while_it_follows(
    master: MasterProcess, watched: tuple[Page, Watch], tmp_path: Path
) -> None:
    master.create_worker("later", auto_start=False, labels={"pool": "later"})
    finish = tmp_path / "finish"
    script = f"echo started; while [ ! -e {finish} ]; do sleep 0.02; done"
    job = {"command": ["sh", "-c", script], "labels": {"pool": "later"}}
    r = master.api.post("/jobs", json=job)
    assert r.status_code == 201, r.text
    page, watch = watched
    job_page = f"/jobs/{r.json()['id']}"
    streams: list[str] = []

    def record(req: Request) -> None:
        # The streams of this page, not those of the page the login left open.
        if req.resource_type == "eventsource" and req.frame.url.endswith(job_page):
            streams.append(req.url)

    page.on("request", record)
    page.goto(job_page)
    state = page.locator("[data-field=state]")
    expect(state).to_have_text("pending")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    # The job's state changes reach the page on the viewer's stream: it is the only one.
    assert master.api.post("/workers/later/start").status_code in (200, 202)
    expect(page.locator(".logview .lines span.stdout")).to_have_text(["started\n"])
    expect(state).to_have_text("running")
    assert len(streams) == 1 and "/output?" in streams[0] and "pulse=1" in streams[0], streams
    # Paused, the viewer gives the tab's signals back to the page's own stream, and takes
    # them again when resumed.
    for pause, then in (("paused", "/ui/events"), ("live", "/output?")):
        with page.expect_request(lambda req: req.resource_type == "eventsource") as opened:
            page.click("[data-role=pause]")
        assert then in opened.value.url, opened.value.url
        expect(page.locator(".logview")).to_have_attribute("data-status", pause)
    # The job ends: so does the viewer's stream, and the page's own one follows on.
    with page.expect_request(lambda req: req.resource_type == "eventsource") as opened:
        finish.touch()
        expect(state).to_have_text("succeeded")
    assert opened.value.url.endswith("/ui/events"), opened.value.url
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    assert len(streams) == 4, streams
    watch.assert_clean()
