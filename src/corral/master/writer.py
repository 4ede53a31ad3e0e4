"""The master's one write path: every change queued since the last commit goes in the next.

The master changes its jobs and workers in memory at once and queues the matching
writes here; one task commits them in batches on the database thread (group commit).
While the database is down, locked or full, the batch is kept and merged with what
follows, and written when the database is back: nothing waits on it but the answers
that promise durability. Callers that must not answer before their change is durable
await ``flush()`` or ``inserted()``, each with a deadline.

What is kept while the database is away is bounded: job and runtime changes merge per
row (there are only so many jobs and workers), and event rows stop being queued past
``max_logs``, their number recorded by a marker row once the database is back.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from corral.domain.clock import utcnow
from corral.domain.jobs import Allocation, Attempt, Job
from corral.errors import UnavailableError
from corral.master.database import Database
from corral.store.jobs import insert_jobs
from corral.store.writes import Writes, apply_writes

log = logging.getLogger("corral.master")
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
MAX_QUEUED_LOGS = 10_000
# Where rows of the audit trail not kept are counted, beside the workers' events.
AUDIT = "(audit)"

Inserted = list[tuple[Job, bool]]


@dataclass(eq=False)
class PendingInsert:
    """New jobs waiting for their commit, and whether their submitter gave up on them."""

    jobs: Sequence[Job]
    future: "asyncio.Future[Inserted]"
    committing: bool = False  # part of the commit under way
    withdrawn: bool = False  # the submitter answered 503: never write them


@dataclass
class Backlog:
    """What waits for the database, for /health."""

    changes: int = 0
    inserts: int = 0
    logs_not_kept: dict[str, int] = field(default_factory=dict)


class Writer:
    """Queues inserts and changes; commits them together, in order, on the database thread."""

    def __init__(self, db: Database, max_logs: int = MAX_QUEUED_LOGS) -> None:
        self._db = db
        self._max_logs = max_logs
        self._writes = Writes()
        self._inserts: list[PendingInsert] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._logs_not_kept: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._busy = False
        self._in_flight = Writes()  # the batch being committed
        self._in_flight_waiters: list[asyncio.Future[None]] = []
        # One connection kept for the writes, on the database thread: checking one
        # out of the pool and resetting it costs more than a small commit.
        self._conn: Connection | None = None
        # Who follows workers' events live: called with each event as it is queued.
        self.on_log: Callable[[str, datetime, str, str, str], None] | None = None

    async def close(self, timeout_s: float = 5.0) -> None:
        """Commit what is queued (if the database lets us in time); the loop must still run."""
        if not await self.flush(timeout_s):
            log.error("stopping with %d changes not written: %s", len(self._writes), self.backlog())
        if self._conn is not None:
            await self._db.run(self._conn.close)
            self._conn = None

    def check_available(self) -> None:
        """Raise UnavailableError at once while the database is known to be down."""
        self._db.check_available()

    # Changes

    def update(self, job_id: int, **values: Any) -> None:
        """Queue new column values for one job."""
        self._writes.job(job_id, values)
        self._wake.set()

    def allocate(self, allocation: Allocation) -> None:
        """Queue an allocation row for a started attempt."""
        self._writes.allocations[allocation.job_id] = allocation
        self._wake.set()

    def release(self, job_id: int) -> None:
        """Queue the removal of a job's allocation row."""
        self._writes.allocations[job_id] = None
        self._wake.set()

    def attempt(self, record: Attempt) -> None:
        """Queue the record of an attempt that ended."""
        self._writes.attempts.append(record)
        self._wake.set()

    def worker(self, worker_id: str, **values: Any) -> None:
        """Queue new runtime values for one worker."""
        self._writes.worker(worker_id, {**values, "updated_at": utcnow()})
        self._wake.set()

    def log(self, worker_id: str, message: str, level: str = "info", kind: str = "job") -> None:
        """Queue an event for a worker's history (counted, not kept, past the bound)."""
        if self.on_log is not None:
            self.on_log(worker_id, utcnow(), level, kind, message)
        if len(self._writes.logs) + len(self._in_flight.logs) >= self._max_logs:
            self._logs_not_kept[worker_id] += 1
            return
        row = {"worker_id": worker_id, "at": utcnow(), "level": level, "kind": kind}
        self._writes.logs.append(row | {"message": message})
        self._wake.set()

    def audit(self, entry: dict[str, Any]) -> None:
        """Queue a row of the audit trail (counted, not kept, past the bound)."""
        if len(self._writes.audit) + len(self._in_flight.audit) >= self._max_logs:
            self._logs_not_kept[AUDIT] += 1
            return
        self._writes.audit.append({"at": utcnow(), **entry})
        self._wake.set()

    def samples(self, workers: list[dict[str, Any]], fleet: dict[str, Any]) -> None:
        """Queue points of the metrics history (dropped past the bound: they are only figures)."""
        queued = len(self._writes.worker_samples) + len(self._in_flight.worker_samples)
        if queued + len(workers) > self._max_logs:
            return
        self._writes.worker_samples += workers
        self._writes.fleet_samples.append(fleet)
        self._wake.set()

    def forget(self, job_id: int) -> None:
        """Drop the changes queued for a job that was withdrawn before it was stored."""
        self._writes.forget_job(job_id)

    # New jobs

    def insert(self, new: Sequence[Job]) -> PendingInsert:
        """Store new jobs in the next commit; see ``inserted`` for the result.

        Changes queued after this call go in the same commit or a later one.
        """
        pending = PendingInsert(new, asyncio.get_running_loop().create_future())
        self._inserts.append(pending)
        self._wake.set()
        return pending

    async def inserted(self, pending: PendingInsert, deadline_s: float) -> Inserted:
        """(job, created) once stored; UnavailableError if not by the deadline, and then never.

        A commit under way at the deadline decides: its success stores the jobs.
        """
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), deadline_s)
        except TimeoutError:
            pending.withdrawn = True
        if pending.committing:
            return await pending.future
        if pending in self._inserts:
            self._inserts.remove(pending)
        raise UnavailableError("the database did not store the job in time: nothing was created")

    # Durability

    async def flush(self, deadline_s: float | None = None) -> bool:
        """True once everything queued before this call is committed; False at the deadline."""
        if not self._writes and not self._inserts and not self._busy:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._writes or self._inserts:
            self._waiters.append(future)
            self._wake.set()
        else:
            # All it waits for is in the batch being committed: no need for another.
            self._in_flight_waiters.append(future)
        if deadline_s is None:
            await future
            return True
        try:
            await asyncio.wait_for(asyncio.shield(future), deadline_s)
        except TimeoutError:
            return False
        return True

    def backlog(self) -> Backlog:
        """How much waits to be written, the batch being committed included."""
        changes = len(self._writes) + len(self._in_flight)
        return Backlog(changes, len(self._inserts), dict(self._logs_not_kept))

    # The loop

    async def run(self) -> None:
        """Commit what is queued, for ever (a background task of the master)."""
        delay = RETRY_FIRST_S
        while True:
            if self._db.health.ok or self._writes or self._inserts or self._waiters:
                await self._wake.wait()
            self._wake.clear()
            if await self._commit_once():
                delay = RETRY_FIRST_S
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            self._wake.set()

    async def _commit_once(self) -> bool:
        """Commit what is queued; on an outage keep it for the next try. True if written."""
        writes, self._writes = self._writes, Writes()
        inserts, self._inserts = [p for p in self._inserts if not p.withdrawn], []
        waiters, self._waiters = self._waiters, []
        self._in_flight_waiters = waiters
        not_kept = dict(self._logs_not_kept)
        for pending in inserts:
            pending.committing = True
        self._busy, self._in_flight = True, writes
        try:
            jobs = [p.jobs for p in inserts]
            results = await self._db.run(self._commit, jobs, writes, _markers(not_kept))
        except UnavailableError as exc:
            self._keep(writes, inserts, self._in_flight_waiters, exc)
            self._in_flight_waiters = []
            return False
        except Exception as exc:
            # A batch the database refuses for its content cannot be retried: memory is
            # ahead of the database now, and the next master start works from what is stored.
            log.exception("writes refused: %d inserts, %d changes lost", len(inserts), len(writes))
            for pending in inserts:
                pending.future.set_exception(exc)
            results = None
        finally:
            self._busy, self._in_flight = False, Writes()
        self._logs_not_kept.subtract(not_kept)
        self._logs_not_kept = +self._logs_not_kept  # drop the zeros
        if results is not None:
            for pending, result in zip(inserts, results, strict=True):
                pending.future.set_result(result)
        for waiter in self._in_flight_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._in_flight_waiters = []
        return True

    def _keep(
        self,
        writes: Writes,
        inserts: list[PendingInsert],
        waiters: list["asyncio.Future[None]"],
        exc: UnavailableError,
    ) -> None:
        """Put a batch that could not be written back in front of what came after it."""
        writes.absorb(self._writes)
        self._writes = writes
        kept = []
        for pending in inserts:
            pending.committing = False
            if pending.withdrawn:
                pending.future.set_exception(exc)
            else:
                kept.append(pending)
        self._inserts = kept + self._inserts
        self._waiters = waiters + self._waiters
        log.debug("writes kept for the next try: %s", exc)

    def _commit(
        self, inserts: list[Sequence[Job]], writes: Writes, markers: Writes
    ) -> list[Inserted]:
        """On the database thread: one transaction, the inserts then the changes."""
        if self._conn is None:
            self._conn = self._db.engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                if not inserts and not writes and not markers:
                    conn.execute(text("SELECT 1"))  # a probe while the database is away
                    return []
                results = [insert_jobs(conn, new, self._db.ring) for new in inserts]
                apply_writes(conn, writes)
                apply_writes(conn, markers)
        except Exception:
            # The next batch starts on a fresh connection (the server may have restarted).
            self._conn = None
            conn.close()
            raise
        return results


def _markers(not_kept: dict[str, int]) -> Writes:
    """Rows that say how many events and requests were not kept while the database was away.

    Apart from the batch: a batch kept for the next try must not carry them twice.
    """
    markers = Writes()
    for key, count in not_kept.items():
        what = f"{count} events not recorded: the database was unavailable"
        if key == AUDIT:
            markers.audit.append(
                {
                    "at": utcnow(),
                    "actor": "master",
                    "peer": None,
                    "method": "-",
                    "route": "(audit trail)",
                    "target": what.replace("events", "requests"),
                    "status": 0,
                }
            )
        else:
            row = {"worker_id": key, "at": utcnow(), "level": "warning", "kind": "error"}
            markers.logs.append(row | {"message": what})
    return markers
