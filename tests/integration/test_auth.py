"""The admin token of a real master, enforced when required and never printed."""

from pathlib import Path

from master_process import MasterFactory


def test_admin_token_is_enforced_when_required(start_master: MasterFactory, tmp_path: Path) -> None:
    master = start_master(tmp_path / "data", require_token="true")
    assert master.api.get("/worker-configs").status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert master.api.get("/worker-configs", headers=bad).status_code == 401
    token = (tmp_path / "data" / "admin.token").read_text().strip()
    assert ((tmp_path / "data" / "admin.token").stat().st_mode & 0o777) == 0o600
    good = {"Authorization": f"Bearer {token}"}
    assert master.api.get("/worker-configs", headers=good).status_code == 200
    r = master.api.post("/worker-configs", json={"worker_id": "w1"}, headers=good)
    assert r.status_code == 201
    r = master.api.get("/workers/w1/status", headers=good)
    assert r.status_code == 200
    assert token not in master.log()
