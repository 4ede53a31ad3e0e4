"""Bearer tokens: admin routes when required, worker tokens on agent routes always."""

from pathlib import Path

import httpx

from corral.protocol import HEARTBEAT_PATH, REGISTER_PATH
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


def test_agent_routes_need_the_workers_own_token(start_master: MasterFactory) -> None:
    master = start_master()
    master.create_worker("w1", auto_start=False)
    body = {
        "worker_id": "w1",
        "instance_id": "0" * 32,
        "pid": 1,
        "hostname": "h",
        "cpu_ids": [0],
        "version": "x",
    }
    with httpx.Client(base_url=master.url) as c:
        assert c.post(REGISTER_PATH, json=body).status_code == 401
        r = c.post(REGISTER_PATH, json=body, headers={"Authorization": "Bearer forged"})
        assert r.status_code == 401
        hb = {"worker_id": "w1", "instance_id": "0" * 32, "cpu_percent": 0, "memory_bytes": 0}
        assert c.post(HEARTBEAT_PATH, json=hb).status_code == 401
    assert master.status("w1")["state"] == "stopped"
