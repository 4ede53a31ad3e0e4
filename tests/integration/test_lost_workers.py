"""Heartbeat leases with real processes: a silent worker is lost, then comes back or is replaced."""

import os
import signal

from master_process import MasterProcess, process_alive
from waiting import wait_for


def test_a_silent_worker_is_unhealthy_then_lost_then_back_as_a_new_instance(
    master: MasterProcess,
) -> None:
    master.create_worker("w1", auto_restart=False)
    before = master.wait_state("w1", "running")
    wait_for(lambda: master.api.get("/workers/w1/health").status_code == 200, what="healthy")
    os.kill(before["pid"], signal.SIGSTOP)
    try:
        body = wait_for(
            lambda: (r := master.api.get("/workers/w1/health")).status_code == 503 and r.json(),
            what="unhealthy after the lease",
        )
        assert not body["healthy"] and body["seconds_since_heartbeat"] >= body["lease_s"]
        lost = master.wait_state("w1", "lost")
        assert lost["pid"] == before["pid"], "without auto-restart the process is left alone"
    finally:
        os.kill(before["pid"], signal.SIGCONT)
    back = master.wait_state("w1", "running")
    assert back["pid"] == before["pid"]
    assert back["instance_id"] != before["instance_id"], "a lost instance is fenced off"
    wait_for(lambda: master.api.get("/workers/w1/health").status_code == 200, what="healthy")


def test_a_silent_worker_with_auto_restart_is_killed_and_replaced(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=0)
    before = master.wait_state("w1", "running")
    os.kill(before["pid"], signal.SIGSTOP)
    after = master.wait_state("w1", "running", restart_count=1)
    assert after["pid"] != before["pid"]
    assert not process_alive(before["pid"])
