"""MasterClient against the fake master: auth, typed errors, keep-alive, reconnects."""

from __future__ import annotations

import threading

import pytest

from corral.protocol import HEARTBEAT_PATH, REGISTER_PATH, STALE_INSTANCE
from corral.worker.master_client import (
    Conflict,
    MasterClient,
    MasterRejected,
    MasterUnreachable,
    NotFound,
    Unauthorized,
    error_code,
)

from .conftest import NewClient
from .fake_master import TOKEN, FakeMaster

REGISTER = {"worker_id": "w1", "instance_id": "i1"}


def test_posts_json_with_bearer_auth(master: FakeMaster, new_client: NewClient) -> None:
    client = new_client(master.url)
    answer = client.post(REGISTER_PATH, REGISTER)
    assert answer == {"heartbeat_interval_s": 0.05, "lease_s": 1.0, "cpus": None}
    [seen] = master.requests
    assert seen.authorization == f"Bearer {TOKEN}"
    assert seen.body == REGISTER


def test_base_url_path_prefix_is_kept(master: FakeMaster, new_client: NewClient) -> None:
    client = new_client(master.url + "/corral/")
    with pytest.raises(NotFound):
        client.post(REGISTER_PATH, REGISTER)
    assert master.requests[0].path == "/corral" + REGISTER_PATH


def test_one_keep_alive_connection_per_thread(master: FakeMaster, new_client: NewClient) -> None:
    client = new_client(master.url)
    client.post(REGISTER_PATH, REGISTER)
    client.post(HEARTBEAT_PATH, {**REGISTER, "cpu_percent": 0.0, "memory_bytes": 1})

    def post_from_another_thread() -> None:
        client.post(REGISTER_PATH, REGISTER)
        client.close()  # a connection belongs to its thread: only it can close it

    other = threading.Thread(target=post_from_another_thread)
    other.start()
    other.join(5)
    ports = [r.client_port for r in master.requests]
    assert ports[0] == ports[1] != ports[2]


def test_reconnects_when_the_server_closes_connections(
    master: FakeMaster, new_client: NewClient
) -> None:
    master.close_connections = True
    client = new_client(master.url)
    for _ in range(3):
        client.post(REGISTER_PATH, REGISTER)
    assert len({r.client_port for r in master.requests}) == 3


@pytest.mark.parametrize(
    ("setup", "error"),
    [("bad_token", Unauthorized), ("unknown", NotFound)],
)
def test_typed_errors(
    master: FakeMaster, setup: str, error: type[MasterRejected], new_client: NewClient
) -> None:
    if setup == "bad_token":
        master.token = "other"
    else:
        master.unknown_workers = True
    client = new_client(master.url)
    with pytest.raises(error) as caught:
        client.post(REGISTER_PATH, REGISTER)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(client)
    assert str(caught.value).endswith(("invalid token", "unknown worker"))


@pytest.mark.parametrize("style", ["detail", "flat"])
def test_conflict_carries_the_stale_code(
    master: FakeMaster, style: str, new_client: NewClient
) -> None:
    master.stale_style = style
    client = new_client(master.url)
    with pytest.raises(Conflict) as caught:
        client.post(HEARTBEAT_PATH, {**REGISTER, "cpu_percent": 0.0, "memory_bytes": 1})
    assert caught.value.status == 409
    assert caught.value.code == STALE_INSTANCE


def test_unreachable_master(idle_master: FakeMaster, new_client: NewClient) -> None:
    client = new_client(idle_master.url, timeout=1)
    with pytest.raises(MasterUnreachable):
        client.post(REGISTER_PATH, REGISTER)


def test_hang_up_without_answer_is_unreachable(master: FakeMaster, new_client: NewClient) -> None:
    master.drop_requests = True
    client = new_client(master.url)
    with pytest.raises(MasterUnreachable):
        client.post(REGISTER_PATH, REGISTER)
    master.drop_requests = False
    assert client.post(REGISTER_PATH, REGISTER)["lease_s"] == 1.0


def test_error_code_shapes() -> None:
    assert error_code({"detail": {"code": "x"}}) == "x"
    assert error_code({"code": "y"}) == "y"
    assert error_code({"detail": "instance i is not current", "code": "z"}) == "z"
    assert error_code({"detail": "text"}) is None
    assert error_code("text") is None


def test_rejects_a_url_without_http_scheme() -> None:
    with pytest.raises(ValueError, match="http"):
        MasterClient("ftp://master", TOKEN, "w1")
