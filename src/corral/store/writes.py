"""One batch of the master's changes, written in one transaction (group commit).

The master decides in memory and queues what changed; a batch merges the changes per
row, so their order within it cannot matter, and a batch that could not be written is
merged with what came after it and written later, whole.
"""

import functools
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, Update, bindparam, delete, insert, update

from corral.db import models
from corral.domain.jobs import Allocation, Attempt
from corral.store.history import insert_points
from corral.store.worker_logs import insert_logs


@dataclass
class Writes:
    """Changes for one transaction."""

    # job id -> columns to set; a later value of the same column wins
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    # job id -> its allocation row from now on, or None to remove it
    allocations: dict[int, Allocation | None] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    # worker id -> runtime columns to set
    runtime: dict[str, dict[str, Any]] = field(default_factory=dict)
    # worker_logs rows: lifecycle and job events
    logs: list[dict[str, Any]] = field(default_factory=list)
    # audit_log rows: state-changing requests
    audit: list[dict[str, Any]] = field(default_factory=list)
    # history points: worker_samples and fleet_samples rows
    worker_samples: list[dict[str, Any]] = field(default_factory=list)
    fleet_samples: list[dict[str, Any]] = field(default_factory=list)

    def job(self, job_id: int, values: dict[str, Any]) -> None:
        """Set columns of one job."""
        self.jobs.setdefault(job_id, {}).update(values)

    def worker(self, worker_id: str, values: dict[str, Any]) -> None:
        """Set runtime columns of one worker."""
        self.runtime.setdefault(worker_id, {}).update(values)

    def absorb(self, newer: "Writes") -> None:
        """Take in the changes queued after these: theirs win where both set a value."""
        for job_id, values in newer.jobs.items():
            self.job(job_id, values)
        for worker_id, values in newer.runtime.items():
            self.worker(worker_id, values)
        self.allocations.update(newer.allocations)
        self.attempts += newer.attempts
        self.logs += newer.logs
        self.audit += newer.audit
        self.worker_samples += newer.worker_samples
        self.fleet_samples += newer.fleet_samples

    def forget_job(self, job_id: int) -> None:
        """Drop what is queued for a job whose row was never written (a withdrawn submit)."""
        self.jobs.pop(job_id, None)
        self.allocations.pop(job_id, None)
        self.attempts = [a for a in self.attempts if a.job_id != job_id]

    def __len__(self) -> int:
        return (
            len(self.jobs)
            + len(self.allocations)
            + len(self.attempts)
            + len(self.runtime)
            + len(self.logs)
            + len(self.audit)
            + len(self.worker_samples)
            + len(self.fleet_samples)
        )

    def __bool__(self) -> bool:
        return len(self) > 0


@functools.cache
def _update_of(table: Table, key: str, columns: tuple[str, ...]) -> Update:
    """An UPDATE of these columns by key, built once: the same few sets recur."""
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    return update(table).where(table.c[key] == bindparam("_key")).values(values)


def _update_rows(
    conn: Connection, table: Table, key: str, changes: dict[Any, dict[str, Any]]
) -> None:
    """Batched updates: one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_key, values in changes.items():
        groups.setdefault(tuple(sorted(values)), []).append({"_key": row_key, **values})
    for columns, params in groups.items():
        conn.execute(_update_of(table, key, columns), params)


def apply_writes(conn: Connection, writes: Writes) -> None:
    """Write a batch inside the caller's transaction."""
    _update_rows(conn, models.jobs, "id", writes.jobs)
    if writes.allocations:
        ids = list(writes.allocations)
        conn.execute(delete(models.allocations).where(models.allocations.c.job_id.in_(ids)))
        rows = [asdict(a) for a in writes.allocations.values() if a is not None]
        if rows:
            conn.execute(insert(models.allocations), rows)
    if writes.attempts:
        conn.execute(insert(models.attempts), [asdict(a) for a in writes.attempts])
    _update_rows(conn, models.worker_runtime, "worker_id", writes.runtime)
    if writes.logs:
        insert_logs(conn, writes.logs)
    if writes.audit:
        conn.execute(insert(models.audit_log), writes.audit)
    if writes.worker_samples:
        insert_points(conn, models.worker_samples, writes.worker_samples)
    if writes.fleet_samples:
        insert_points(conn, models.fleet_samples, writes.fleet_samples)
