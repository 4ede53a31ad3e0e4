"""Refusals once over real HTTP, as uvicorn reads bodies; tests/api checks the rest in-process."""

from collections.abc import Iterator

from corral.protocol import EXCHANGE_PATH
from master_api import as_worker
from master_process import MasterProcess

MB = 1024 * 1024


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked, without a Content-Length the master could check up front."""
    for _ in range(total // size):
        yield b"x" * size


def test_bad_and_oversized_bodies_are_refused_over_http(master: MasterProcess) -> None:
    master.create_worker("w1", auto_start=False)
    json_type = {"content-type": "application/json"}
    r = master.api.post("/worker-configs", content=b"{not json", headers=json_type)
    assert r.status_code == 422
    r = master.api.post("/worker-configs", json={"worker_id": "w2", "name": "y" * 2 * MB})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    r = master.api.post("/worker-configs", content=chunks(2 * MB), headers=json_type)
    assert r.status_code == 413
    token = as_worker(master.data_dir, "w1")
    r = master.api.post(master.url + EXCHANGE_PATH, content=chunks(2 * MB), headers=token)
    assert r.status_code == 413
    assert [c["worker_id"] for c in master.api.get("/worker-configs").json()] == ["w1"]
