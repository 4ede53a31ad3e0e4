"""Alert rules, webhooks and the bulk cancel through the API: tuning, refusals, the audit trail."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corral.db import models
from inprocess_master import InProcessMaster
from master_api import JobsApi, expect
from webhook_receiver import SECRET

HOOK = {"url": "http://127.0.0.1:9/hook", "secret": SECRET}


def test_rules_are_listed_tuned_and_kept_over_a_restart(master: InProcessMaster) -> None:
    rules = {r["name"]: r for r in master.read("/alert-rules")["rules"]}
    assert rules["worker_cpu_high"]["threshold"] == 90 and rules["worker_cpu_high"]["enabled"]
    assert rules["no_worker_running"]["firing"] == 0
    change = {"threshold": 7, "for_s": 1.5, "repeat_interval_s": 60, "enabled": False}
    tuned = expect(master.send("PATCH", "/alert-rules/queue_backlog", json=change), 200)
    assert {k: tuned[k] for k in change} == change
    again = expect(master.send("PATCH", "/alert-rules/queue_backlog", json={"enabled": True}), 200)
    assert again["threshold"] == 7 and again["enabled"], "what was not given stays"
    (last,) = master.read("/audit", params={"limit": 1})["entries"]
    assert (last["method"], last["route"]) == ("PATCH", "/api/v1/alert-rules/{name}")
    assert last["target"] == "name=queue_backlog" and last["status"] == 200
    master.__exit__(None, None, None)
    with InProcessMaster(master.data_dir) as restarted:
        kept = restarted.read("/alert-rules/queue_backlog")
    assert {k: kept[k] for k in change} == {**change, "enabled": True}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/alert-rules/no_such_rule", {"threshold": 1}),
        ("/alert-rules/queue_backlog", {"threshold": -1}),
        ("/alert-rules/queue_backlog", {"for_s": "60"}),
        ("/alert-rules/queue_backlog", {"repeat_interval_s": 0}),
        ("/alert-rules/queue_backlog", {"colour": "red"}),
    ],
)
def test_bad_tuning_is_refused_and_changes_nothing(
    master: InProcessMaster, path: str, body: dict[str, Any]
) -> None:
    before = master.read("/alert-rules")
    expect(master.send("PATCH", path, json=body), 422)
    assert master.read("/alert-rules") == before


def test_webhooks_keep_their_secret_to_themselves(master: InProcessMaster) -> None:
    made = expect(master.send("POST", "/webhooks", json={"url": "https://example.test/x"}), 201)
    assert made["secret"].startswith("whsec_"), "a secret the master made is shown once"
    given = expect(master.send("POST", "/webhooks", json={**HOOK, "rules": ["worker_down"]}), 201)
    assert given["secret"] is None and given["rules"] == ["worker_down"]
    listed = master.read("/webhooks")
    assert [h["id"] for h in listed] == [made["id"], given["id"]]
    assert "secret" not in str(listed) and SECRET not in str(listed)
    changed = master.send(
        "PATCH", f"/webhooks/{given['id']}", json={"rules": None, "enabled": False}
    )
    assert expect(changed, 200)["rules"] is None and not changed.json()["enabled"]
    row = master.portal.call(_stored_secret, master, given["id"])
    assert row["secret"].startswith("sealed:1:"), "sealed at rest"
    assert master.send("DELETE", f"/webhooks/{made['id']}").status_code == 204
    expect(master.send("GET", f"/webhooks/{made['id']}"), 404)
    expect(master.send("POST", f"/webhooks/{made['id']}/test"), 404)
    trail = master.read("/audit", params={"limit": 10})["entries"]
    routes = {(e["method"], e["route"]) for e in trail}
    assert ("POST", "/api/v1/webhooks") in routes
    assert ("PATCH", "/api/v1/webhooks/{webhook_id}") in routes
    assert ("DELETE", "/api/v1/webhooks/{webhook_id}") in routes


async def _stored_secret(master: InProcessMaster, hook_id: int) -> dict[str, str]:
    """The webhook's secret column as the database holds it."""
    svc = master.app.state.services
    table = models.webhooks
    query = select(table.c.secret_env).where(table.c.id == hook_id)

    def read() -> dict[str, str]:
        with svc.db.engine.begin() as conn:
            stored: dict[str, str] = conn.execute(query).scalar_one()
            return stored

    stored: dict[str, str] = await svc.db.run(read)
    return stored


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://127.0.0.1/hook"},
        {"url": "file:///etc/passwd"},
        {"url": "http://127.0.0.1/hook", "secret": "hunter2"},
        {"url": "http://127.0.0.1/hook", "rules": ["no_such_rule"]},
        {"url": "http://user@127.0.0.1/"},
        {"url": "http://127.0.0.1/a b"},
    ],
)
def test_bad_webhooks_are_refused(master: InProcessMaster, body: dict[str, Any]) -> None:
    answer = expect(master.send("POST", "/webhooks", json=body), 422)
    assert "hunter2" not in str(answer)
    assert master.read("/webhooks") == []


def test_cancel_all_matching_answers_counts(master: InProcessMaster) -> None:
    master.create_worker("idle", cpus=2, auto_start=False)
    jobs = JobsApi(master)
    ids = [jobs.submit(["/bin/true"], **extra)["id"] for extra in ({"account": "a"}, {}, {})]
    one = expect(master.send("POST", "/jobs/cancel", json={"account": "a"}), 200)
    assert one == {"matched": 1, "cancelled": 1, "ending": 0}
    assert jobs.get(ids[0])["state"] == "cancelled" and jobs.get(ids[1])["state"] == "pending"
    expect(master.send("POST", "/jobs/cancel", json={"state": ["finished"]}), 422)
    rest = expect(master.send("POST", "/jobs/cancel", json={"state": ["pending"]}), 200)
    assert rest == {"matched": 2, "cancelled": 2, "ending": 0}
    assert {jobs.get(i)["state"] for i in ids} == {"cancelled"}
    assert expect(master.send("POST", "/jobs/cancel", json={}), 200)["matched"] == 0


async def _evaluate(master: InProcessMaster) -> None:
    """One evaluation of every rule, on the master's loop."""
    master.app.state.services.alerts.step()


def test_jobs_a_changed_fleet_can_no_longer_run_raise_an_alert(tmp_path: Path) -> None:
    with InProcessMaster(tmp_path / "data", alert_interval_s=3600) as master:
        master.create_worker("idle", cpus=2, auto_start=False, labels={"gpu": "yes"})
        jobs = JobsApi(master)
        for labels in ({"gpu": "yes"}, {"gpu": "yes"}, {}):
            jobs.submit(["/bin/true"], labels=labels)
        expect(master.send("PATCH", "/alert-rules/jobs_unrunnable", json={"for_s": 0}), 200)
        master.portal.call(_evaluate, master)
        assert not [a for a in master.read("/alerts")["alerts"] if a["state"] == "firing"]
        expect(master.send("PATCH", "/worker-configs/idle", json={"labels": {}}), 200)
        master.portal.call(_evaluate, master)
        alerts = {a["alertname"]: a for a in master.read("/alerts")["alerts"]}
        assert alerts["jobs_unrunnable"]["state"] == "firing"
        assert alerts["jobs_unrunnable"]["value"] == 2, "the job without labels can still run"
        assert alerts["no_worker_running"]["state"] == "pending", "its for is a minute"
        rule = master.read("/alert-rules/jobs_unrunnable")
        assert rule["firing"] == 1
