"""The workers' routes refuse what they must, with the answers workers act on."""

from typing import Any

from corral.master.tokens import Tokens
from corral.protocol import (
    EXCHANGE_PATH,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    STALE_INSTANCE,
    WORKER_HEADER,
)
from inprocess_master import InProcessMaster

INSTANCE = "0" * 32


def bearer(token: str | None) -> dict[str, str]:
    """What worker w1 sends with ``token``: no Authorization header for None."""
    return {"Authorization": f"Bearer {token}", WORKER_HEADER: "w1"} if token else {}


def post(master: InProcessMaster, path: str, token: str | None, **kwargs: Any) -> Any:
    """POST to one of the workers' routes, outside /api/v1, without the admin's token."""
    headers = {"Authorization": "", **bearer(token)}
    return master.api.post(master.url + path, headers=headers, **kwargs)


def test_register_and_heartbeat_need_the_workers_own_token(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    master.create_worker("w2", auto_start=False)
    register = {
        "worker_id": "w1",
        "instance_id": INSTANCE,
        "pid": 1,
        "hostname": "h",
        "cpu_ids": [0],
        "version": "x",
    }
    heartbeat = {"worker_id": "w1", "instance_id": INSTANCE, "cpu_percent": 0, "memory_bytes": 0}
    tokens = Tokens(master.data_dir)
    for token in (None, "forged", tokens.worker_token("w2"), tokens.admin_token):
        assert post(master, REGISTER_PATH, token, json=register).status_code == 401, token
        assert post(master, HEARTBEAT_PATH, token, json=heartbeat).status_code == 401, token
    assert master.status("w1")["state"] == "stopped"


def test_exchange_needs_the_workers_own_token(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    master.create_worker("w2", auto_start=False)
    body = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "wait_s": 0}
    other = Tokens(master.data_dir).worker_token("w2")
    for token in (None, "forged", other):
        r = post(master, EXCHANGE_PATH, token, json=body)
        assert r.status_code == 401, (token, r.text)


def test_exchange_of_an_instance_that_is_not_current_is_stale(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    body = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "wait_s": 0}
    r = post(master, EXCHANGE_PATH, Tokens(master.data_dir).worker_token("w1"), json=body)
    assert r.status_code == 409 and r.json()["code"] == STALE_INSTANCE


def test_exchange_refuses_bad_bodies_clearly(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    token = Tokens(master.data_dir).worker_token("w1")
    bad_event = {"type": "exploded", "job_id": 1, "attempt": 1}
    body = {"worker_id": "w1", "instance_id": INSTANCE, "events": [bad_event]}
    r = post(master, EXCHANGE_PATH, token, json=body)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["loc"] == ["body", "events", 0, "type"] and "input" not in problem
    json_type = {"content-type": "application/json", **bearer(token)}
    r = master.api.post(master.url + EXCHANGE_PATH, content=b"{not json", headers=json_type)
    assert r.status_code == 422
    huge = {"worker_id": "w1", "instance_id": INSTANCE, "events": [], "pad": "x" * 2_000_000}
    assert post(master, EXCHANGE_PATH, token, json=huge).status_code == 413
