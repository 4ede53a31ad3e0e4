"""Bad input gets a clear 4xx and changes nothing; secrets never come back."""

from typing import Any

import pytest

from inprocess_master import InProcessMaster


def _configs(master: InProcessMaster) -> list[dict[str, Any]]:
    r = master.api.get("/worker-configs")
    assert r.status_code == 200
    body: list[dict[str, Any]] = r.json()
    return body


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"worker_id": "w", "deployment_type": "mainframe"}, "deployment_type"),
        ({"worker_id": "w", "cpus": -1}, "cpus"),
        ({"worker_id": "w", "cpus": 0}, "cpus"),
        ({"worker_id": "Bad Id"}, "worker_id"),
        ({"worker_id": "../etc"}, "worker_id"),
        ({"worker_id": "a/b"}, "worker_id"),
        ({"worker_id": "w", "colour": "blue"}, "colour"),
        ({"worker_id": "w", "max_restart_attempts": -3}, "max_restart_attempts"),
        ({"worker_id": "w", "env": {"1BAD": "x"}}, "env"),
        ({"worker_id": "w", "port": 70000}, "port"),
        ({"worker_id": "w", "launcher": {"ssh_user": "x; rm -rf /"}}, "ssh_user"),
        ({"name": "no id"}, "worker_id"),
        ({"worker_id": "w", "master_fingerprint": "SHA256:AB:CD"}, "master_fingerprint"),
        ({"worker_id": "w", "master_fingerprint": "MD5:" + "ab" * 32}, "master_fingerprint"),
        ({"worker_id": "w", "master_ca": "relative/ca.pem"}, "master_ca"),
    ],
)
def test_invalid_configs_are_refused(
    master: InProcessMaster, body: dict[str, Any], needle: str
) -> None:
    r = master.api.post("/worker-configs", json={"auto_start": False, **body})
    assert r.status_code == 422, r.text
    assert needle in r.text
    assert _configs(master) == []


def test_malformed_json_and_huge_bodies_are_refused(master: InProcessMaster) -> None:
    r = master.api.post(
        "/worker-configs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    huge = {"worker_id": "w", "auto_start": False, "env": {"BIG": "x" * 30000}, "labels": {}}
    huge["name"] = "y" * 2_000_000
    r = master.api.post("/worker-configs", json=huge)
    assert r.status_code == 413
    assert "larger than" in r.json()["detail"]
    assert _configs(master) == []


def test_duplicate_id_is_a_conflict(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False, name="first")
    r = master.api.post("/worker-configs", json={"worker_id": "w1", "name": "second"})
    assert r.status_code == 409
    assert [c["name"] for c in _configs(master)] == ["first"]


def test_unknown_workers_are_404(master: InProcessMaster) -> None:
    for method, path in [
        ("GET", "/worker-configs/ghost"),
        ("PATCH", "/worker-configs/ghost"),
        ("DELETE", "/worker-configs/ghost"),
        ("POST", "/workers/ghost/start"),
        ("POST", "/workers/ghost/stop"),
        ("GET", "/workers/ghost/status"),
        ("GET", "/workers/ghost/logs"),
        ("GET", "/workers/ghost/health"),
    ]:
        kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
        r = master.api.request(method, path, **kwargs)
        assert r.status_code == 404, (method, path, r.text)
        assert "ghost" in r.json()["detail"]


def test_patch_changes_only_given_fields_and_refuses_bad_ones(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False, labels={"zone": "a"}, cpus=1)
    r = master.api.patch("/worker-configs/w1", json={"cpus": 2})
    assert r.status_code == 200 and r.json()["cpus"] == 2 and r.json()["labels"] == {"zone": "a"}
    for bad in ({"worker_id": "w2"}, {"cpus": -1}, {"deployment_type": "x"}, {"nope": 1}):
        r = master.api.patch("/worker-configs/w1", json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert master.api.get("/worker-configs/w1").json()["cpus"] == 2


def test_secret_env_is_write_only(master: InProcessMaster) -> None:
    secret = "hunter2-very-secret"
    created = master.create_worker("w1", auto_start=False, secret_env={"API_KEY": secret})
    assert created["secret_env_keys"] == ["API_KEY"]
    assert secret not in master.api.get("/worker-configs").text
    assert secret not in master.api.get("/worker-configs/w1").text
    r = master.api.post(
        "/worker-configs", json={"worker_id": "w2", "cpus": -1, "secret_env": {"API_KEY": secret}}
    )
    assert r.status_code == 422 and secret not in r.text


def test_bad_log_requests_are_refused(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    for params in (
        {"stream": "../../etc/passwd"},
        {"stream": "stdin"},
        {"tail": -1},
        {"tail": 10**9},
    ):
        r = master.api.get("/workers/w1/logs", params=params)
        assert r.status_code == 422, (params, r.text)
    assert master.api.get("/workers/..%2F..%2Fetc/logs").status_code in (404, 422)


def test_stop_options_are_checked(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    for bad in ({"timeout_s": -1}, {"graceful": "maybe"}, {"force": True}):
        assert master.api.post("/workers/w1/stop", json=bad).status_code == 422, bad
    r = master.api.post("/workers/batch", json={"action": "explode", "worker_ids": ["w1"]})
    assert r.status_code == 422
    r = master.api.post("/workers/batch", json={"action": "start", "worker_ids": []})
    assert r.status_code == 422
    assert master.status("w1")["state"] == "stopped"


def test_the_masters_fingerprint_is_kept_as_the_master_prints_it(master: InProcessMaster) -> None:
    pin = "sha256:" + "ab" * 32
    body = {"worker_id": "w", "auto_start": False, "master_fingerprint": pin}
    body["master_ca"] = "/etc/ssl/corral-ca.pem"
    r = master.api.post("/worker-configs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["master_fingerprint"] == "SHA256:" + ":".join(["AB"] * 32)
    assert r.json()["master_ca"] == "/etc/ssl/corral-ca.pem"
    r = master.api.patch("/worker-configs/w", json={"master_fingerprint": None, "master_ca": None})
    assert r.status_code == 200, r.text
    assert (r.json()["master_fingerprint"], r.json()["master_ca"]) == (None, None)


def test_a_type_this_master_cannot_launch_is_refused_before_it_is_saved(
    master: InProcessMaster,
) -> None:
    r = master.api.post("/worker-configs", json={"worker_id": "far", "deployment_type": "ssh"})
    assert r.status_code == 422
    assert "this master cannot launch ssh workers; it launches local" in r.text
    master.create_worker("near", auto_start=False)
    r = master.api.patch("/worker-configs/near", json={"deployment_type": "docker"})
    assert r.status_code == 422 and "cannot launch docker workers" in r.text
    assert [c["deployment_type"] for c in _configs(master)] == ["local"]


def test_cpu_ids_are_distinct_numbers_and_null_unpins(master: InProcessMaster) -> None:
    for bad in ([], [0, 0], [-1], ["0"], [True], [5000]):
        r = master.api.post("/worker-configs", json={"worker_id": "p", "cpu_ids": bad})
        assert r.status_code == 422 and "cpu_ids" in r.text, (bad, r.text)
    master.create_worker("p", auto_start=False, cpu_ids=[1, 0])
    assert master.api.get("/worker-configs/p").json()["cpu_ids"] == [0, 1]
    r = master.api.patch("/worker-configs/p", json={"cpu_ids": None})
    assert r.status_code == 200 and r.json()["cpu_ids"] is None
