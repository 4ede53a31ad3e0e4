"""Alerts against a real master and a real receiver: fire, resolve, retries, restarts."""

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from integration.test_database_outages import degraded
from integration.test_metrics import scrape
from master_api import JobsApi, expect
from master_process import MasterFactory, MasterProcess
from pgserver import PgServer
from waiting import wait_for
from webhook_receiver import Receiver, receiving

FAST = {"alert_interval_s": 0.2, "webhook_retry_base_s": 0.2}


def add_webhook(master: MasterProcess, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """A webhook posting to the receiver, with its secret."""
    body = {"url": receiver.url, "secret": receiver.secret, **fields}
    hook: dict[str, Any] = expect(master.send("POST", "/webhooks", json=body), 201)
    assert hook["secret"] is None, "a secret given is never answered"
    return hook


def deliveries(master: MasterProcess, hook_id: int) -> list[dict[str, Any]]:
    """The webhook's deliveries, newest first."""
    found: list[dict[str, Any]] = master.read(f"/webhooks/{hook_id}/deliveries")["deliveries"]
    return found


def test_an_alert_fires_then_resolves_signed(start_master: MasterFactory) -> None:
    master = start_master(**FAST)
    master.create_worker("w1", cpus=1, auto_start=False)
    tuned = master.send("PATCH", "/alert-rules/no_worker_running", json={"for_s": 0})
    assert expect(tuned, 200)["for_s"] == 0
    with receiving() as receiver:
        add_webhook(master, receiver, rules=["no_worker_running"])
        job = JobsApi(master).submit(["/bin/true"])
        (fired,) = wait_for(lambda: receiver.with_status("firing"), timeout=20, what="firing")
        alerts = master.read("/alerts")["alerts"]
        (alert,) = [a for a in alerts if a["alertname"] == "no_worker_running"]
        assert alert["state"] == "firing" and alert["value"] == 1
        assert alert["labels"] == {"alertname": "no_worker_running"}

        expect(master.send("POST", "/workers/w1/start"), 200)
        JobsApi(master).wait(job["id"])
        (resolved,) = wait_for(
            lambda: receiver.with_status("resolved"), timeout=20, what="resolved"
        )
    assert fired.signed and resolved.signed
    assert fired.message_id != resolved.message_id
    body = fired.body
    assert body["version"] == "4" and body["groupLabels"] == {"alertname": "no_worker_running"}
    (item,) = body["alerts"]
    assert item["status"] == "firing" and item["endsAt"] == "0001-01-01T00:00:00Z"
    (done,) = resolved.body["alerts"]
    assert done["fingerprint"] == item["fingerprint"] and done["endsAt"] > done["startsAt"]
    assert [a for a in master.read("/alerts")["alerts"] if a["state"] == "resolved"]
    assert receiver.secret.removeprefix("whsec_") not in master.log()


def test_a_failing_receiver_gets_the_same_delivery_again_a_4xx_ends_it(
    start_master: MasterFactory,
) -> None:
    master = start_master(**FAST)
    with receiving(answers=[500, 500]) as receiver:
        hook = add_webhook(master, receiver)
        queued = expect(master.send("POST", f"/webhooks/{hook['id']}/test"), 202)
        wait_for(lambda: len(receiver.received) == 3, timeout=20, what="three attempts")
        (sent,) = wait_for(
            lambda: [d for d in deliveries(master, hook["id"]) if d["state"] == "delivered"],
            what="the delivery delivered",
        )
        receiver.answers.append(410)  # gone: no use trying again
        refused = expect(master.send("POST", f"/webhooks/{hook['id']}/test"), 202)
        (dead,) = wait_for(
            lambda: [d for d in deliveries(master, hook["id"]) if d["state"] == "dead"],
            what="the delivery given up",
        )
    assert dead["message_id"] == refused["message_id"]
    assert (dead["attempts"], dead["last_error"]) == (1, "HTTP 410")
    assert [r.answered for r in receiver.received] == [500, 500, 200, 410]
    assert [r.message_id for r in receiver.received[:3]] == [queued["message_id"]] * 3
    assert all(r.signed for r in receiver.received)
    assert sent["attempts"] == 3 and sent["status"] == "test" and sent["last_error"] is None
    samples = scrape(master)
    assert samples[("corral_webhook_deliveries_total", frozenset({("result", "failed")}))] == 2
    assert samples[("corral_webhook_deliveries_total", frozenset({("result", "delivered")}))] == 1
    assert samples[("corral_webhook_deliveries_total", frozenset({("result", "dead")}))] == 1
    for rule in master.read("/alert-rules")["rules"]:
        assert ("corral_alerts_firing", frozenset({("alertname", rule["name"])})) in samples


def test_a_pending_delivery_is_sent_after_a_master_restart(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # Retries seconds apart: the second attempt can only come from the next master, once due.
    master = start_master(data, webhook_retry_base_s=3, alert_interval_s=0.2)
    with receiving(answers=[503]) as receiver:
        hook = add_webhook(master, receiver)
        queued = expect(master.send("POST", f"/webhooks/{hook['id']}/test"), 202)
        wait_for(lambda: receiver.received, what="the first attempt")
        master.stop()
        assert len(receiver.received) == 1, "the master stopped before it tried again"
        again = start_master(data, alert_interval_s=0.2)
        wait_for(lambda: len(receiver.received) == 2, timeout=20, what="the attempt after restart")
    assert [r.message_id for r in receiver.received] == [queued["message_id"]] * 2
    assert receiver.received[1].signed, "the secret opens after the restart"
    wait_for(lambda: deliveries(again, hook["id"])[0]["state"] == "delivered")


@pytest.mark.postgres
def test_an_alert_raised_while_the_database_is_down_is_sent_once_it_is_back(
    start_master: MasterFactory, own_pg: PgServer
) -> None:
    master = start_master(database_url=own_pg.url(own_pg.create_database()), **FAST)
    status = master.create_worker("w1", cpus=1, auto_restart=False)
    pid = master.wait_state(status["worker_id"], "running")["pid"]
    expect(master.send("PATCH", "/alert-rules/worker_down", json={"for_s": 0}), 200)
    with receiving() as receiver:
        add_webhook(master, receiver, rules=["worker_down"])
        own_pg.halt()
        try:
            wait_for(lambda: degraded(master), timeout=15, what="the database seen down")
            os.kill(pid, signal.SIGKILL)

            def firing() -> list[dict[str, Any]]:
                alerts = master.read("/alerts")["alerts"]  # from memory: no database needed
                return [
                    a for a in alerts if a["alertname"] == "worker_down" and a["state"] == "firing"
                ]

            (alert,) = wait_for(firing, timeout=20, what="worker_down firing")
            assert alert["labels"]["worker"] == "w1"
            wait_for(lambda: "wait for the database" in master.log(), what="the courier waiting")
            assert not receiver.received
        finally:
            own_pg.resume()
        (sent,) = wait_for(lambda: receiver.with_status("firing"), timeout=30, what="the notice")
    assert sent.signed and sent.body["commonLabels"] == {"alertname": "worker_down", "worker": "w1"}
    assert master.proc is not None and master.proc.poll() is None, "the master runs on"
