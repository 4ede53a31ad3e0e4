"""The metrics history: points read by window, written by the master's writer, pruned by age."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Float, Table, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from corral.db import models

worker_samples, fleet_samples = models.worker_samples, models.fleet_samples
WORKER_SERIES = ("cpu_percent", "memory_bytes", "cpus_allocated", "jobs_running")
FLEET_SERIES = tuple(c.name for c in fleet_samples.columns if c.name not in ("step_s", "at"))


def _bucketed(
    table: Table, names: list[str], step_s: int, bucket_s: int
) -> tuple[ColumnElement[Any], list[ColumnElement[Any]]]:
    """The time and value columns of a read: as stored, or means per bucket."""
    if bucket_s == step_s:
        return table.c.at, [table.c[name] for name in names]
    mean: list[ColumnElement[Any]] = [cast(func.avg(table.c[name]), Float) for name in names]
    return table.c.at - table.c.at % bucket_s, mean


@dataclass
class Columns:
    """Points as columns: one timestamp array, one array of values per (series, worker)."""

    timestamps: list[int]
    series: dict[tuple[str, str | None], list[float | None]]


class HistoryStore:
    """Reads and prunes the history tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def fleet(self, names: list[str], step_s: int, since: int, bucket_s: int) -> Columns:
        """Fleet series from points at ``step_s`` since ``since`` (unix s), means per bucket."""
        t, cols = _bucketed(fleet_samples, names, step_s, bucket_s)
        query = (
            select(t, *cols)
            .where(fleet_samples.c.step_s == step_s, fleet_samples.c.at >= since)
            .order_by(t)
        )
        if bucket_s != step_s:
            query = query.group_by(t)
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
        series: dict[tuple[str, str | None], list[float | None]] = {
            (name, None): [row[i + 1] for row in rows] for i, name in enumerate(names)
        }
        return Columns([int(row[0]) for row in rows], series)

    def workers(
        self, names: list[str], workers: list[str] | None, step_s: int, since: int, bucket_s: int
    ) -> Columns:
        """Worker series (of ``workers``, or all) like ``fleet``: means per bucket."""
        t, cols = _bucketed(worker_samples, names, step_s, bucket_s)
        wid = worker_samples.c.worker_id
        query = (
            select(t, wid, *cols)
            .where(worker_samples.c.step_s == step_s, worker_samples.c.at >= since)
            .order_by(t)
        )
        if bucket_s != step_s:
            query = query.group_by(t, wid)
        if workers is not None:
            query = query.where(worker_samples.c.worker_id.in_(workers))
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
        stamps = sorted({int(row[0]) for row in rows})
        index = {at: i for i, at in enumerate(stamps)}
        series: dict[tuple[str, str | None], list[float | None]] = {}
        empty: list[float | None] = [None] * len(stamps)
        for row in rows:
            slot = index[int(row[0])]
            for i, name in enumerate(names):
                values = series.get((name, row[1]))
                if values is None:
                    values = series[(name, row[1])] = empty.copy()
                values[slot] = row[i + 2]
        ordered = sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        return Columns(stamps, dict(ordered))

    def prune(self, step_s: int, before: int) -> int:
        """Delete the points at ``step_s`` older than ``before`` (unix s); how many."""
        deleted = 0
        with self._engine.begin() as conn:
            for table in (worker_samples, fleet_samples):
                gone = conn.execute(
                    delete(table).where(table.c.step_s == step_s, table.c.at < before)
                )
                deleted += gone.rowcount
        return deleted


def insert_points(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert points, skipping any already stored (a clock stepped back).

    A duplicate key must not fail the batch: it carries the jobs' changes too.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
