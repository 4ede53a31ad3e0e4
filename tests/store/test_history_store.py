"""The history store on SQLite and PostgreSQL: written as a batch, read as columns, pruned."""

from typing import Any

from sqlalchemy import Engine

from corral.store.history import FLEET_SERIES, HistoryStore
from corral.store.writes import Writes
from store.conftest import apply


def worker_row(at: int, worker_id: str, cpu: float, memory: int = 1 << 30) -> dict[str, Any]:
    """A fine point of one worker."""
    return {
        "step_s": 10,
        "at": at,
        "worker_id": worker_id,
        "cpu_percent": cpu,
        "memory_bytes": memory,
        "cpus_allocated": 1,
        "jobs_running": 2,
    }


def fleet_row(at: int, pending: float) -> dict[str, Any]:
    """A fine point of the fleet, no job observed."""
    row: dict[str, Any] = {"step_s": 10, "at": at} | dict.fromkeys(FLEET_SERIES, 0.0)
    return row | {"jobs_pending": pending, "run_p95_s": None}


def test_points_read_as_columns_with_gaps_and_bucket_means(engine: Engine) -> None:
    writes = Writes()
    writes.worker_samples = [
        worker_row(1000, "a", 10.0),
        worker_row(1010, "a", 30.0),
        worker_row(1010, "b", 50.0),
        worker_row(1020, "b", 70.0, memory=1 << 40),
    ]
    writes.fleet_samples = [fleet_row(1000, 1), fleet_row(1010, 3), fleet_row(1020, 5)]
    apply(engine, writes)
    store = HistoryStore(engine)

    found = store.workers(["cpu_percent"], None, 10, 0, 10)
    assert found.timestamps == [1000, 1010, 1020]
    assert found.series == {
        ("cpu_percent", "a"): [10.0, 30.0, None],
        ("cpu_percent", "b"): [None, 50.0, 70.0],
    }
    only_b = store.workers(["memory_bytes"], ["b"], 10, 1015, 10)
    assert only_b.timestamps == [1020] and only_b.series == {("memory_bytes", "b"): [1 << 40]}

    means = store.workers(["cpu_percent"], None, 10, 0, 20)
    assert means.timestamps == [1000, 1020]
    assert means.series[("cpu_percent", "a")] == [20.0, None]
    fleet = store.fleet(["jobs_pending", "run_p95_s"], 10, 0, 20)
    assert fleet.timestamps == [1000, 1020]
    assert fleet.series == {("jobs_pending", None): [2.0, 5.0], ("run_p95_s", None): [None, None]}

    assert store.prune(10, 1010) == 2, "one worker point and one fleet point before 1010"
    assert store.fleet(["jobs_pending"], 10, 0, 10).timestamps == [1010, 1020]
    assert store.prune(60, 5000) == 0, "another resolution is left alone"


def test_a_point_stored_twice_does_not_fail_its_batch(engine: Engine) -> None:
    first, again = Writes(), Writes()
    first.worker_samples = [worker_row(2000, "a", 10.0)]
    again.worker_samples = [worker_row(2000, "a", 99.0), worker_row(2010, "a", 20.0)]
    again.fleet_samples = [fleet_row(2010, 1)]
    apply(engine, first)
    apply(engine, again)  # a clock stepped back: the batch, jobs' changes included, goes in
    found = HistoryStore(engine).workers(["cpu_percent"], ["a"], 10, 0, 10)
    assert found.series == {("cpu_percent", "a"): [10.0, 20.0]}
