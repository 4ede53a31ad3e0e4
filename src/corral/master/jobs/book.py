"""The book of unfinished jobs: their live records, and how an attempt's end is written.

The scheduler decides where jobs go and when an attempt ends; the book keeps the
records, requeues or finishes them, and queues the matching writes.
"""

import asyncio
import logging
from datetime import timedelta
from typing import Any

from corral.domain.clock import utcnow
from corral.domain.jobs import TERMINAL, Job, JobState, Reason
from corral.domain.outcomes import Outcome, retry_delay_s
from corral.domain.queue import PendingQueue
from corral.errors import ConflictError
from corral.master.jobs.output import JobOutput
from corral.master.jobs.writer import JobWriter

log = logging.getLogger("corral.master")
J = JobState


class JobBook:
    """Unfinished jobs by id, the pending queue, and the writes that follow them."""

    def __init__(self, writer: JobWriter, output: JobOutput) -> None:
        self.writer = writer
        self.output = output
        self.jobs: dict[int, Job] = {}
        self.queue = PendingQueue()
        self.last_id = 0  # the master numbers jobs: it is the only writer
        self._finished: dict[int, asyncio.Event] = {}

    def new_id(self) -> int:
        """The next job id."""
        self.last_id += 1
        return self.last_id

    def add(self, job: Job) -> None:
        """Keep a pending job and queue it."""
        self.jobs[job.id] = job
        self.queue.add(job)

    def live(self, job_id: int) -> Job:
        """An unfinished job; ConflictError if it is not one."""
        job = self.jobs.get(job_id)
        if job is None:
            raise ConflictError(f"job {job_id} is not pending or running")
        return job

    def retry(self, job: Job) -> None:
        """Make a finished job pending again with a fresh budget of attempts."""
        if job.state not in TERMINAL:
            raise ConflictError(f"job {job.id} is {job.state}: only a finished job can be retried")
        now = utcnow()
        job.state, job.attempt_base, job.reason = J.PENDING, job.attempt, None
        job.cancel_requested, job.not_before, job.finished_at = False, None, None
        job.exit_code = job.signal = None
        self.writer.update(
            job.id,
            state=str(J.PENDING),
            attempt_base=job.attempt,
            reason=None,
            cancel_requested=False,
            not_before=None,
            finished_at=None,
            exit_code=None,
            signal=None,
            updated_at=now,
            **forget_attempt(job),
        )
        self.add(job)

    async def wait_finished(self, job_id: int, timeout_s: float) -> None:
        """Return when the job is finished (and stored), or after ``timeout_s``."""
        if job_id in self.jobs:
            event = self._finished.setdefault(job_id, asyncio.Event())
            try:
                async with asyncio.timeout(timeout_s):
                    await event.wait()
            except TimeoutError:
                return
        await self.writer.flush()

    def settle(self, job: Job, outcome: Outcome) -> None:
        """Retry the attempt while attempts remain, else finish the job as the outcome says."""
        retry = outcome.retryable and job.attempts_left > 0
        if outcome.reason is not None and job.worker_id is not None:
            then = "requeued" if retry else f"job {outcome.state}"
            what = f"job {job.id} attempt {job.attempt}: {outcome.describe()}, {then}"
            self.writer.log(job.worker_id, what, "warning")
        if retry:
            self._requeue(job, outcome)
        else:
            self.finish(job, outcome.state, outcome.describe(), outcome.exit_code, outcome.signal)

    def _requeue(self, job: Job, outcome: Outcome) -> None:
        now = utcnow()
        delay = retry_delay_s(job, outcome)
        job.state, job.reason = J.PENDING, outcome.describe()
        job.not_before = now + timedelta(seconds=delay) if delay > 0 else None
        job.exit_code, job.signal = outcome.exit_code, outcome.signal
        self.writer.update(
            job.id,
            state=str(J.PENDING),
            reason=job.reason,
            not_before=job.not_before,
            exit_code=job.exit_code,
            signal=job.signal,
            updated_at=now,
            **forget_attempt(job),
        )
        log.info("job %d: attempt %d ended (%s), requeued", job.id, job.attempt, job.reason)
        self.queue.add(job)

    def finish(
        self,
        job: Job,
        state: JobState,
        reason: Reason | str | None,
        exit_code: int | None = None,
        signal: int | None = None,
    ) -> None:
        """End the job for good; whoever waits on it is told."""
        now = utcnow()
        job.state, job.finished_at = state, now
        job.reason = None if reason is None else str(reason)
        job.exit_code, job.signal = exit_code, signal
        self.writer.update(
            job.id,
            state=str(state),
            reason=job.reason,
            exit_code=exit_code,
            signal=signal,
            finished_at=now,
            updated_at=now,
        )
        del self.jobs[job.id]
        self.output.finish(job.id)
        event = self._finished.pop(job.id, None)
        if event is not None:
            event.set()


def forget_attempt(job: Job) -> dict[str, Any]:
    """Clear where the last attempt ran: a pending job is on no worker."""
    job.worker_id = job.instance_id = job.pid = job.pid_start = None
    job.cpu_ids, job.assigned_at, job.started_at = [], None, None
    return {
        "worker_id": None,
        "instance_id": None,
        "pid": None,
        "pid_start": None,
        "cpu_ids": [],
        "assigned_at": None,
        "started_at": None,
    }
