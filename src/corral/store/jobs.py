"""Jobs and allocations: the durable record that the master's scheduler keeps up to date.

The scheduler decides; this module only writes what it decided, in batches: one
transaction carries every change made since the previous one (group commit).
"""

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Select,
    delete,
    func,
    insert,
    select,
)

from corral.db import models
from corral.domain.jobs import Allocation, Attempt, Job, JobSpec, JobState, Reason
from corral.errors import NotFoundError
from corral.sealing import KeyRing
from corral.store.secret_env import job_owner, open_env, seal_env

jobs = models.jobs
allocations = models.allocations
attempts = models.attempts

SPEC_FIELDS = tuple(f.name for f in fields(JobSpec))
JOB_FIELDS = tuple(f.name for f in fields(Job) if f.name not in ("id", "spec"))
ACTIVE_STATES = tuple(str(s) for s in (JobState.PENDING, JobState.ASSIGNED, JobState.RUNNING))


def _job(row: RowMapping, ring: KeyRing) -> Job:
    """A domain object from one row, its secrets opened."""
    values = {name: row[name] for name in SPEC_FIELDS}
    values["secret_env"] = open_env(ring, values["secret_env"], job_owner(row["id"]))
    spec = JobSpec(**values)
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


def _row(job: Job, ring: KeyRing) -> dict[str, Any]:
    """Column values of a new job, its secrets sealed."""
    values = {name: getattr(job.spec, name) for name in SPEC_FIELDS}
    values |= {name: getattr(job, name) for name in JOB_FIELDS}
    values["state"] = str(job.state)
    values["secret_env"] = seal_env(ring, job.spec.secret_env, job_owner(job.id))
    return values


class JobStore:
    """Reads jobs and applies the scheduler's decisions to them; secrets are sealed by ``ring``."""

    def __init__(self, engine: Engine, ring: KeyRing) -> None:
        self._engine = engine
        self._ring = ring

    def insert(self, new: Sequence[Job]) -> list[tuple[Job, bool]]:
        """Store new jobs; a known idempotency key yields the existing job and False."""
        with self._engine.begin() as conn:
            return insert_jobs(conn, new, self._ring)

    def get(self, job_id: int) -> Job:
        """One job; NotFoundError if there is none."""
        with self._engine.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return _job(row, self._ring)

    def unfinished(self) -> list[Job]:
        """Every pending, assigned or running job, oldest first (read at master start)."""
        query = select(jobs).where(jobs.c.state.in_(ACTIVE_STATES)).order_by(jobs.c.id)
        with self._engine.begin() as conn:
            return [_job(row, self._ring) for row in conn.execute(query).mappings()]

    def max_id(self) -> int:
        """The highest job id stored."""
        with self._engine.begin() as conn:
            return max_job_id(conn)

    def count_by_state(self) -> dict[str, int]:
        """How many jobs are in each state."""
        query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        with self._engine.begin() as conn:
            return {state: int(n) for state, n in conn.execute(query)}

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
        query = _filtered(select(jobs), states, worker_id, account)
        query = query.order_by(jobs.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(jobs.c.id < before_id)
        with self._engine.begin() as conn:
            return [_job(row, self._ring) for row in conn.execute(query).mappings()]

    def count(
        self,
        *,
        states: Iterable[str] = (),
        worker_id: str | None = None,
        account: str | None = None,
    ) -> int:
        """How many jobs pass the same filters as ``list``."""
        query = _filtered(select(func.count()).select_from(jobs), states, worker_id, account)
        with self._engine.begin() as conn:
            return int(conn.execute(query).scalar_one())


def _filtered(
    query: Select[Any], states: Iterable[str], worker_id: str | None, account: str | None
) -> Select[Any]:
    """``query`` narrowed to jobs in ``states`` (any, if none), of a worker, of an account."""
    wanted = [str(s) for s in states]
    if wanted:
        query = query.where(jobs.c.state.in_(wanted))
    if worker_id is not None:
        query = query.where(jobs.c.worker_id == worker_id)
    if account is not None:
        query = query.where(jobs.c.account == account)
    return query


def insert_jobs(conn: Connection, new: Sequence[Job], ring: KeyRing) -> list[tuple[Job, bool]]:
    """Insert inside the caller's transaction, honouring idempotency keys (first one wins).

    The master numbers its jobs itself (it is the only writer), so a job can be
    placed before its row is committed and both go in the same commit.
    """
    results: list[tuple[Job, bool]] = []
    run: list[Job] = []  # jobs without a key, inserted together
    for job in new:
        key = job.spec.idempotency_key
        existing = None if key is None else _by_key(conn, key, ring)
        if existing is not None:
            results.append((existing, False))
            continue
        if key is not None:
            # Inserted now, so the same key later in the batch finds it.
            _insert(conn, [*run, job], ring)
            run = []
        else:
            run.append(job)
        results.append((job, True))
    _insert(conn, run, ring)
    return results


def _by_key(conn: Connection, key: str, ring: KeyRing) -> Job | None:
    row = conn.execute(select(jobs).where(jobs.c.idempotency_key == key)).mappings().first()
    return None if row is None else _job(row, ring)


def _insert(conn: Connection, new: Sequence[Job], ring: KeyRing) -> None:
    """Insert many rows at once."""
    if new:
        conn.execute(insert(jobs), [{"id": job.id} | _row(job, ring) for job in new])


def max_job_id(conn: Connection) -> int:
    """The highest job id ever stored (0 for none): the master numbers from there."""
    return int(conn.execute(select(func.coalesce(func.max(jobs.c.id), 0))).scalar_one())
