"""A worker's stdout and stderr: timestamped files, tail, and follow over SSE."""

import re

import httpx

from master_process import MasterProcess
from waiting import wait_for

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")


def test_tail_returns_timestamped_lines(master: MasterProcess) -> None:
    master.create_worker("w1")
    master.wait_state("w1", "running")

    def registration_logged() -> list[str] | None:
        # The worker says so after it registered: its line may still be in the pipe.
        r = master.api.get("/workers/w1/logs", params={"stream": "stderr", "tail": 50})
        assert r.status_code == 200, r.text
        lines: list[str] = r.json()["lines"]
        return lines if any("regist" in line for line in lines) else None

    lines = wait_for(registration_logged, what="the registration in the worker's stderr")
    assert all(STAMP.match(line) for line in lines), lines
    r = master.api.get("/workers/w1/logs", params={"stream": "stderr", "tail": 1})
    assert len(r.json()["lines"]) == 1
    log_file = master.data_dir / "logs" / "w1" / "stderr.log"
    assert log_file.exists()


def test_follow_streams_new_lines(master: MasterProcess) -> None:
    master.create_worker("w1")
    first = master.wait_state("w1", "running")
    url = master.url + "/api/v1/workers/w1/logs"
    params = {"stream": "stderr", "tail": "0", "follow": "true"}
    with (
        httpx.Client(timeout=30, headers=master.auth()) as client,
        client.stream("GET", url, params=params) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        r = master.api.post("/workers/w1/restart", json={"timeout_s": 5})
        assert r.status_code == 200
        seen: list[str] = []
        for raw in resp.iter_lines():
            if raw.startswith("data: "):
                seen.append(raw[6:])
            second = master.status("w1")["instance_id"]
            fresh = second is not None and second != first["instance_id"]
            if fresh and any(second in s for s in seen):
                break
    assert all(STAMP.match(s) for s in seen)
