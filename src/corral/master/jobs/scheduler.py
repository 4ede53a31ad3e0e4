"""The scheduler: the live truth of every unfinished job and of each worker's free CPUs.

It runs on the event loop and changes its jobs in memory at once; the Writer
makes the changes durable in batches. Placement is event-driven: a submit, a
finished job or a new worker triggers a pass, whose assignments go to the
workers' mailboxes, answered as soon as they are durable.
"""

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import cast

from corral.domain.clock import utcnow
from corral.domain.jobs import ACTIVE, Allocation, Job, JobSpec, JobState, Reason, transition
from corral.domain.outcomes import Outcome, outcome_of_report
from corral.domain.placement import FleetWorker, plan, refusal
from corral.errors import ConflictError, InvalidInputError
from corral.master.jobs.book import JobBook
from corral.master.jobs.output import JobOutput
from corral.master.jobs.remains import (
    Outcomes,
    clear_spools,
    recorded_end,
    salvage_output,
    take_recorded,
)
from corral.master.jobs.slots import WorkerSlot
from corral.master.stale_process import kill_job_process
from corral.master.writer import Writer
from corral.protocol import Assignment, AttemptRef, JobEvent
from corral.store.secret_env import unopened

log = logging.getLogger("corral.master")
J = JobState
# How long a submit waits for its jobs to be stored before it answers 503.
SUBMIT_DEADLINE_S = 0.9


class Scheduler:
    """Owns unfinished jobs, places them on workers, and settles their attempts."""

    def __init__(self, writer: Writer, output: JobOutput) -> None:
        self.writer = writer
        self.output = output
        self.book = JobBook(writer, output)
        self.jobs = self.book.jobs
        self.queue = self.book.queue
        self.slots: dict[str, WorkerSlot] = {}
        self.homes: dict[str, str] = {}  # account -> the worker that ran it last
        self.fleet: dict[str, FleetWorker] = {}  # every configured worker, kept by lifecycle
        # job id -> when its assignment was last offered to or reached its worker
        self.offered: dict[int, datetime] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def load(
        self, unfinished: Iterable[Job], last_id: int, local: Mapping[str, Path] | None = None
    ) -> int:
        """At master start: queue pending jobs; settle the attempts no worker runs any more.

        ``local`` names the state folder of each local worker: they died with the previous
        master, and what they recorded there (outcomes, output) settles their attempts.
        """
        self.book.last_id = last_id
        folders = dict(local or {})
        recorded = take_recorded(folders.values())
        orphans = 0
        for job in unfinished:
            if job.state is J.PENDING:
                self.book.add(job)
            else:
                self.jobs[job.id] = job
                local_dir = folders.get(job.worker_id or "")
                if not self._end_unseen(job, recorded, local_dir, Reason.STARTUP_ORPHAN):
                    orphans += 1
            self._fail_unopened(job)
        clear_spools(folders.values())
        if orphans:
            log.warning("%d jobs were running when the previous master stopped", orphans)
        await self.writer.flush()
        return orphans

    def _fail_unopened(self, job: Job) -> None:
        """A pending job whose secrets do not open can never start: it fails, saying why."""
        unusable = unopened(job.spec.secret_env)
        if unusable is not None and job.state is J.PENDING:
            self.queue.remove(job)
            self.book.finish(job, J.FAILED, Reason.SPAWN_FAILED, str(unusable))

    def _end_unseen(
        self, job: Job, recorded: Outcomes, folder: Path | None, reason: Reason
    ) -> bool:
        """End an attempt whose worker died: as its ledger says, else lost for ``reason``.

        A local worker's spool gives back the output that was still on its way. True
        if the ledger had the attempt's end.
        """
        if folder is not None:
            salvage_output(self.output, job, folder)
        record = recorded_end(recorded, job)
        if record is None:
            if folder is not None:
                kill_job_process(job)  # a local worker's job may outlive it
            self.recover(job, reason)
            return False
        sent = {s: int(record.get(f"{s}_bytes") or 0) for s in ("stdout", "stderr")}
        self.output.complete(job.id, job.attempt, sent)
        log.info("job %d: attempt %d ended as its worker recorded", job.id, job.attempt)
        self._settle(job, outcome_of_report(job, cast(JobEvent, record)))
        return True

    # Jobs from clients

    async def submit(
        self, specs: Sequence[JobSpec], deadline_s: float = SUBMIT_DEADLINE_S
    ) -> list[tuple[Job, bool]]:
        """Store new jobs and place them; (job, created), existing ones for known keys.

        UnavailableError when the database does not store them by the deadline: then
        nothing of them remains, in memory or in the database.
        """
        self.writer.check_available()
        now = utcnow()
        fresh = [
            Job(id=self.book.new_id(), spec=s, submitted_at=now, updated_at=now) for s in specs
        ]
        for index, job in enumerate(fresh):
            why = refusal(job, self.fleet)
            if why is not None:
                where = f"job {index}: " if len(fresh) > 1 else ""
                raise InvalidInputError(where + why)
        pending = self.writer.insert(fresh)
        # Only the store knows whether a key was used before: place after it answers.
        # Jobs without one are placed at once: row and assignment go in the same commit.
        keyed = any(s.idempotency_key is not None for s in specs)
        if not keyed:
            self._enqueue(fresh)
        try:
            results = await self.writer.inserted(pending, deadline_s)
        except Exception:
            if not keyed:
                self.withdraw(fresh)
            raise
        self.book.tally.on_submitted(sum(created for _, created in results))
        if not keyed:
            return results
        self._enqueue([job for job, created in results if created])
        return [(self.jobs.get(job.id, job), created) for job, created in results]

    def withdraw(self, jobs: Iterable[Job]) -> None:
        """Forget jobs whose rows were never stored (their submitter was told so)."""
        for job in jobs:
            if self.jobs.get(job.id) is not job:
                continue
            if job.state is J.PENDING:
                self.queue.remove(job)
            else:
                self._release(job)
                ws = self.slots.get(job.worker_id or "")
                if ws is not None:
                    ws.mailbox.withdraw(job.id)
            del self.jobs[job.id]
            self.writer.forget(job.id)
        self.schedule()

    def owns(self, worker_id: str, instance_id: str, job_id: int, attempt: int) -> bool:
        """Whether this attempt is still the job's current one, on that worker instance."""
        job = self.jobs.get(job_id)
        return (
            job is not None
            and job.state in ACTIVE
            and job.attempt == attempt
            and (job.worker_id, job.instance_id) == (worker_id, instance_id)
        )

    def _enqueue(self, new: Iterable[Job]) -> None:
        for job in new:
            self.book.add(job)
        self.schedule()

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending job at once; ask the worker to end a running one."""
        job = self.book.live(job_id)
        if job.state is J.PENDING:
            self.queue.remove(job)
            self.book.finish(job, J.CANCELLED, Reason.CANCELLED)
        elif not job.cancel_requested:
            job.cancel_requested = True
            self.writer.update(job.id, cancel_requested=True, updated_at=utcnow())
            slot = self.slots.get(job.worker_id or "")
            if slot is not None:
                slot.mailbox.cancel(AttemptRef(job_id=job.id, attempt=job.attempt))
        return job

    def retry(self, job: Job) -> Job:
        """Make a finished job pending again with a fresh budget of attempts."""
        unusable = unopened(job.spec.secret_env)
        if unusable is not None:
            raise ConflictError(f"{unusable}: it cannot run again")
        self.book.retry(job)
        self.schedule()
        return job

    async def wait_finished(self, job_id: int, timeout_s: float) -> None:
        """Return when the job is finished (and stored), or after ``timeout_s``."""
        await self.book.wait_finished(job_id, timeout_s)

    # Placement

    def schedule(self) -> int:
        """Place what fits now, and wake the workers that got work; how many were placed."""
        now = utcnow()
        slots = [ws.slot for ws in self.slots.values()]
        placed = plan(self.queue.ordered(), slots, now, self.homes)
        for job, slot in placed:
            self.queue.remove(job)
            self._assign(job, self.slots[slot.worker_id])
        self._arm_timer()
        return len(placed)

    def _assign(self, job: Job, ws: WorkerSlot) -> None:
        # A pending job carries nothing of an earlier attempt (see forget_attempt).
        now = utcnow()
        # It has waited since it last became pending, or since its retry backoff ended.
        since = max(filter(None, (job.updated_at, job.not_before)), default=None)
        self.book.tally.on_assigned(since, now)
        changes = transition(
            job,
            J.ASSIGNED,
            now,
            attempt=job.attempt + 1,
            worker_id=ws.worker_id,
            instance_id=ws.instance_id,
            assigned_at=now,
            not_before=None,
        )
        ws.jobs.add(job.id)
        self.offered[job.id] = now
        if job.spec.account is not None:
            self.homes[job.spec.account] = ws.worker_id
        self.writer.update(job.id, **changes)
        ws.mailbox.assign(job, self.output.max_bytes, ws.slot.run_as)

    def _arm_timer(self) -> None:
        """Wake the next pass when the earliest retry backoff ends."""
        due = self.queue.earliest_not_before()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if due is not None:
            delay = max(0.0, (due - utcnow()).total_seconds()) + 0.001
            self._timer = asyncio.get_running_loop().call_later(delay, self.schedule)

    # Workers

    def worker_up(self, ws: WorkerSlot) -> None:
        """A worker instance registered: replace any earlier one, then place jobs."""
        old = self.slots.get(ws.worker_id)
        if old is not None and old.instance_id == ws.instance_id:
            return  # the same instance registering again keeps its jobs
        if old is not None:
            self.worker_down(ws.worker_id, Reason.WORKER_LOST)
        self.slots[ws.worker_id] = ws
        log.info("%s: %d CPUs open for jobs", ws.worker_id, ws.slot.capacity)
        self.schedule()

    def worker_down(self, worker_id: str, reason: Reason) -> list[Job]:
        """A worker instance is gone: its jobs end (local ones are killed) and go back."""
        ws = self.slots.pop(worker_id, None)
        if ws is None:
            return []
        ws.mailbox.close()
        folders = [ws.state_dir] if ws.state_dir is not None else []
        recorded = take_recorded(folders)
        recovered = [self.jobs[j] for j in sorted(ws.jobs) if j in self.jobs]
        for job in recovered:
            self._end_unseen(job, recorded, ws.state_dir, reason)
        clear_spools(folders)
        self.schedule()
        return recovered

    def set_draining(self, worker_id: str, instance_id: str) -> None:
        """A draining worker takes no more jobs."""
        ws = self.slots.get(worker_id)
        if ws is not None and ws.instance_id == instance_id and ws.slot.accepting:
            ws.slot.accepting = False
            log.info("%s: draining, no more jobs", worker_id)

    # Reports from workers

    def apply_events(
        self, worker_id: str, instance_id: str, events: Iterable[JobEvent]
    ) -> list[AttemptRef]:
        """Apply a worker's reports, in order; return the attempts it no longer owns.

        Applying a report twice changes nothing the first did not. UnavailableError when
        output cannot be stored: the events before it are applied, the rest are not.
        """
        stale: list[AttemptRef] = []
        freed = False
        try:
            for event in events:
                job = self._owned(event, worker_id, instance_id)
                if job is None:
                    if event.get("type") != "output":
                        stale.append(AttemptRef(job_id=event["job_id"], attempt=event["attempt"]))
                    continue
                kind = event.get("type")
                if kind == "started":
                    self._started(job, event)
                elif kind == "output":
                    stream, data = str(event.get("stream")), str(event.get("data", ""))
                    self.output.append(job.id, job.attempt, stream, data, event.get("offset"))
                elif kind == "finished":
                    self._settle(job, outcome_of_report(job, event))
                    freed = True
        finally:
            if freed:
                self.schedule()
        return stale

    def _owned(self, event: JobEvent, worker_id: str, instance_id: str) -> Job | None:
        """The job if this report is about its current attempt on this instance (fencing)."""
        if self.owns(worker_id, instance_id, event["job_id"], event["attempt"]):
            return self.jobs[event["job_id"]]
        return None

    def _started(self, job: Job, event: JobEvent) -> None:
        if job.state is J.RUNNING:
            return  # a report sent again after its answer was lost
        now = utcnow()
        changes = transition(
            job,
            J.RUNNING,
            now,
            started_at=now,
            pid=event.get("pid"),
            pid_start=event.get("start_time"),
            cpu_ids=list(event.get("cpu_ids", [])),
        )
        self.offered.pop(job.id, None)
        self.output.mark_attempt(job.id, job.attempt)
        self.writer.update(job.id, **changes)
        assert job.worker_id is not None
        self.writer.allocate(
            Allocation(
                job.id,
                job.attempt,
                job.worker_id,
                job.instance_id,
                job.cpu_ids,
                job.spec.account,
                now,
            )
        )

    # Ending attempts

    def recover(self, job: Job, reason: Reason, state: JobState = J.FAILED) -> None:
        """End an attempt the worker could not finish: requeue while attempts remain."""
        if job.cancel_requested:
            self._settle(job, Outcome(J.CANCELLED, Reason.CANCELLED))
        else:
            self._settle(job, Outcome(state, reason, retryable=True))

    def end_attempt(self, job_id: int, attempt: int, reason: Reason, state: JobState) -> bool:
        """End an attempt from outside its worker's reports; False if it already ended."""
        job = self.jobs.get(job_id)
        if job is None or job.state not in ACTIVE or job.attempt != attempt:
            return False
        ws = self.slots.get(job.worker_id or "")
        if job.pid is not None and (ws is None or ws.local):
            kill_job_process(job)
        elif ws is not None and ws.instance_id == job.instance_id:
            # Its worker kills it; the report that follows is stale and ignored.
            ws.mailbox.cancel(AttemptRef(job_id=job.id, attempt=job.attempt))
        self.recover(job, reason, state)
        return True

    def _settle(self, job: Job, outcome: Outcome) -> None:
        """Free the attempt's CPUs and account; the book retries it or finishes the job."""
        self._release(job)
        self.book.settle(job, outcome)

    def handed_out(self, assignments: Iterable[Assignment]) -> None:
        """Assignments reached their worker (or go back to its mailbox): restart their clock."""
        now = utcnow()
        for assignment in assignments:
            if assignment["job_id"] in self.offered:
                self.offered[assignment["job_id"]] = now

    def _release(self, job: Job) -> None:
        self.offered.pop(job.id, None)
        ws = self.slots.get(job.worker_id or "")
        if ws is not None and job.id in ws.jobs and ws.instance_id == job.instance_id:
            ws.jobs.discard(job.id)
            ws.slot.free += job.spec.cpus
            account = job.spec.account
            if account is not None:
                ws.slot.accounts[account] -= 1
                if ws.slot.accounts[account] <= 0:
                    del ws.slot.accounts[account]
        if job.state is J.RUNNING:
            self.writer.release(job.id)

    def usage(self, worker_id: str) -> dict[str, int]:
        """What a worker's jobs hold now, for its runtime record."""
        ws = self.slots.get(worker_id)
        if ws is None:
            return {"cpus_allocated": 0, "accounts_allocated": 0, "active_jobs": 0}
        return {
            "cpus_allocated": ws.slot.capacity - ws.slot.free,
            "accounts_allocated": ws.slot.holds(),
            "active_jobs": len(ws.jobs),
        }
