"""Jobs and allocations: the durable record that the master's scheduler keeps up to date.

The scheduler decides; this module only writes what it decided, in batches: one
transaction carries every change made since the previous one (group commit).
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from corral.db import models
from corral.domain.jobs import Allocation, Attempt, Job, JobSpec, JobState, Reason
from corral.errors import NotFoundError
from corral.store.worker_logs import insert_logs

jobs = models.jobs
allocations = models.allocations
attempts = models.attempts

SPEC_FIELDS = tuple(f.name for f in fields(JobSpec))
JOB_FIELDS = tuple(f.name for f in fields(Job) if f.name not in ("id", "spec"))
ACTIVE_STATES = tuple(str(s) for s in (JobState.PENDING, JobState.ASSIGNED, JobState.RUNNING))


def _job(row: RowMapping) -> Job:
    """A domain object from one row."""
    spec = JobSpec(**{name: row[name] for name in SPEC_FIELDS})
    values = {name: row[name] for name in JOB_FIELDS}
    values["state"] = JobState(values["state"])
    values["reason"] = None if values["reason"] is None else Reason(values["reason"])
    values["cpu_ids"] = list(values["cpu_ids"] or [])
    return Job(id=row["id"], spec=spec, **values)


def _attempt(row: RowMapping) -> Attempt:
    """A domain record from one attempts row."""
    values = dict(row)
    values["state"] = JobState(values["state"])
    values["reason"] = None if values["reason"] is None else Reason(values["reason"])
    values["cpu_ids"] = list(values["cpu_ids"] or [])
    return Attempt(**values)


def _row(job: Job) -> dict[str, Any]:
    """Column values of a new job."""
    values = {name: getattr(job.spec, name) for name in SPEC_FIELDS}
    values |= {name: getattr(job, name) for name in JOB_FIELDS}
    values["state"] = str(job.state)
    return values


@dataclass
class JobWrites:
    """Changes for one transaction, merged per job so their order within it cannot matter."""

    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    # job id -> its allocation row from now on, or None to remove it
    allocations: dict[int, Allocation | None] = field(default_factory=dict)
    # worker_logs rows: job events worth keeping in a worker's history
    logs: list[dict[str, Any]] = field(default_factory=list)
    # attempts that ended
    attempts: list[Attempt] = field(default_factory=list)

    def update(self, job_id: int, values: dict[str, Any]) -> None:
        """Set columns of one job; a later value of the same column wins."""
        self.updates.setdefault(job_id, {}).update(values)

    def __bool__(self) -> bool:
        return bool(self.updates or self.allocations or self.logs or self.attempts)


class JobStore:
    """Reads jobs and applies the scheduler's decisions to them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, new: Sequence[Job]) -> list[tuple[Job, bool]]:
        """Store new jobs; a known idempotency key yields the existing job and False."""
        with self._engine.begin() as conn:
            return insert_jobs(conn, new)

    def get(self, job_id: int) -> Job:
        """One job; NotFoundError if there is none."""
        with self._engine.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return _job(row)

    def unfinished(self) -> list[Job]:
        """Every pending, assigned or running job, oldest first (read at master start)."""
        query = select(jobs).where(jobs.c.state.in_(ACTIVE_STATES)).order_by(jobs.c.id)
        with self._engine.begin() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def max_id(self) -> int:
        """The highest job id stored."""
        with self._engine.begin() as conn:
            return max_job_id(conn)

    def count_by_state(self) -> dict[str, int]:
        """How many jobs are in each state."""
        query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        with self._engine.begin() as conn:
            return {state: int(n) for state, n in conn.execute(query)}

    def apply(self, writes: JobWrites) -> None:
        """Apply a batch of changes in one transaction."""
        with self._engine.begin() as conn:
            apply_writes(conn, writes)

    def attempts(self, job_id: int) -> list[Attempt]:
        """The ended attempts of one job, oldest first."""
        query = select(attempts).where(attempts.c.job_id == job_id).order_by(attempts.c.attempt)
        with self._engine.begin() as conn:
            return [_attempt(row) for row in conn.execute(query).mappings()]

    def allocations(self) -> list[Allocation]:
        """Every allocation row."""
        with self._engine.begin() as conn:
            rows = conn.execute(select(allocations).order_by(allocations.c.job_id)).mappings()
            return [Allocation(**dict(row)) for row in rows]

    def prune(self, finished_before: datetime, limit: int = 1000) -> list[int]:
        """Delete up to ``limit`` jobs that finished before a time; return their ids."""
        old = (
            select(jobs.c.id)
            .where(jobs.c.finished_at < finished_before, jobs.c.state.not_in(ACTIVE_STATES))
            .order_by(jobs.c.finished_at)
            .limit(limit)
        )
        with self._engine.begin() as conn:
            ids = [int(i) for i in conn.execute(old).scalars()]
            if ids:
                conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return ids

    # Last in the class: after this, "list" in the class body means the method.
    def list(
        self,
        *,
        states: Iterable[str] = (),
        worker_id: str | None = None,
        account: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Job]:
        """Up to ``limit`` jobs, newest first; pass the last id seen as ``before_id`` to page."""
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        wanted = [str(s) for s in states]
        if wanted:
            query = query.where(jobs.c.state.in_(wanted))
        if worker_id is not None:
            query = query.where(jobs.c.worker_id == worker_id)
        if account is not None:
            query = query.where(jobs.c.account == account)
        if before_id is not None:
            query = query.where(jobs.c.id < before_id)
        with self._engine.begin() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]


def insert_jobs(conn: Connection, new: Sequence[Job]) -> list[tuple[Job, bool]]:
    """Insert inside the caller's transaction, honouring idempotency keys (first one wins).

    The master numbers its jobs itself (it is the only writer), so a job can be
    placed before its row is committed and both go in the same commit.
    """
    results: list[tuple[Job, bool]] = []
    run: list[Job] = []  # jobs without a key, inserted together
    for job in new:
        key = job.spec.idempotency_key
        existing = None if key is None else _by_key(conn, key)
        if existing is not None:
            results.append((existing, False))
            continue
        if key is not None:
            # Inserted now, so the same key later in the batch finds it.
            _insert(conn, [*run, job])
            run = []
        else:
            run.append(job)
        results.append((job, True))
    _insert(conn, run)
    return results


def _by_key(conn: Connection, key: str) -> Job | None:
    row = conn.execute(select(jobs).where(jobs.c.idempotency_key == key)).mappings().first()
    return None if row is None else _job(row)


def _insert(conn: Connection, new: Sequence[Job]) -> None:
    """Insert many rows at once."""
    if new:
        conn.execute(insert(jobs), [{"id": job.id} | _row(job) for job in new])


def max_job_id(conn: Connection) -> int:
    """The highest job id ever stored (0 for none): the master numbers from there."""
    return int(conn.execute(select(func.coalesce(func.max(jobs.c.id), 0))).scalar_one())


@functools.cache
def _update_of(columns: tuple[str, ...]) -> Update:
    """An UPDATE of these columns by id, built once: the same few sets recur per job."""
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    return update(jobs).where(jobs.c.id == bindparam("_id")).values(values)


def apply_writes(conn: Connection, writes: JobWrites) -> None:
    """Batched updates (one statement per set of columns), then allocation rows."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for job_id, values in writes.updates.items():
        groups.setdefault(tuple(sorted(values)), []).append({"_id": job_id, **values})
    for columns, params in groups.items():
        conn.execute(_update_of(columns), params)
    if writes.allocations:
        ids = list(writes.allocations)
        conn.execute(delete(allocations).where(allocations.c.job_id.in_(ids)))
        rows = [asdict(a) for a in writes.allocations.values() if a is not None]
        if rows:
            conn.execute(insert(allocations), rows)
    if writes.attempts:
        conn.execute(insert(attempts), [asdict(a) for a in writes.attempts])
    if writes.logs:
        insert_logs(conn, writes.logs)
