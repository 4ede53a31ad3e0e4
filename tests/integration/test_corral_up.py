"""The embedded mode: one command, a master on SQLite with local-1 running."""

from pathlib import Path

from master_process import MasterFactory


def test_up_creates_and_starts_local_1(start_master: MasterFactory, tmp_path: Path) -> None:
    master = start_master(tmp_path / "data", command="up")
    st = master.wait_state("local-1", "running")
    assert st["deployment_type"] == "local"
    cfg = master.api.get("/worker-configs/local-1").json()
    assert cfg["auto_start"] and cfg["auto_restart"]
    assert (tmp_path / "data" / "corral.db").exists()
    assert f"http://127.0.0.1:{master.port}" in master.log()
    token = master.auth()["Authorization"].removeprefix("Bearer ")
    assert token not in master.log()


def test_up_keeps_an_existing_fleet(start_master: MasterFactory, tmp_path: Path) -> None:
    first = start_master(tmp_path / "data", command="up")
    first.wait_state("local-1", "running")
    assert first.api.delete("/worker-configs/local-1").status_code == 204
    first.create_worker("mine")
    first.stop()
    second = start_master(tmp_path / "data", command="up")
    second.wait_state("mine", "running")
    assert second.api.get("/worker-configs/local-1").status_code == 404
