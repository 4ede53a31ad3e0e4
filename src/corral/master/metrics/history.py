"""The metrics history: the fleet's figures every few seconds, and coarser points kept longer.

Each step samples what the master already knows (the supervisors' last heartbeats,
the scheduler's jobs, the tally of finished jobs) and queues the points through the
writer. Fine points are kept a day; their means per minute are kept a week (a day's
chart reads 1440 of them rather than 8640 fine ones), and per 5 minutes a month. A
partial bucket dies with the master: its fine points stay, the next starts afresh.
"""

import time
from collections import Counter
from typing import Any

from corral.domain.jobs import TERMINAL, JobState
from corral.domain.worker_states import WorkerState
from corral.errors import UnavailableError
from corral.master.database import Database
from corral.master.jobs.scheduler import Scheduler
from corral.master.workers.lifecycle import LifecycleManager
from corral.master.writer import Writer

FINE_KEEP_S = 86400
# (seconds per folded point, how long those points are kept)
FOLDS = ((60, 7 * 86400), (300, 30 * 86400))
COARSE_S = FOLDS[-1][0]
Point = tuple[list[dict[str, Any]], dict[str, Any]]
SAMPLED = (WorkerState.RUNNING, WorkerState.STOPPING)


class History:
    """Takes the history's points, folds them into coarse ones, and prunes old ones."""

    def __init__(
        self,
        scheduler: Scheduler,
        lifecycle: LifecycleManager,
        writer: Writer,
        db: Database,
        step_s: int,
    ) -> None:
        self.scheduler, self.lifecycle, self.writer, self.db = scheduler, lifecycle, writer, db
        self.step_s = step_s
        self._finished = Counter(scheduler.book.tally.finished)
        self._last_at = 0
        # seconds per folded point -> (its bucket under way, the fine points in it)
        self._buckets: dict[int, tuple[int, list[Point]]] = {}

    async def step(self, now: float | None = None) -> None:
        """Take one point; at a bucket's end fold it and prune (a periodic step)."""
        at = int(time.time() if now is None else now)
        if at <= self._last_at:
            return  # points are keyed by second
        self._last_at = at
        workers, fleet = self.sample(at)
        self.writer.samples(workers, fleet)
        ended = []
        for fold_s, keep_s in FOLDS:
            bucket = at - at % fold_s
            under_way = self._buckets.get(fold_s)
            if under_way is None or under_way[0] != bucket:
                if under_way is not None:
                    self._fold(fold_s, *under_way)
                    ended.append((fold_s, keep_s))
                under_way = self._buckets[fold_s] = (bucket, [])
            under_way[1].append((workers, fleet))
        if ended:
            await self._prune(at, [(self.step_s, FINE_KEEP_S), *ended])

    async def _prune(self, at: int, kept: list[tuple[int, int]]) -> None:
        """Delete points older than they are kept; while the database is away, later."""
        try:
            for step_s, keep_s in kept:
                await self.db.run(self.db.history.prune, step_s, at - keep_s)
        except UnavailableError:
            pass  # the next bucket's end prunes what this one could not

    def sample(self, at: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The rows of one fine point: one per running worker, one for the fleet."""
        workers = []
        for sup in self.lifecycle.supervisors.values():
            if sup.state not in SAMPLED:
                continue
            usage = self.scheduler.usage(sup.worker_id)
            workers.append(
                {
                    "step_s": self.step_s,
                    "at": at,
                    "worker_id": sup.worker_id,
                    "cpu_percent": sup.runtime.cpu_percent or 0.0,
                    "memory_bytes": sup.runtime.memory_bytes or 0,
                    "cpus_allocated": usage["cpus_allocated"],
                    "jobs_running": usage["active_jobs"],
                }
            )
        return workers, self._fleet(at, len(workers))

    def _fleet(self, at: int, workers_running: int) -> dict[str, Any]:
        tally = self.scheduler.book.tally
        jobs = list(self.scheduler.jobs.values())
        pending = [j for j in jobs if j.state is JobState.PENDING]
        finished, self._finished = tally.finished - self._finished, Counter(tally.finished)
        per_min = 60.0 / self.step_s
        waits, runs = tally.recent_waits.take(), tally.recent_runs.take()
        row: dict[str, Any] = {
            "step_s": self.step_s,
            "at": at,
            "jobs_pending": len(pending),
            "jobs_running": sum(1 for j in jobs if j.state is JobState.RUNNING),
            "pending_cpus": sum(j.spec.cpus for j in pending),
            "workers_running": workers_running,
            "queue_wait_p50_s": _rank(waits, 0.5),
            "queue_wait_p95_s": _rank(waits, 0.95),
            "run_p50_s": _rank(runs, 0.5),
            "run_p95_s": _rank(runs, 0.95),
        }
        for state in TERMINAL:
            row[f"{state}_per_min"] = finished[str(state)] * per_min
        return row

    def _fold(self, fold_s: int, bucket: int, taken: list[Point]) -> None:
        """Queue the folded point of a bucket: the mean of its fine points."""
        by_worker: dict[str, list[dict[str, Any]]] = {}
        for workers, _ in taken:
            for row in workers:
                by_worker.setdefault(row["worker_id"], []).append(row)
        keys = {"step_s": fold_s, "at": bucket}
        coarse_workers = []
        for worker_id, rows in by_worker.items():
            means = _means(rows)
            means["memory_bytes"] = round(means["memory_bytes"])  # a BIGINT column
            coarse_workers.append({**means, "worker_id": worker_id, **keys})
        self.writer.samples(coarse_workers, {**_means([f for _, f in taken]), **keys})


def _rank(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile of sorted values; None without any."""
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def _means(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric column's mean over the rows that have it (None where none has)."""
    out: dict[str, Any] = {}
    for key in rows[0]:
        if key in ("step_s", "at", "worker_id"):
            continue
        values = [row[key] for row in rows if row[key] is not None]
        out[key] = sum(values) / len(values) if values else None
    return out
