"""The workers' exchange route refuses what it must, with the answers workers act on."""

import httpx

from corral.master.tokens import Tokens
from corral.protocol import EXCHANGE_PATH, STALE_INSTANCE
from master_process import MasterProcess

INSTANCE = "0" * 32


def _client(master: MasterProcess, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=master.url, headers=headers, timeout=10)


def test_exchange_needs_the_workers_own_token(master: MasterProcess) -> None:
    master.create_worker("w1", auto_start=False)
    master.create_worker("w2", auto_start=False)
    body = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "wait_s": 0}
    other = Tokens(master.data_dir).worker_token("w2")
    for token in (None, "forged", other):
        with _client(master, token) as c:
            r = c.post(EXCHANGE_PATH, json=body)
        assert r.status_code == 401, (token, r.text)


def test_exchange_of_an_instance_that_is_not_current_is_stale(master: MasterProcess) -> None:
    master.create_worker("w1", auto_start=False)
    body = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "wait_s": 0}
    with _client(master, Tokens(master.data_dir).worker_token("w1")) as c:
        r = c.post(EXCHANGE_PATH, json=body)
    assert r.status_code == 409 and r.json()["code"] == STALE_INSTANCE


def test_exchange_refuses_bad_bodies_clearly(master: MasterProcess) -> None:
    master.create_worker("w1", auto_start=False)
    token = Tokens(master.data_dir).worker_token("w1")
    bad_event = {"type": "exploded", "job_id": 1, "attempt": 1}
    with _client(master, token) as c:
        r = c.post(
            EXCHANGE_PATH, json={"worker_id": "w1", "instance_id": INSTANCE, "events": [bad_event]}
        )
        assert r.status_code == 422
        (problem,) = r.json()["detail"]
        assert problem["loc"] == ["body", "events", 0, "type"] and "input" not in problem
        r = c.post(
            EXCHANGE_PATH, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        huge = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "pad": "x" * 2_000_000}
        assert c.post(EXCHANGE_PATH, json=huge).status_code == 413
