"""Start, stop, crash, restart and give up: real worker processes under a real master."""

import os
import re
import signal

from master_process import MasterProcess, misbehave, process_alive
from waiting import wait_for


def test_start_registers_then_stop_ends_the_process(master: MasterProcess) -> None:
    master.create_worker("w1", auto_start=False)
    assert master.status("w1")["state"] == "stopped"
    r = master.api.post("/workers/w1/start")
    assert r.status_code == 200, r.text
    running = master.wait_state("w1", "running")
    assert running["desired_state"] == "running"
    assert running["instance_id"] and process_alive(running["pid"])
    assert running["cpu_ids"], "a registered worker reports its usable CPUs"
    r = master.api.post("/workers/w1/stop", json={"graceful": True, "timeout_s": 5})
    assert r.status_code == 200, r.text
    stopped = r.json()
    assert stopped["state"] == "stopped" and stopped["desired_state"] == "stopped"
    assert stopped["pid"] is None
    wait_for(lambda: not process_alive(running["pid"]), what="worker process gone")
    events = "\n".join(master.events("w1"))
    for edge in (
        "stopped -> starting",
        "starting -> running",
        "running -> stopping",
        "stopping -> stopped",
    ):
        assert edge in events


def test_start_of_a_running_worker_is_refused(master: MasterProcess) -> None:
    master.create_worker("w1")
    master.wait_state("w1", "running")
    r = master.api.post("/workers/w1/start")
    assert r.status_code == 409
    assert "already running" in r.json()["detail"]


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(master: MasterProcess) -> None:
    master.create_worker("stubborn", env=misbehave(ignore_sigterm="1"))
    pid = master.wait_state("stubborn", "running")["pid"]
    r = master.api.post("/workers/stubborn/stop", json={"graceful": True, "timeout_s": 0.5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "stopped"
    assert body["exit_signal"] == signal.SIGKILL
    assert not process_alive(pid)


def test_graceful_stop_exits_cleanly(master: MasterProcess) -> None:
    master.create_worker("w1")
    master.wait_state("w1", "running")
    body = master.api.post("/workers/w1/stop", json={"timeout_s": 10}).json()
    assert body["state"] == "stopped"
    assert body["exit_code"] == 0 and body["exit_signal"] is None


def test_crash_is_restarted_with_growing_backoff(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=300, max_restart_attempts=10)
    first = master.wait_state("w1", "running")
    os.kill(first["pid"], signal.SIGKILL)
    second = master.wait_state("w1", "running", restart_count=1)
    assert second["pid"] != first["pid"] and second["instance_id"] != first["instance_id"]
    assert second["exit_signal"] is None, "a new start clears the last exit"
    delays = []
    for attempt in (2, 3):
        pid = master.status("w1")["pid"]
        os.kill(pid, signal.SIGKILL)
        st = master.wait_state("w1", "running", restart_count=attempt)
        assert st["pid"] != pid
        delays.append(_scheduled_delay(master, "w1"))
    # base 0.3 s doubling: 0.6 s then 1.2 s, each within the 20 % jitter
    assert 0.48 <= delays[0] <= 0.72, delays
    assert 0.96 <= delays[1] <= 1.44, delays
    events = "\n".join(master.events("w1"))
    assert "exited unexpectedly with signal SIGKILL" in events
    assert "auto-restart #3" in events


def _scheduled_delay(master: MasterProcess, worker_id: str) -> float:
    """The backoff the master chose for the latest auto-restart, as its event says."""
    lines = [ln for ln in master.events(worker_id) if "auto-restart #" in ln]
    found = re.search(r"after ([0-9.]+) s backoff", lines[-1])
    assert found, lines[-1]
    return float(found.group(1))


def test_restart_budget_spent_leads_to_error_until_started_by_hand(master: MasterProcess) -> None:
    master.create_worker(
        "flaky", restart_delay_ms=0, max_restart_attempts=2, env=misbehave(exit_at_start="3")
    )
    st = master.wait_state("flaky", "error")
    assert st["restart_count"] == 2
    assert st["exit_code"] == 3
    assert "restart budget spent" in st["last_error"]
    assert st["desired_state"] == "running"
    master.api.patch("/worker-configs/flaky", json={"env": {}})
    r = master.api.post("/workers/flaky/start")
    assert r.status_code == 200, r.text
    master.wait_state("flaky", "running")


def test_no_auto_restart_leaves_the_worker_crashed(master: MasterProcess) -> None:
    master.create_worker("w1", auto_restart=False)
    pid = master.wait_state("w1", "running")["pid"]
    os.kill(pid, signal.SIGKILL)
    st = master.wait_state("w1", "crashed")
    assert st["exit_signal"] == signal.SIGKILL and st["error_count"] == 1
    assert st["restart_count"] == 0


def test_restart_gives_a_new_instance(master: MasterProcess) -> None:
    master.create_worker("w1")
    before = master.wait_state("w1", "running")
    r = master.api.post("/workers/w1/restart", json={"graceful": True, "timeout_s": 5})
    assert r.status_code == 200, r.text
    after = master.wait_state("w1", "running")
    assert after["instance_id"] != before["instance_id"]
    assert not process_alive(before["pid"])


def test_batch_reports_each_worker(master: MasterProcess) -> None:
    for wid in ("a", "b"):
        master.create_worker(wid, auto_start=False)
    r = master.api.post(
        "/workers/batch", json={"action": "start", "worker_ids": ["a", "nope", "b"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    results = {item["worker_id"]: item for item in body["results"]}
    assert [item["worker_id"] for item in body["results"]] == ["a", "nope", "b"]
    assert results["a"]["ok"] and results["b"]["ok"]
    assert not results["nope"]["ok"] and results["nope"]["status_code"] == 404
    assert body["succeeded"] == 2 and body["failed"] == 1
    for wid in ("a", "b"):
        master.wait_state(wid, "running")
    r = master.api.post(
        "/workers/batch",
        json={"action": "stop", "worker_ids": ["a", "b"], "options": {"graceful": False}},
    )
    assert r.json()["succeeded"] == 2
    assert {master.status(w)["state"] for w in ("a", "b")} == {"stopped"}


def test_overview_and_summary_count_the_fleet(master: MasterProcess) -> None:
    master.create_worker("a", cpus=2)
    master.create_worker("b", auto_start=False)
    master.wait_state("a", "running")
    overview = master.api.get("/workers/stats/overview").json()
    assert overview["total"] == 2
    assert overview["by_state"]["running"] == 1 and overview["by_state"]["stopped"] == 1
    summary = master.api.get("/worker-configs/stats/summary").json()
    assert summary["total"] == 2 and summary["by_deployment_type"] == {"local": 2}
    assert summary["declared_cpus"] == 2 and summary["auto_start"] == 1


def test_health_follows_the_heartbeat(master: MasterProcess) -> None:
    master.create_worker("w1", auto_restart=False)
    pid = master.wait_state("w1", "running")["pid"]
    wait_for(lambda: master.api.get("/workers/w1/health").status_code == 200, what="healthy")
    os.kill(pid, signal.SIGSTOP)
    try:
        body = wait_for(
            lambda: (r := master.api.get("/workers/w1/health")).status_code == 503 and r.json(),
            what="unhealthy after the lease",
        )
        assert not body["healthy"] and body["seconds_since_heartbeat"] >= body["lease_s"]
        master.wait_state("w1", "lost")
        assert master.api.get("/workers/w1/health").json()["state"] == "lost"
    finally:
        os.kill(pid, signal.SIGCONT)


def test_deleting_a_running_worker_stops_it_first(master: MasterProcess) -> None:
    master.create_worker("w1")
    pid = master.wait_state("w1", "running")["pid"]
    assert master.api.delete("/worker-configs/w1").status_code == 204
    assert not process_alive(pid)
    assert master.api.get("/workers/w1/status").status_code == 404
    assert master.api.get("/worker-configs/w1").status_code == 404
