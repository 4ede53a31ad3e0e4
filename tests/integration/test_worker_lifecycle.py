"""Start, stop, crash and delete with real worker processes under a real master.

The supervisor's logic (backoff, budget, error state, leases) is tested in
tests/supervision with in-memory workers; these check that it drives real processes.
"""

import os
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
    assert stopped["exit_code"] == 0 and stopped["exit_signal"] is None, "a clean exit"
    wait_for(lambda: not process_alive(running["pid"]), what="worker process gone")


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(master: MasterProcess) -> None:
    master.create_worker("stubborn", env=misbehave(ignore_sigterm="1"))
    pid = master.wait_state("stubborn", "running")["pid"]
    r = master.api.post("/workers/stubborn/stop", json={"graceful": True, "timeout_s": 0.5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "stopped"
    assert body["exit_signal"] == signal.SIGKILL
    assert not process_alive(pid)


def test_a_killed_worker_is_restarted_as_a_new_instance(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=0)
    first = master.wait_state("w1", "running")
    os.kill(first["pid"], signal.SIGKILL)
    second = master.wait_state("w1", "running", restart_count=1)
    assert second["pid"] != first["pid"] and second["instance_id"] != first["instance_id"]
    assert second["error_count"] == 1, "the crash was counted"
    assert not process_alive(first["pid"])


def test_deleting_a_running_worker_stops_it_first(master: MasterProcess) -> None:
    master.create_worker("w1")
    pid = master.wait_state("w1", "running")["pid"]
    assert master.api.delete("/worker-configs/w1").status_code == 204
    assert not process_alive(pid)
    assert master.api.get("/workers/w1/status").status_code == 404
    assert master.api.get("/worker-configs/w1").status_code == 404
