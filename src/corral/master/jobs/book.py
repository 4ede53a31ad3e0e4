"""The book of unfinished jobs: their live records, and how an attempt's end is written.

The scheduler decides where jobs go and when an attempt ends; the book keeps the
records, requeues or finishes them, and queues the matching writes.
"""

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from corral.domain.clock import utcnow
from corral.domain.jobs import TERMINAL, Attempt, Job, JobState, Reason, transition
from corral.domain.outcomes import Outcome, retry_delay_s
from corral.domain.queue import PendingQueue
from corral.errors import ConflictError
from corral.master.jobs.output import JobOutput
from corral.master.jobs.tally import JobTally
from corral.master.writer import Writer

log = logging.getLogger("corral.master")
J = JobState
RECENT_JOBS = 10_000


class JobBook:
    """Unfinished jobs by id, the pending queue, and the writes that follow them."""

    def __init__(self, writer: Writer, output: JobOutput) -> None:
        self.writer = writer
        self.output = output
        self.jobs: dict[int, Job] = {}
        # Jobs finished lately, newest last: answered from memory, stored or not yet.
        self.recent: OrderedDict[int, Job] = OrderedDict()
        self.queue = PendingQueue()
        self.last_id = 0  # the master numbers jobs: it is the only writer
        self._finished: dict[int, asyncio.Event] = {}
        self.tally = JobTally()

    def new_id(self) -> int:
        """The next job id."""
        self.last_id += 1
        return self.last_id

    def find(self, job_id: int) -> Job | None:
        """A job known in memory: unfinished, or finished lately."""
        return self.jobs.get(job_id) or self.recent.get(job_id)

    def add(self, job: Job) -> None:
        """Keep a pending job and queue it."""
        self.recent.pop(job.id, None)
        self.jobs[job.id] = job
        self.queue.add(job)

    def live(self, job_id: int) -> Job:
        """An unfinished job; ConflictError if it is not one."""
        job = self.jobs.get(job_id)
        if job is None:
            raise ConflictError(f"job {job_id} is not pending or running")
        return job

    def retry(self, job: Job) -> None:
        """Make a finished job pending again with fresh budgets of attempts and requeues."""
        if job.state not in TERMINAL:
            raise ConflictError(f"job {job.id} is {job.state}: only a finished job can be retried")
        changes = transition(
            job,
            J.PENDING,
            utcnow(),
            attempt_base=job.attempt,
            requeues=0,
            reason=None,
            reason_detail=None,
            cancel_requested=False,
            not_before=None,
            finished_at=None,
            exit_code=None,
            signal=None,
            **forget_attempt(job),
        )
        self.writer.update(job.id, **changes)
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

    def settle(self, job: Job, outcome: Outcome) -> None:
        """Record how the attempt ended; try the job again while its budgets allow, else end it."""
        again = outcome.tries_again(job)
        now = utcnow()
        self.writer.attempt(attempt_record(job, outcome, now, again))
        if outcome.reason is not None and job.worker_id is not None:
            then = "requeued" if again else f"job {outcome.state}"
            what = f"job {job.id} attempt {job.attempt}: {outcome.describe()}, {then}"
            self.writer.log(job.worker_id, what, "warning")
        if again:
            self._requeue(job, outcome, now)
        elif outcome.infra:
            spent = f"requeued {job.requeues} times, max_requeues {job.spec.max_requeues}"
            detail = f"{outcome.detail}; {spent}" if outcome.detail else spent
            self.finish(
                job, outcome.state, outcome.reason, detail, outcome.exit_code, outcome.signal
            )
        else:
            self.finish(
                job,
                outcome.state,
                outcome.reason,
                outcome.detail,
                outcome.exit_code,
                outcome.signal,
            )

    def _requeue(self, job: Job, outcome: Outcome, now: datetime) -> None:
        delay = retry_delay_s(job, outcome)
        changes = transition(
            job,
            J.PENDING,
            now,
            reason=outcome.reason,
            reason_detail=outcome.detail,
            not_before=now + timedelta(seconds=delay) if delay > 0 else None,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            requeues=job.requeues + 1 if outcome.infra else job.requeues,
            **forget_attempt(job),
        )
        self.writer.update(job.id, **changes)
        log.info(
            "job %d: attempt %d ended (%s), requeued",
            job.id,
            job.attempt,
            (outcome.describe() or str(outcome.state)),
        )
        self.queue.add(job)

    def finish(
        self,
        job: Job,
        state: JobState,
        reason: Reason | None,
        detail: str | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
    ) -> None:
        """End the job for good; whoever waits on it is told."""
        now = utcnow()
        self.tally.on_finished(str(state), job.started_at, now)
        changes = transition(
            job,
            state,
            now,
            finished_at=now,
            reason=reason,
            reason_detail=detail,
            exit_code=exit_code,
            signal=signal,
        )
        self.writer.update(job.id, **changes)
        del self.jobs[job.id]
        self.recent[job.id] = job
        if len(self.recent) > RECENT_JOBS:
            self.recent.popitem(last=False)
        self.output.finish(job.id)
        event = self._finished.pop(job.id, None)
        if event is not None:
            event.set()


def attempt_record(job: Job, outcome: Outcome, now: datetime, requeued: bool) -> Attempt:
    """The row kept for the attempt that just ended."""
    return Attempt(
        job_id=job.id,
        attempt=job.attempt,
        worker_id=job.worker_id,
        instance_id=job.instance_id,
        cpu_ids=list(job.cpu_ids),
        pid=job.pid,
        assigned_at=job.assigned_at,
        started_at=job.started_at,
        finished_at=now,
        state=outcome.state,
        requeued=requeued,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        reason=outcome.reason,
        reason_detail=outcome.detail,
        max_rss_bytes=outcome.max_rss_bytes,
        cpu_seconds=outcome.cpu_seconds,
    )


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
