"""Heartbeat leases: a silent worker is marked lost, then comes back or is replaced."""

import os
import signal

from master_process import MasterProcess, process_alive


def test_silent_worker_is_lost_then_re_registers_with_a_new_instance(master: MasterProcess) -> None:
    master.create_worker("w1", auto_restart=False)
    before = master.wait_state("w1", "running")
    os.kill(before["pid"], signal.SIGSTOP)
    try:
        lost = master.wait_state("w1", "lost")
        assert lost["pid"] == before["pid"], "without auto-restart the process is left alone"
    finally:
        os.kill(before["pid"], signal.SIGCONT)
    back = master.wait_state("w1", "running")
    assert back["pid"] == before["pid"]
    assert back["instance_id"] != before["instance_id"], "a lost instance is fenced off"
    events = "\n".join(master.events("w1"))
    assert "running -> lost: no heartbeat" in events
    assert "lost -> running: registered as instance" in events


def test_silent_worker_with_auto_restart_is_killed_and_replaced(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=0)
    before = master.wait_state("w1", "running")
    os.kill(before["pid"], signal.SIGSTOP)
    after = master.wait_state("w1", "running", restart_count=1)
    assert after["pid"] != before["pid"]
    assert not process_alive(before["pid"])
    events = "\n".join(master.events("w1"))
    assert "running -> lost" in events and "lost -> crashed" in events
