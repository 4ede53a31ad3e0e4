"""Group commit for jobs: every change queued since the last commit goes in the next one.

The scheduler changes its in-memory jobs at once and queues the matching writes
here; one task commits them in batches. It commits on the event loop itself: a
batch costs well under a millisecond, less than handing it to the database thread
and back while both compete for the interpreter. Callers that must
not answer before their change is durable await ``flush()``.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from corral.domain.clock import utcnow
from corral.domain.jobs import Allocation, Attempt, Job
from corral.master.database import Database
from corral.store.jobs import JobWrites, apply_writes, insert_jobs

log = logging.getLogger("corral.master")
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


class JobWriter:
    """Queues job inserts and updates; commits them together, in order."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._writes = JobWrites()
        self._inserts: list[tuple[Sequence[Job], asyncio.Future[list[tuple[Job, bool]]]]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        # One connection kept for the writes: checking one out of the pool and
        # resetting it costs more than a small commit.
        self._conn: Connection | None = None

    def start(self) -> None:
        """Begin committing in the background."""
        self._task = asyncio.create_task(self._run(), name="job-writer")

    async def close(self) -> None:
        """Commit what is queued, then stop and release the connection."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def update(self, job_id: int, **values: Any) -> None:
        """Queue new column values for one job."""
        self._writes.update(job_id, values)
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

    def log(self, worker_id: str, message: str, level: str = "info") -> None:
        """Queue a job event for a worker's history."""
        row = {"worker_id": worker_id, "at": utcnow(), "level": level, "kind": "job"}
        self._writes.logs.append(row | {"message": message})
        self._wake.set()

    def insert(self, new: Sequence[Job]) -> "asyncio.Future[list[tuple[Job, bool]]]":
        """Store new jobs in the next commit; resolves to (job, created) once it is durable.

        Updates queued after this call go in the same commit or a later one.
        """
        future: asyncio.Future[list[tuple[Job, bool]]] = asyncio.get_running_loop().create_future()
        self._inserts.append((new, future))
        self._wake.set()
        return future

    async def flush(self) -> None:
        """Return once everything queued before this call is committed."""
        if not self._writes and not self._inserts and not self._busy:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            writes, self._writes = self._writes, JobWrites()
            inserts, self._inserts = self._inserts, []
            waiters, self._waiters = self._waiters, []
            self._busy = True
            try:
                results = await self._commit_until_reachable(inserts, writes)
            except Exception as exc:
                # A batch the database refuses for its content cannot be retried: the
                # scheduler's memory is ahead of the database now, and recovery at the
                # next master start works from what is stored.
                log.exception(
                    "job writes refused: %d inserts, %d job updates lost",
                    len(inserts),
                    len(writes.updates),
                )
                for _, future in inserts:
                    if not future.done():
                        future.set_exception(exc)
                results = None
            finally:
                self._busy = False
            if results is not None:
                for (_, future), result in zip(inserts, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _commit_until_reachable(
        self,
        inserts: list[tuple[Sequence[Job], "asyncio.Future[list[tuple[Job, bool]]]"]],
        writes: JobWrites,
    ) -> list[list[tuple[Job, bool]]]:
        """Commit the batch, retrying while the database cannot be reached.

        Nothing waiting on the batch (answers to workers and clients) goes out
        meanwhile: work is handed out only once it is durable.
        """
        delay = RETRY_FIRST_S
        while True:
            try:
                return self._commit(inserts, writes)
            except OperationalError as exc:
                log.warning("database unreachable, job writes retried in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _commit(
        self,
        inserts: list[tuple[Sequence[Job], "asyncio.Future[list[tuple[Job, bool]]]"]],
        writes: JobWrites,
    ) -> list[list[tuple[Job, bool]]]:
        """One transaction: the inserts, then the updates."""
        if not inserts and not writes:
            return []
        if self._conn is None:
            self._conn = self._db.engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                results = [insert_jobs(conn, new) for new, _ in inserts]
                apply_writes(conn, writes)
        except Exception:
            # The next batch starts on a fresh connection (the server may have restarted).
            self._conn = None
            conn.close()
            raise
        return results
