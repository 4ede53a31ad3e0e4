"""The metrics history: its size on SQLite per worker-day, and the cost of reading 24 h of it."""

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.stats import summary_ms
from bench.supervision import Master
from corral.db import models
from corral.db.engine import sqlite_url
from corral.master.database import Database
from corral.master.metrics.history import FOLDS
from corral.sealing import DataKey, KeyRing
from corral.store.history import FLEET_SERIES

FINE_S, DAY_S = 10, 86400


def history_cost(args: argparse.Namespace) -> dict[str, Any]:
    """Fill a day of points for ``args.workers`` workers; measure bytes, then the API's answer."""
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir(mode=0o700)
        db = Database.open(sqlite_url(data), KeyRing([DataKey.generate()]))
        db_file = data / "corral.db"
        now = int(time.time())
        start = now - now % FINE_S - DAY_S
        before = _bytes(db_file)
        _fill(db, start, [])
        fleet_bytes = _bytes(db_file) - before
        workers = [f"w{i}" for i in range(args.workers)]
        _fill(db, start, workers, fleet=False)
        worker_bytes = (_bytes(db_file) - before - fleet_bytes) / len(workers)
        db.close()
        master = Master(data, env={"CORRAL_HISTORY_INTERVAL_S": str(FINE_S)})
        try:
            master.wait_ready()
            one = _timed(master, args.rounds, {"series": "cpu_percent", "window": "24h"})
            four = _timed(
                master,
                args.rounds,
                {"series": ["cpu_percent", "memory_bytes", "cpus_allocated", "jobs_running"]}
                | {"window": "24h"},
            )
        finally:
            master.close()
    return {
        "history bytes per worker-day (SQLite, 10 s, 1 min and 5 min points)": round(worker_bytes),
        "history bytes per fleet-day": fleet_bytes,
        f"24 h of cpu_percent, {args.workers} workers: bytes": one["bytes"],
        f"24 h of cpu_percent, {args.workers} workers: ms": one["ms"],
        f"24 h of cpu_percent, {args.workers} workers: 503 answers": one["503"],
        f"24 h of 4 worker series, {args.workers} workers: bytes": four["bytes"],
        f"24 h of 4 worker series, {args.workers} workers: ms": four["ms"],
        f"24 h of 4 worker series, {args.workers} workers: 503 answers": four["503"],
    }


def _fill(db: Database, start: int, workers: list[str], fleet: bool = True) -> None:
    """A day of fine points and of coarse ones, as the master writes them."""
    for step in (FINE_S, *(fold_s for fold_s, _ in FOLDS)):
        stamps = range(start, start + DAY_S, step)
        with db.engine.begin() as conn:
            for worker_id in workers:
                rows = [_worker_row(step, at, worker_id) for at in stamps]
                conn.execute(insert(models.worker_samples), rows)
            if fleet:
                conn.execute(insert(models.fleet_samples), [_fleet_row(step, at) for at in stamps])


def _worker_row(step: int, at: int, worker_id: str) -> dict[str, Any]:
    return {
        "step_s": step,
        "at": at,
        "worker_id": worker_id,
        "cpu_percent": round(random.uniform(0, 200), 2),
        "memory_bytes": random.randrange(50 << 20, 500 << 20),
        "cpus_allocated": random.randrange(0, 3),
        "jobs_running": random.randrange(0, 3),
    }


def _fleet_row(step: int, at: int) -> dict[str, Any]:
    return {"step_s": step, "at": at} | {name: random.uniform(0, 50) for name in FLEET_SERIES}


def _bytes(db_file: Path) -> int:
    """The database's size once its WAL is checkpointed."""
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int(pages) * int(size)


def _timed(master: Master, rounds: int, params: dict[str, Any]) -> dict[str, Any]:
    """Bytes of the answer and the time of ``rounds`` requests."""
    times, size, late = [], 0, 0
    for _ in range(rounds):
        began = time.perf_counter()
        r = master.api.get("/metrics/history", params=params)
        if r.status_code == 503:  # the database thread missed the request's deadline
            late += 1
            continue
        r.raise_for_status()
        times.append(time.perf_counter() - began)
        size = len(r.content)
    return {"bytes": size, "ms": summary_ms(times) if times else None, "503": late}
