"""The recovery manager on a seeded database, on both backends, through a real Scheduler."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from corral.domain.clock import utcnow
from corral.domain.jobs import Allocation, Job, JobState, Reason
from corral.domain.recovery import Action, DropAllocation, EndAttempt, Snapshot
from corral.errors import NotFoundError
from corral.master.jobs.recovery import RecoveryManager, RecoveryResult
from corral.master.jobs.slots import WorkerSlot
from corral.settings import MasterSettings
from corral.store.writes import Writes
from master.test_scheduler import (
    Rig,
    apply_batch,
    assigned_ids,
    finished,
    report,
    run,
    spec,
    started,
    worker,
)

J = JobState
HOUR = 3600.0
SETTINGS = MasterSettings(
    assignment_timeout_s=30.0,
    max_job_runtime_s=72 * HOUR,
    stale_allocation_s=48 * HOUR,
    job_retention_s=7 * 24 * HOUR,
)


def ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def row(job_id: int, state: JobState = J.PENDING, **fields: Any) -> Job:
    """A job as the master would have stored it; ``fields`` set the rest of the record."""
    names = ("max_attempts", "max_requeues", "timeout_s")
    spec_fields = {k: fields.pop(k) for k in names if k in fields}
    now = utcnow()
    return Job(
        id=job_id, spec=spec(**spec_fields), state=state, submitted_at=now, updated_at=now, **fields
    )


async def seed(r: Rig, jobs: list[Job], allocations: Sequence[Allocation] = ()) -> None:
    """Store jobs with their ids, then allocation rows, and load the pending ones."""
    await r.db.run(r.db.jobs.insert, jobs)
    if allocations:
        writes = Writes(allocations={a.job_id: a for a in allocations})
        await r.db.run(apply_batch, r.db.engine, writes)
    unfinished = await r.db.run(r.db.jobs.unfinished)
    pending = [j for j in unfinished if j.state is J.PENDING]
    assert await r.sched.load(pending, await r.db.run(r.db.jobs.max_id)) == 0


async def hold(r: Rig, job_id: int) -> Job:
    """Put a stored assigned or running job into the scheduler's memory, as it was stored."""
    job = await r.db.run(r.db.jobs.get, job_id)
    assert job.state in (J.ASSIGNED, J.RUNNING)
    r.sched.jobs[job.id] = job
    return job


def allocation(job_id: int, attempt: int, instance: str, age_s: float = 1.0) -> Allocation:
    return Allocation(job_id, attempt, instance.split("-")[0], instance, [0], None, ago(age_s))


async def allocated(r: Rig) -> list[tuple[int, int]]:
    """(job id, attempt) of every allocation row committed."""
    await r.writer.flush()
    return [(a.job_id, a.attempt) for a in await r.db.run(r.db.jobs.allocations)]


def numbers(result: RecoveryResult) -> tuple[int, int, int, float]:
    return (result.total_jobs, result.recovered_jobs, result.skipped_jobs, result.success_rate)


def test_run_once_ends_the_attempts_no_live_instance_holds(db_url: str, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker("w1", cpus=4)
        r.sched.worker_up(ws)
        await seed(
            r,
            [
                row(1, J.RUNNING, max_attempts=2, attempt=1, worker_id="ghost",
                    instance_id="ghost-i1", assigned_at=ago(60), started_at=ago(50)),
                row(2, J.RUNNING, max_requeues=1, requeues=1, attempt=2, worker_id="w1",
                    instance_id="w1-old", assigned_at=ago(60), started_at=ago(50)),
                row(3, J.SUCCEEDED, attempt=1, finished_at=ago(10)),
            ],
            [allocation(1, 1, "ghost-i1"), allocation(3, 1, "w1-old"), allocation(99, 4, "w1-i1")],
        )  # fmt: skip
        ghost, replaced = await hold(r, 1), await hold(r, 2)
        healthy, late = await r.submit(spec(), spec(max_attempts=3))
        assert (healthy.id, late.id) == (4, 5)
        report(r, ws, started(healthy, [0]))
        r.sched.offered[late.id] = ago(SETTINGS.assignment_timeout_s + 1)
        assert assigned_ids(ws) == [(4, 1), (5, 1)]
        assert await allocated(r) == [(1, 1), (3, 1), (4, 1), (99, 4)]

        recovery = RecoveryManager(r.db, r.sched, SETTINGS)
        result = await recovery.run_once()
        assert numbers(result) == (5, 5, 0, 1.0)
        assert result.duration_seconds >= 0.0

        # Requeued, the reason kept, then placed on w1 again.
        got = await r.stored(ghost.id)
        assert (got.state, got.attempt, got.reason, got.worker_id) == (
            J.ASSIGNED,
            2,
            "worker_lost",
            "w1",
        )
        got = await r.stored(late.id)
        assert (got.state, got.attempt, got.reason) == (J.ASSIGNED, 2, "assignment_lost")
        # Its requeues spent, the job of the replaced instance fails for good.
        got = await r.stored(replaced.id)
        assert (got.state, got.attempt, got.reason) == (J.FAILED, 2, "worker_lost")
        assert got.reason_detail == "requeued 1 times, max_requeues 1"
        assert got.finished_at is not None and replaced.id not in r.sched.jobs
        assert (await r.stored(healthy.id)).state is J.RUNNING
        # Stale rows are gone; the running attempt keeps its own.
        assert await allocated(r) == [(4, 1)]
        assignments, cancels = ws.mailbox.take()
        assert [(a["job_id"], a["attempt"]) for a in assignments] == [(1, 2), (5, 2)]
        # Only the live instance's own attempt is cancelled on it.
        assert cancels == [{"job_id": late.id, "attempt": 1}]
        assert ws.slot.free == 4 - 3 and ws.jobs == {1, 4, 5}

        again = await recovery.run_once()
        assert numbers(again) == (0, 0, 0, 1.0)
        assert ws.mailbox.take() == ([], [])

    run(body, tmp_path, db_url)


def test_jobs_that_ran_too_long_are_cancelled_on_their_worker(db_url: str, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        await seed(r, [row(1, J.FAILED, attempt=1, finished_at=ago(5))])
        ws = worker("w1", cpus=3)
        r.sched.worker_up(ws)
        timed, endless, fine = await r.submit(
            spec(timeout_s=60.0), spec(max_attempts=2), spec(timeout_s=HOUR)
        )
        assert (timed.id, endless.id, fine.id) == (2, 3, 4)
        report(r, ws, started(timed, [0]), started(endless, [1]), started(fine, [2]))
        ws.mailbox.take()
        timed.started_at = ago(60 + 31)  # its timeout plus the grace its worker had
        endless.started_at = ago(SETTINGS.max_job_runtime_s + 1)
        fine.started_at = ago(HOUR - 60)

        recovery = RecoveryManager(r.db, r.sched, SETTINGS)
        assert numbers(await recovery.run_once()) == (2, 2, 0, 1.0)

        got = await r.stored(timed.id)
        assert (got.state, got.reason, got.attempt) == (J.TIMED_OUT, "timeout", 1)
        got = await r.stored(endless.id)
        assert (got.state, got.reason, got.attempt) == (J.ASSIGNED, "max_runtime", 2)
        assert (await r.stored(fine.id)).state is J.RUNNING
        assignments, cancels = ws.mailbox.take()
        assert cancels == [{"job_id": timed.id, "attempt": 1}, {"job_id": endless.id, "attempt": 1}]
        assert [(a["job_id"], a["attempt"]) for a in assignments] == [(endless.id, 2)]
        assert await allocated(r) == [(fine.id, 1)]
        # The worker's late report about an ended attempt changes nothing.
        assert report(r, ws, finished(timed, 0)) == [(timed.id, 1)]
        assert (await r.stored(timed.id)).state is J.TIMED_OUT
        assert numbers(await recovery.run_once()) == (0, 0, 0, 1.0)

    run(body, tmp_path, db_url)


@dataclass(frozen=True)
class Fixed:
    """A strategy that always plans the same actions."""

    actions: list[Action] = field(default_factory=list)
    name: str = "fixed"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """The fixed actions."""
        return list(self.actions)


def test_actions_that_no_longer_hold_are_skipped(db_url: str, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker("w1", cpus=2)
        r.sched.worker_up(ws)
        first, second = await r.submit(spec(max_attempts=2), spec(max_attempts=2))
        report(r, ws, started(first), started(second))
        ws.mailbox.take()
        plan: list[Action] = [
            EndAttempt(404, 1, Reason.WORKER_LOST),  # no such job
            EndAttempt(first.id, 2, Reason.WORKER_LOST),  # not its current attempt
            EndAttempt(second.id, 1, Reason.WORKER_LOST),
        ]
        recovery = RecoveryManager(r.db, r.sched, SETTINGS, Fixed(plan))
        result = await recovery.run_once()
        assert numbers(result)[:3] == (3, 1, 2)
        assert result.success_rate == pytest.approx(1 / 3)
        assert (await r.stored(first.id)).state is J.RUNNING
        got = await r.stored(second.id)
        assert (got.state, got.attempt, got.reason) == (J.ASSIGNED, 2, "worker_lost")
        _, cancels = ws.mailbox.take()
        assert cancels == [{"job_id": second.id, "attempt": 1}]
        # The same plan again: the ended attempt is now stale too.
        result = await recovery.run_once()
        assert numbers(result) == (3, 0, 3, 0.0)

    run(body, tmp_path, db_url)


def test_rows_of_an_attempt_started_but_not_yet_committed_are_kept(
    db_url: str, tmp_path: Path
) -> None:
    async def body(r: Rig) -> None:
        ws = worker("w1", cpus=1)
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(max_attempts=2))
        report(r, ws, started(job, [0]))
        assert await allocated(r) == [(job.id, 1)]
        # Attempt 1 fails and attempt 2 starts; the writer has not committed that yet.
        report(r, ws, finished(job, 1))
        report(r, ws, started(job, [0]))
        assert (job.state, job.attempt) == (J.RUNNING, 2)
        result = await RecoveryManager(r.db, r.sched, SETTINGS).run_once()
        assert numbers(result) == (0, 0, 0, 1.0)
        assert await allocated(r) == [(job.id, 2)]

    run(body, tmp_path, db_url)


@dataclass(frozen=True)
class NextAttemptStartsMeanwhile:
    """Drops a job's row, while the job's next attempt starts after the snapshot was taken."""

    r: Rig
    ws: WorkerSlot
    job: Job
    name: str = "racing"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """Let the worker's reports in, then plan from the older snapshot."""
        assert [(a.job_id, a.attempt) for a in snapshot.allocations] == [(self.job.id, 1)]
        report(self.r, self.ws, finished(self.job, 1))
        report(self.r, self.ws, started(self.job, [0]))
        return [DropAllocation(self.job.id), DropAllocation(404)]


def test_a_drop_is_skipped_once_a_newer_attempt_runs(db_url: str, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker("w1", cpus=1)
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(max_attempts=2))
        report(r, ws, started(job, [0]))
        strategy = NextAttemptStartsMeanwhile(r, ws, job)
        result = await RecoveryManager(r.db, r.sched, SETTINGS, strategy).run_once()
        assert (job.state, job.attempt) == (J.RUNNING, 2)
        # A drop of a row the snapshot did not hold is skipped too.
        assert numbers(result) == (2, 0, 2, 0.0)
        assert await allocated(r) == [(job.id, 2)]

    run(body, tmp_path, db_url)


def test_prune_deletes_old_finished_jobs_and_their_output(db_url: str, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        old = SETTINGS.job_retention_s + HOUR
        await seed(
            r,
            [
                row(1, J.SUCCEEDED, attempt=1, finished_at=ago(old)),
                row(2, J.FAILED, attempt=1, finished_at=ago(old + HOUR)),
                row(3, J.CANCELLED, finished_at=ago(old)),
                row(4, J.TIMED_OUT, attempt=1, finished_at=ago(SETTINGS.job_retention_s - HOUR)),
                row(5, J.PENDING),
                row(6, J.SUCCEEDED, attempt=1, finished_at=ago(60)),
            ],
        )
        for job_id in range(1, 7):
            r.sched.output.append(job_id, 1, "stdout", f"job {job_id}\n")
        jobs_dir = tmp_path / "jobs"
        assert sorted(p.name for p in jobs_dir.iterdir()) == ["1", "2", "3", "4", "5", "6"]

        recovery = RecoveryManager(r.db, r.sched, SETTINGS)
        assert await recovery.prune() == 3
        for job_id in (1, 2, 3):
            with pytest.raises(NotFoundError):
                await r.db.run(r.db.jobs.get, job_id)
        assert sorted(p.name for p in jobs_dir.iterdir()) == ["4", "5", "6"]
        assert [(await r.stored(i)).state for i in (4, 5, 6)] == [
            J.TIMED_OUT,
            J.PENDING,
            J.SUCCEEDED,
        ]
        assert r.sched.output.tail(4, "stdout", 1) == ["job 4"]
        assert await recovery.prune() == 0

    run(body, tmp_path, db_url)
