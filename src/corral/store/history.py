"""The metrics history: points read by window, written by the master's writer, pruned by age."""

from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from corral.db import models

worker_samples, fleet_samples = models.worker_samples, models.fleet_samples
WORKER_SERIES = ("cpu_percent", "memory_bytes", "cpus_allocated", "jobs_running")
FLEET_SERIES = tuple(c.name for c in fleet_samples.columns if c.name not in ("step_s", "at"))


@dataclass
class Columns:
    """Points as columns: one timestamp array, one array of values per (series, worker)."""

    timestamps: list[int]
    series: dict[tuple[str, str | None], list[float | None]]


class HistoryStore:
    """Reads and prunes the history tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def fleet(self, names: list[str], step_s: int, since: int) -> Columns:
        """Fleet series at ``step_s`` from ``since`` (unix s) on."""
        cols = [fleet_samples.c[name] for name in names]
        query = (
            select(fleet_samples.c.at, *cols)
            .where(fleet_samples.c.step_s == step_s, fleet_samples.c.at >= since)
            .order_by(fleet_samples.c.at)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
        series: dict[tuple[str, str | None], list[float | None]] = {
            (name, None): [row[i + 1] for row in rows] for i, name in enumerate(names)
        }
        return Columns([row[0] for row in rows], series)

    def workers(
        self, names: list[str], workers: list[str] | None, step_s: int, since: int
    ) -> Columns:
        """Worker series at ``step_s`` from ``since`` on, of ``workers`` (all if None)."""
        cols = [worker_samples.c[name] for name in names]
        query = (
            select(worker_samples.c.at, worker_samples.c.worker_id, *cols)
            .where(worker_samples.c.step_s == step_s, worker_samples.c.at >= since)
            .order_by(worker_samples.c.at)
        )
        if workers is not None:
            query = query.where(worker_samples.c.worker_id.in_(workers))
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
        stamps = sorted({row[0] for row in rows})
        index = {at: i for i, at in enumerate(stamps)}
        series: dict[tuple[str, str | None], list[float | None]] = {}
        for row in rows:
            for i, name in enumerate(names):
                values = series.setdefault((name, row[1]), [None] * len(stamps))
                values[index[row[0]]] = row[i + 2]
        return Columns(
            stamps, dict(sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")))
        )

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
