"""Acting from the pages: batch restarts, the config form, cancelling all matching jobs."""

import pytest
from playwright.sync_api import Page, expect

from browser import Watch
from master_process import MasterProcess
from waiting import wait_for

pytestmark = pytest.mark.xdist_group("dashboard-actions")


def test_a_batch_restart_of_three_workers(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    ids = ["r1", "r2", "r3"]
    for worker_id in ids:
        master.create_worker(worker_id, cpus=1, labels={"batch": "yes"})
    before = {w: master.wait_state(w, "running")["instance_id"] for w in ids}
    page, watch = watched
    page.goto("/workers?label=batch%3Dyes")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.check("#select-all")
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.click("#actions button[data-action=restart]")
    expect(page.locator("#confirm-text")).to_have_text("Restart 3 workers?")
    page.click("#confirm-ok")
    result = page.locator("#batch-result")
    expect(result).to_contain_text("restart: 3 done, 0 failed", timeout=30_000)
    expect(result.locator("li.ok")).to_have_count(3)
    for worker_id in ids:
        after = master.wait_state(worker_id, "running")["instance_id"]
        assert after != before[worker_id], f"{worker_id} was not restarted"
    watch.assert_clean()


def test_a_config_made_through_the_form_shows_a_422_beside_its_field(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    page, watch = watched
    page.goto("/workers/new")
    page.fill("input[name=worker_id]", "formed")
    page.fill("input[name=cpus]", "0")
    page.fill("textarea[name=labels]", "team=blue")
    page.fill("textarea[name=secret_env]", "API_KEY=hush")
    page.click("button[type=submit]")
    cpus_error = page.locator(".field-error[data-for=cpus]")
    expect(cpus_error).to_contain_text("greater than or equal to 1")
    expect(page.locator(".field-error[data-for=worker_id]")).to_have_text("")
    page.fill("input[name=cpus]", "1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{master.url}/workers/formed")
    expect(page.locator("[data-field=state]")).to_have_text("running", timeout=15_000)
    expect(page.locator("dl.config")).to_contain_text("team=blue")
    expect(page.locator("dl.config")).to_contain_text("API_KEY")
    assert "hush" not in page.content(), "a secret value is never shown"
    watch.assert_clean(refusals_expected=1)


def test_editing_then_deleting_a_config(master: MasterProcess, watched: tuple[Page, Watch]) -> None:
    master.create_worker("edited", auto_start=False)
    page, watch = watched
    page.goto("/workers/edited/edit")
    page.fill("input[name=name]", "renamed")
    page.fill("input[name=restart_delay_ms]", "250")
    page.fill("input[name=cpu_ids]", "1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{master.url}/workers/edited")
    expect(page.locator("dl.config")).to_contain_text("renamed")
    edited = master.api.get("/worker-configs/edited").json()
    assert (edited["restart_delay_ms"], edited["cpu_ids"]) == (250, [1])
    page.goto("/workers/edited/edit")
    page.click("#delete")
    expect(page.locator("#confirm-text")).to_contain_text("Delete worker edited?")
    page.click("#confirm-ok")
    expect(page).to_have_url(f"{master.url}/workers")
    assert master.api.get("/worker-configs/edited").status_code == 404
    watch.assert_clean()


def test_cancelling_all_matching_pending_jobs(
    master: MasterProcess, watched: tuple[Page, Watch]
) -> None:
    # Only a stopped worker has the label they need: they stay pending. Over a page of them.
    master.create_worker("parked", auto_start=False, labels={"pool": "parked"})
    job = {"command": ["true"], "labels": {"pool": "parked"}}
    r = master.api.post("/jobs/batch", json={"jobs": [{**job, "account": "bulk"}] * 60})
    assert r.status_code == 201, r.text
    other = master.api.post("/jobs", json={**job, "account": "keep"})
    page, watch = watched
    page.goto("/jobs?state=pending&account=bulk")
    expect(page.locator("#matching")).to_have_text("60")
    expect(page.locator("tbody tr")).to_have_count(50)
    page.click("#select-matching")
    expect(page.locator("#selected-count")).to_have_text("all 60 matching selected")
    page.click(".actions button[data-action=cancel]")
    expect(page.locator("#confirm-text")).to_have_text("Cancel 60 jobs?")
    page.click("#confirm-ok")
    expect(page.locator("#job-result")).to_contain_text(
        "cancel: 60 matching, 60 cancelled, 0 ending"
    )
    expect(page.locator("#matching")).to_have_text("0")

    def states() -> set[str]:
        listed = master.api.get("/jobs", params={"account": "bulk", "limit": 1000}).json()
        return {job["state"] for job in listed["jobs"]}

    wait_for(lambda: states() == {"cancelled"}, what="every bulk job cancelled")
    assert master.api.get(f"/jobs/{other.json()['id']}").json()["state"] == "pending"
    watch.assert_clean()


def test_submitting_a_job_from_the_form(master: MasterProcess, watched: tuple[Page, Watch]) -> None:
    master.create_worker("runner", labels={"kind": "form"})
    master.wait_state("runner", "running")
    page, watch = watched
    page.goto("/jobs")
    page.click("#submit summary")
    page.fill("#submit-form input[name=command]", "python3 -c 'print(\"from the form\")'")
    page.fill("#submit-form input[name=labels]", "kind=form")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Job ")
    expect(page.locator(".logview .lines")).to_have_text("from the form\n", timeout=15_000)
    expect(page.locator("dl.config")).to_contain_text("kind=form")
    watch.assert_clean()
