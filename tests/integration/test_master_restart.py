"""Master shutdown and restart: desired state survives, no worker outlives the master.

The edges each worker takes meanwhile are checked in tests/supervision/test_lifecycle.py.
"""

import signal
from pathlib import Path

import pytest

from master_process import MasterFactory, misbehave, process_alive
from waiting import wait_for


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_restart_restores_exactly_what_was_running(
    start_master: MasterFactory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    first = start_master(tmp_path / "data", database_url=url)
    first.create_worker("keep")
    first.create_worker("halted")
    first.create_worker("idle", auto_start=False)
    pids = {w: first.wait_state(w, "running")["pid"] for w in ("keep", "halted")}
    first.api.post("/workers/halted/stop")
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    for pid in pids.values():
        assert not process_alive(pid)

    second = start_master(tmp_path / "data", database_url=url)
    keep = second.wait_state("keep", "running")
    assert keep["pid"] != pids["keep"]
    assert second.status("halted")["state"] == "stopped"
    assert second.status("halted")["desired_state"] == "stopped"
    assert second.status("idle")["state"] == "stopped"


def test_sigterm_leaves_no_worker_behind(start_master: MasterFactory) -> None:
    master = start_master()
    for wid in ("a", "b", "c"):
        master.create_worker(wid)
    pids = [master.wait_state(w, "running")["pid"] for w in ("a", "b", "c")]
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0
    assert not [pid for pid in pids if process_alive(pid)]


def test_second_signal_stops_at_once(start_master: MasterFactory) -> None:
    master = start_master(stop_timeout_s=60)
    master.create_worker("stubborn", env=misbehave(ignore_sigterm="1"))
    pid = master.wait_state("stubborn", "running")["pid"]
    master.signal(signal.SIGTERM)
    master.wait_state("stubborn", "stopping")  # the API serves while the workers drain
    master.signal(signal.SIGTERM)
    assert master.wait_exit(timeout=10) == 128 + signal.SIGTERM
    wait_for(lambda: not process_alive(pid), what="stubborn worker killed")


def test_master_killed_takes_its_local_workers_along(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    master = start_master(tmp_path / "data")
    master.create_worker("w1")
    pid = master.wait_state("w1", "running")["pid"]
    master.signal(signal.SIGKILL)
    master.wait_exit()
    wait_for(lambda: not process_alive(pid), what="worker ends with its master")
    again = start_master(tmp_path / "data")
    assert again.wait_state("w1", "running")["pid"] != pid
