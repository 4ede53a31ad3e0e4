"""The client against a real master: worker routes, errors, tokens."""

from pathlib import Path

import pytest

from corral.client import ApiError, Client
from master_process import MasterProcess
from waiting import wait_for

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("client-master")


def test_workers_status_and_overview(client: Client) -> None:
    assert "w1" in [c["worker_id"] for c in client.workers()]
    status = client.worker_status("w1")
    assert status["state"] == "running" and len(status["cpu_ids"]) == 2
    assert client.overview()["by_state"]["running"] == 1


def test_unknown_worker_is_a_404_with_the_masters_detail(client: Client) -> None:
    with pytest.raises(ApiError) as caught:
        client.worker_status("nope")
    assert caught.value.status == 404
    assert "nope" in str(caught.value.detail)


def test_worker_logs_and_events(client: Client) -> None:
    events = client.worker_logs("w1", "events", tail=20)
    assert any("-> running" in line for line in events)


def test_following_a_workers_output_yields_its_lines(client: Client) -> None:
    lines = client.follow_worker("w1", "stderr", tail=5)
    assert isinstance(next(lines), str)
    lines.close()  # type: ignore[attr-defined]


def test_token_is_read_from_the_data_dir(tmp_path: Path, master: MasterProcess) -> None:
    with Client(master.url, data_dir=tmp_path / "elsewhere") as anonymous:
        with pytest.raises(ApiError) as caught:
            anonymous.workers()
        assert caught.value.status == 401
    with Client(master.url, data_dir=master.data_dir) as admin:
        assert [w["worker_id"] for w in admin.workers()][:1] == ["w1"]


def test_stop_and_start_a_worker(master: MasterProcess, client: Client) -> None:
    master.create_worker("w2", cpus=1)
    master.wait_state("w2", "running")
    try:
        assert client.worker_action("w2", "stop", {"timeout_s": 5})["state"] == "stopped"
        client.worker_action("w2", "start")
        wait_for(lambda: client.worker_status("w2")["state"] == "running", timeout=15)
    finally:
        master.api.delete("/worker-configs/w2")
