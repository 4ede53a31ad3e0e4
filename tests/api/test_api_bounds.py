"""Input the database cannot hold gets a 422, on both backends, and changes nothing."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.protocol import EXCHANGE_PATH
from inprocess_master import InProcessMaster
from master_api import as_worker

LARGEST_ID = 2**63 - 1  # SQLite's integer and PostgreSQL's bigint both stop here


@pytest.fixture
def any_master(db_url: str, tmp_path: Path) -> Iterator[InProcessMaster]:
    """A master on SQLite, then on PostgreSQL."""
    with InProcessMaster(tmp_path / "data", database_url=db_url) as master:
        yield master


def _refused(r: httpx.Response, *where: str | int) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid"
    assert [p["loc"] for p in body["detail"]] == [list(where)], body


def test_ids_past_64_bits_are_refused(any_master: InProcessMaster) -> None:
    api = any_master.api
    _refused(api.get("/jobs", params={"before_id": LARGEST_ID + 1}), "query", "before_id")
    assert api.get("/jobs", params={"before_id": LARGEST_ID}).status_code == 200
    _refused(api.get(f"/jobs/{LARGEST_ID + 1}"), "path", "job_id")
    _refused(api.post(f"/jobs/{LARGEST_ID + 1}/cancel"), "path", "job_id")
    r = api.get(f"/jobs/{LARGEST_ID}")
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text


@pytest.mark.parametrize("name", ["worker_id", "account"])
def test_nul_in_a_filter_is_refused(any_master: InProcessMaster, name: str) -> None:
    _refused(any_master.api.get("/jobs", params={name: "a\x00b"}), "query", name)
    assert any_master.api.get("/jobs", params={name: "a"}).status_code == 200


def test_a_lone_surrogate_in_a_body_is_refused(any_master: InProcessMaster) -> None:
    # JSON can spell half of a UTF-16 pair; no database or UTF-8 answer can hold it.
    headers = {"content-type": "application/json"}
    for path, raw in (
        ("/workers/batch", b'{"action": "stop", "worker_ids": ["\\ud800"]}'),
        ("/jobs", b'{"command": ["echo", "\\udfff"]}'),
        ("/worker-configs", b'{"worker_id": "w1", "name": "\\ud800", "auto_start": false}'),
    ):
        r = any_master.api.post(path, content=raw, headers=headers)
        assert r.status_code == 422, (path, r.text)
    assert any_master.api.get("/jobs").json()["jobs"] == []
    assert any_master.api.get("/worker-configs").json() == []


def _chunks(total: int) -> Iterator[bytes]:
    """A JSON body of about ``total`` bytes, streamed without a length."""
    yield b'{"command": ["echo", "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"]}'


@pytest.mark.parametrize("path", ["/jobs", "/worker-configs", "/workers/batch"])
def test_a_streamed_body_over_the_limit_gets_413(master: InProcessMaster, path: str) -> None:
    headers = {"content-type": "application/json"}
    r = master.api.post(path, content=_chunks(2 * 1024 * 1024), headers=headers)
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": "request body larger than 1048576 bytes", "code": "too_large"}
    assert master.api.get("/jobs").json()["jobs"] == []


def test_a_streamed_exchange_over_the_limit_gets_413(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    r = master.api.post(
        master.url + EXCHANGE_PATH,
        content=_chunks(2 * 1024 * 1024),
        headers={"content-type": "application/json", **as_worker(master.data_dir, "w1")},
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "too_large"


@pytest.mark.parametrize(
    "field, value",
    [
        ("cpus", True),
        ("cpus", "1"),
        ("cpus", 1.5),
        ("max_attempts", False),
        ("priority", "3"),
        ("timeout_s", False),
        ("retry_delay_s", "1"),
        ("shell", 0),
        ("shell", "false"),
    ],
)
def test_json_types_are_strict_in_a_job(master: InProcessMaster, field: str, value: Any) -> None:
    _refused(master.api.post("/jobs", json={"command": ["true"], field: value}), "body", field)
    assert master.api.get("/jobs").json()["jobs"] == []


def test_a_whole_number_written_with_a_point_is_an_integer(master: InProcessMaster) -> None:
    # JSON and its schemas count 2.0 as the integer 2.
    r = master.api.post("/jobs", json={"command": ["true"], "cpus": 2.0, "priority": -1.0})
    assert r.status_code == 201, r.text
    assert (r.json()["cpus"], r.json()["priority"]) == (2, -1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"port": "8080"}, "port"),
        ({"cpus": True}, "cpus"),
        ({"auto_start": "no"}, "auto_start"),
        ({"auto_restart": 1}, "auto_restart"),
        ({"restart_delay_ms": 1.5}, "restart_delay_ms"),
    ],
)
def test_json_types_are_strict_in_a_worker_config(
    master: InProcessMaster, body: dict[str, Any], field: str
) -> None:
    r = master.api.post("/worker-configs", json={"worker_id": "w1", **body})
    _refused(r, "body", field)
    assert master.api.get("/worker-configs").json() == []


def test_json_types_are_strict_in_stop_options(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False)
    _refused(master.api.post("/workers/w1/stop", json={"graceful": 0}), "body", "graceful")
    _refused(master.api.post("/workers/w1/stop", json={"timeout_s": "5"}), "body", "timeout_s")


@pytest.mark.parametrize("stream", ["stdout", "stderr", "events"])
def test_a_tail_of_nothing_is_no_lines(master: InProcessMaster, stream: str) -> None:
    master.create_worker("w1", auto_start=False)
    r = master.api.get("/workers/w1/logs", params={"stream": stream, "tail": 0})
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == []
