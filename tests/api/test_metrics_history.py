"""GET /metrics/history: points from heartbeats and jobs, kept across a master restart."""

import time
from pathlib import Path
from typing import Any

import pytest

from corral.master.metrics.history import COARSE_S, History
from corral.master.services import Services
from corral.protocol import HEARTBEAT_PATH
from inprocess_master import InProcessMaster
from master_api import as_worker
from waiting import wait_for


def history(master: InProcessMaster, **params: Any) -> dict[str, Any]:
    """The history answer for these parameters."""
    r = master.api.get("/metrics/history", params=params)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def beat(master: InProcessMaster, worker_id: str, cpu_percent: float) -> None:
    """A heartbeat of the worker's current instance."""
    instance = master.status(worker_id)["instance_id"]
    body = {
        "worker_id": worker_id,
        "instance_id": instance,
        "cpu_percent": cpu_percent,
        "memory_bytes": 1 << 20,
    }
    headers = as_worker(master.data_dir, worker_id)
    r = master.api.post(master.url + HEARTBEAT_PATH, json=body, headers=headers)
    assert r.status_code == 200, r.text


def test_points_from_before_a_restart_are_returned_after_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with InProcessMaster(data, history_interval_s=1) as master:
        master.create_worker("w1", cpus=2)
        master.register("w1")
        master.wait_state("w1", "running")

        def points() -> dict[str, Any] | None:
            beat(master, "w1", 42.0)
            found = history(master, series="cpu_percent", worker="w1", window="15m")
            return (
                found if found["series"] and found["series"][0]["values"].count(42.0) >= 2 else None
            )

        before = wait_for(points, timeout=15, what="two points of w1's CPU")
        fleet = history(master, series=["workers_running", "jobs_pending"], window="15m")
    assert before["step_s"] == 1
    assert before["series"][0]["name"] == "cpu_percent" and before["series"][0]["worker"] == "w1"
    assert [s["name"] for s in fleet["series"]] == ["workers_running", "jobs_pending"]
    assert 1.0 in fleet["series"][0]["values"]

    with InProcessMaster(data, history_interval_s=1) as master:
        after = history(master, series="cpu_percent", worker="w1", window="15m")
        again = history(master, series=["workers_running", "jobs_pending"], window="15m")
    kept = dict(zip(after["timestamps"], after["series"][0]["values"], strict=True))
    for at, value in zip(before["timestamps"], before["series"][0]["values"], strict=True):
        assert kept[at] == value
    assert set(fleet["timestamps"]) <= set(again["timestamps"])


@pytest.mark.parametrize(
    "params",
    [
        {"series": ["cpu_percent", "jobs_pending"]},
        {"series": "jobs_pending", "worker": "w1"},
        {"series": "load"},
        {"series": "cpu_percent", "window": "2h"},
        {"series": "cpu_percent", "worker": "Not A Slug"},
        {},
    ],
)
def test_bad_history_requests_get_422(master: InProcessMaster, params: dict[str, Any]) -> None:
    r = master.api.get("/metrics/history", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid"


def test_fine_points_fold_into_coarse_ones_and_old_ones_are_pruned(
    master: InProcessMaster,
) -> None:
    svc: Services = master.app.state.services
    history = History(svc.scheduler, svc.lifecycle, svc.writer, svc.db, step_s=1)
    now = int(time.time())
    base = now - now % COARSE_S - COARSE_S  # the bucket before this one: no clash with the master's
    old = now - 2 * 86400
    for at in (old, base + 1, base + 2, base + COARSE_S + 1):
        master.portal.call(history.step, float(at))
    master.portal.call(svc.writer.flush)
    fine = master.portal.call(svc.db.run, svc.db.history.fleet, ["jobs_pending"], 1, 0, 1)
    assert old not in fine.timestamps, "a fine point older than a day was pruned"
    assert {base + 1, base + 2, base + COARSE_S + 1} <= set(fine.timestamps)
    coarse = master.api.get(
        "/metrics/history", params={"series": "workers_running", "window": "30d"}
    ).json()
    assert coarse["step_s"] == 6 * COARSE_S, "30 days in 1440 points"
    bucket = coarse["step_s"]
    assert {old - old % bucket, base - base % bucket} <= set(coarse["timestamps"])
    minutes = master.portal.call(svc.db.run, svc.db.history.fleet, ["jobs_pending"], 60, 0, 60)
    assert {old - old % 60, base} <= set(minutes.timestamps), "folded per minute too"
