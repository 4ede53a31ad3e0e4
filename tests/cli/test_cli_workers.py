"""``corral workers`` against a real master."""

import json

import pytest

from master_process import MasterProcess

from .conftest import RunCli

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("cli-master")


def test_workers_lists_one_tab_separated_row_per_worker(corral: RunCli) -> None:
    result = corral("workers")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[:2] for r in rows] == [["w1", "running"]]
    assert rows[0][3].endswith("/2")  # CPUs allocated / CPUs


def test_workers_json_has_statuses_and_the_overview(corral: RunCli) -> None:
    body = json.loads(corral("workers", "--json").stdout)
    assert body["workers"][0]["worker_id"] == "w1"
    assert body["overview"]["by_state"]["running"] == 1


def test_status_and_events_of_a_worker(corral: RunCli) -> None:
    status = dict(
        line.split("\t", 1) for line in corral("workers", "status", "w1").stdout.splitlines()
    )
    assert status["state"] == "running" and status["worker_id"] == "w1"
    events = corral("workers", "logs", "w1", "--stream", "events").stdout
    assert "-> running" in events


def test_stop_then_start_a_worker(master: MasterProcess, corral: RunCli) -> None:
    master.create_worker("w2", cpus=1)
    master.wait_state("w2", "running")
    try:
        stopped = corral("workers", "stop", "--timeout", "5", "w2")
        assert stopped.exit_code == 0 and stopped.stdout == "w2\tstopped\n"
        assert corral("workers", "start", "w2").exit_code == 0
        master.wait_state("w2", "running")
        restarted = corral("workers", "restart", "--force", "w2")
        assert restarted.exit_code == 0, restarted.output
    finally:
        master.api.delete("/worker-configs/w2")


def test_an_unknown_worker_is_a_one_line_error(corral: RunCli) -> None:
    result = corral("workers", "status", "ghost")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "404" in result.stderr and "ghost" in result.stderr


def test_follow_needs_a_known_stream(corral: RunCli) -> None:
    result = corral("workers", "logs", "--follow", "--stream", "stdin", "w1")
    assert result.exit_code == 2
