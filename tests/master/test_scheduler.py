"""The Scheduler with its Writer on a real SQLite database, driven through its methods."""

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from corral.db.engine import sqlite_url
from corral.domain.clock import utcnow
from corral.domain.jobs import Job, JobSpec, JobState, Reason
from corral.domain.placement import Slot
from corral.errors import ConflictError
from corral.master.database import Database
from corral.master.jobs.output import JobOutput
from corral.master.jobs.scheduler import Scheduler
from corral.master.jobs.slots import WorkerSlot
from corral.master.writer import Writer
from corral.protocol import JobEvent
from corral.sealing import DataKey, KeyRing
from corral.store.writes import Writes, apply_writes

J = JobState


@dataclass
class Rig:
    """A scheduler, its writer and the database they write to."""

    db: Database
    writer: Writer
    sched: Scheduler

    async def stored(self, job_id: int) -> Job:
        """The job as committed."""
        await self.writer.flush()
        return await self.db.run(self.db.jobs.get, job_id)

    async def submit(self, *specs: JobSpec) -> list[Job]:
        return [job for job, _ in await self.sched.submit(specs)]


def apply_batch(engine: Engine, writes: Writes) -> None:
    """Write a batch in a transaction of its own, as the writer does."""
    with engine.begin() as conn:
        apply_writes(conn, writes)


@asynccontextmanager
async def rig(tmp_path: Path, url: str | None = None) -> AsyncIterator[Rig]:
    """A scheduler and its writer on the database at ``url`` (SQLite in tmp_path by default)."""
    db = Database.open(url or sqlite_url(tmp_path), KeyRing([DataKey.generate()]))
    writer = Writer(db)
    loop = asyncio.create_task(writer.run())
    try:
        yield Rig(db, writer, Scheduler(writer, JobOutput(tmp_path / "jobs")))
    finally:
        await writer.close()
        loop.cancel()
        db.close()


def run(
    test: Callable[[Rig], Coroutine[Any, Any, None]], tmp_path: Path, url: str | None = None
) -> None:
    """Run one async test body against a fresh rig."""

    async def main() -> None:
        async with rig(tmp_path, url) as r:
            await test(r)

    asyncio.run(main())


async def until(probe: Callable[[], object], within_s: float = 5.0) -> None:
    """Yield to the loop until ``probe()`` is truthy; fail after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if probe():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out after {within_s} s waiting for {probe}")


def spec(cpus: int = 1, **kw: Any) -> JobSpec:
    return JobSpec(command=["true"], cpus=cpus, **kw)


def worker(
    worker_id: str = "w1", cpus: int = 2, instance: str | None = None, **kw: Any
) -> WorkerSlot:
    """A registered remote worker instance with all its CPUs free."""
    slot = Slot(worker_id, cpus, cpus, **kw)
    return WorkerSlot(worker_id, instance or f"{worker_id}-i1", slot, local=False)


def assigned_ids(ws: WorkerSlot) -> list[tuple[int, int]]:
    """(job id, attempt) of what the worker was handed, emptying its mailbox."""
    assignments, _ = ws.mailbox.take()
    return [(a["job_id"], a["attempt"]) for a in assignments]


def started(job: Job, cpu_ids: list[int] | None = None) -> JobEvent:
    return {"type": "started", "job_id": job.id, "attempt": job.attempt, "cpu_ids": cpu_ids or []}


def finished(job: Job, exit_code: int | None = 0, **kw: Any) -> JobEvent:
    event: JobEvent = {
        "type": "finished",
        "job_id": job.id,
        "attempt": job.attempt,
        "exit_code": exit_code,
    }
    event.update(kw)  # type: ignore[typeddict-item]
    return event


def report(r: Rig, ws: WorkerSlot, *events: JobEvent) -> list[tuple[int, int]]:
    """Send events as ``ws`` and return the (job id, attempt) pairs called stale."""
    stale = r.sched.apply_events(ws.worker_id, ws.instance_id, list(events))
    return [(s["job_id"], s["attempt"]) for s in stale]


def test_assignments_go_only_to_registered_workers(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        (job,) = await r.submit(spec())
        assert job.state is J.PENDING and len(r.sched.queue) == 1
        assert (await r.stored(job.id)).state is J.PENDING
        ws = worker()
        r.sched.worker_up(ws)
        assert assigned_ids(ws) == [(job.id, 1)]
        got = await r.stored(job.id)
        assert (got.state, got.attempt, got.worker_id, got.instance_id) == (
            J.ASSIGNED,
            1,
            "w1",
            "w1-i1",
        )
        assert r.sched.usage("w1") == {
            "cpus_allocated": 1,
            "accounts_allocated": 0,
            "active_jobs": 1,
        }

    run(body, tmp_path)


def test_capacity_is_never_exceeded(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        rng = random.Random(3)
        ws = worker(cpus=4)
        r.sched.worker_up(ws)
        jobs = await r.submit(*(spec(cpus=rng.randint(1, 4)) for _ in range(25)))
        done: set[int] = set()
        while len(done) < len(jobs):
            active = [r.sched.jobs[i] for i in ws.jobs]
            assert active, "nothing assigned while jobs wait and the worker is idle"
            assert sum(j.spec.cpus for j in active) + ws.slot.free == 4
            assert ws.slot.free >= 0
            first = min(active, key=lambda j: j.id)
            assert report(r, ws, started(first), finished(first)) == []
            done.add(first.id)
        assert ws.slot.free == 4 and not ws.jobs
        await r.writer.flush()
        counts = await r.db.run(r.db.jobs.count_by_state)
        assert counts == {"succeeded": 25}

    run(body, tmp_path)


def test_two_jobs_that_fill_the_worker_run_one_after_the_other(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker(cpus=2)
        r.sched.worker_up(ws)
        first, second = await r.submit(spec(cpus=2), spec(cpus=2))
        assert assigned_ids(ws) == [(first.id, 1)]
        assert second.state is J.PENDING
        report(r, ws, started(first, [0, 1]))
        await r.writer.flush()
        allocations = await r.db.run(r.db.jobs.allocations)
        assert [(a.job_id, a.cpu_ids) for a in allocations] == [(first.id, [0, 1])]
        assert assigned_ids(ws) == []
        report(r, ws, finished(first, 0))
        assert assigned_ids(ws) == [(second.id, 1)]
        done = await r.stored(first.id)
        assert (done.state, done.exit_code, done.reason) == (J.SUCCEEDED, 0, None)
        assert done.finished_at is not None
        assert await r.db.run(r.db.jobs.allocations) == []

    run(body, tmp_path)


def test_higher_priority_goes_first_then_the_oldest(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        low, mid1, high, mid2 = await r.submit(spec(priority=-1), spec(), spec(priority=5), spec())
        ws = worker(cpus=1)
        r.sched.worker_up(ws)
        order = []
        for _ in range(4):
            ((job_id, _),) = assigned_ids(ws)
            order.append(job_id)
            job = r.sched.jobs[job_id]
            report(r, ws, started(job), finished(job))
        assert order == [high.id, mid1.id, mid2.id, low.id]

    run(body, tmp_path)


def test_reports_about_an_attempt_not_owned_are_stale_and_change_nothing(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec())
        report(r, ws, started(job, [0]))
        before = await r.stored(job.id)
        wrong_attempt = finished(job)
        wrong_attempt["attempt"] = 2
        assert report(r, ws, wrong_attempt) == [(job.id, 2)]
        stale = r.sched.apply_events("w1", "w1-old", [finished(job)])
        assert [(s["job_id"], s["attempt"]) for s in stale] == [(job.id, 1)]
        stale = r.sched.apply_events("w2", "w1-i1", [finished(job)])
        assert len(stale) == 1
        unknown: JobEvent = {"type": "finished", "job_id": 999, "attempt": 1, "exit_code": 0}
        assert report(r, ws, unknown) == [(999, 1)]
        assert job.state is J.RUNNING and ws.slot.free == 1
        after = await r.stored(job.id)
        assert (after.state, after.attempt, after.finished_at) == (J.RUNNING, 1, None)
        assert after.updated_at == before.updated_at

    run(body, tmp_path)


def test_a_report_from_a_replaced_instance_is_stale(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        old = worker(max_accounts=1, instance="w1-old")
        r.sched.worker_up(old)
        (job,) = await r.submit(spec(max_attempts=3))
        report(r, old, started(job))
        first_attempt = finished(job, 1)
        new = worker(instance="w1-new")
        r.sched.worker_up(new)  # the old instance's jobs come back, then go to the new one
        assert assigned_ids(new) == [(job.id, 2)]
        assert report(r, old, first_attempt) == [(job.id, 1)]
        got = await r.stored(job.id)
        assert (got.state, got.attempt, got.instance_id) == (J.ASSIGNED, 2, "w1-new")

    run(body, tmp_path)


def test_worker_down_requeues_then_fails_when_requeues_are_spent(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(max_attempts=1, max_requeues=1, retry_delay_s=60))
        report(r, ws, started(job, [1]))
        assert r.sched.worker_down("w1", Reason.WORKER_CRASHED) == [job]
        got = await r.stored(job.id)
        assert (got.state, got.attempt, got.reason) == (J.PENDING, 1, "worker_crashed")
        assert got.requeues == 1 and got.attempts_left == 1  # the attempt was not spent
        assert got.worker_id is None and got.not_before is None  # no backoff for a worker fault
        assert await r.db.run(r.db.jobs.allocations) == []
        ws2 = worker(instance="w1-i2")
        r.sched.worker_up(ws2)
        assert assigned_ids(ws2) == [(job.id, 2)]
        assert r.sched.worker_down("w1", Reason.WORKER_LOST) == [job]
        got = await r.stored(job.id)
        assert (got.state, got.attempt, got.reason) == (J.FAILED, 2, "worker_lost")
        assert got.reason_detail == "requeued 1 times, max_requeues 1"
        ended = await r.db.run(r.db.jobs.attempts, job.id)
        assert [(a.attempt, a.reason, a.requeued) for a in ended] == [
            (1, "worker_crashed", True),
            (2, "worker_lost", False),
        ]
        assert got.finished_at is not None and job.id not in r.sched.jobs
        assert r.sched.worker_down("w1", Reason.WORKER_LOST) == []

    run(body, tmp_path)


def test_cancel_a_pending_job_at_once(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        (job,) = await r.submit(spec())
        waiting = asyncio.create_task(r.sched.wait_finished(job.id, 5.0))
        assert r.sched.cancel(job.id).state is J.CANCELLED
        await waiting
        got = await r.stored(job.id)
        assert (got.state, got.reason, got.attempt) == (J.CANCELLED, "cancelled", 0)
        assert len(r.sched.queue) == 0
        with pytest.raises(ConflictError):
            r.sched.cancel(job.id)
        ws = worker()
        r.sched.worker_up(ws)
        assert assigned_ids(ws) == []

    run(body, tmp_path)


def test_cancel_a_running_job_asks_its_worker(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(max_attempts=3))
        report(r, ws, started(job))
        ws.mailbox.take()
        r.sched.cancel(job.id)
        r.sched.cancel(job.id)  # asked once only
        assert ws.mailbox.take()[1] == [{"job_id": job.id, "attempt": 1}]
        assert (await r.stored(job.id)).cancel_requested is True
        assert job.state is J.RUNNING
        report(r, ws, finished(job, None, signal=15))
        got = await r.stored(job.id)
        # Attempts were left, but a cancel is never retried.
        assert (got.state, got.reason, got.signal) == (J.CANCELLED, "cancelled", 15)
        assert ws.slot.free == 2

    run(body, tmp_path)


def test_retry_of_a_finished_job_gives_a_fresh_budget(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec())
        report(r, ws, started(job), finished(job, 3))
        failed = await r.stored(job.id)
        assert (failed.state, failed.exit_code, failed.attempt) == (J.FAILED, 3, 1)
        (stuck,) = await r.submit(spec(labels={"zone": "nowhere"}))
        with pytest.raises(ConflictError, match="pending"):
            r.sched.retry(stuck)
        ws.mailbox.take()
        again = r.sched.retry(failed)
        assert again.state in (J.PENDING, J.ASSIGNED)
        assert (job.id, 2) in assigned_ids(ws)
        got = await r.stored(job.id)
        assert (got.state, got.attempt, got.attempt_base) == (J.ASSIGNED, 2, 1)
        assert (got.exit_code, got.reason, got.finished_at) == (None, None, None)

    run(body, tmp_path)


def test_an_account_returns_to_its_last_worker(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        roomy = worker("roomy", cpus=8)
        r.sched.worker_up(roomy)
        (a1,) = await r.submit(spec(account="a"))
        report(r, roomy, started(a1), finished(a1))
        tight = worker("tight", cpus=1)
        r.sched.worker_up(tight)
        a2, anon = await r.submit(spec(account="a"), spec())
        assert (a2.worker_id, anon.worker_id) == ("roomy", "tight")

    run(body, tmp_path)


def test_one_job_per_account_and_max_accounts_per_worker(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker(cpus=8, max_accounts=1)
        r.sched.worker_up(ws)
        a1, a2, b1, anon = await r.submit(
            spec(account="a"), spec(account="a"), spec(account="b"), spec()
        )
        assert assigned_ids(ws) == [(a1.id, 1), (anon.id, 1)]
        assert r.sched.usage("w1")["accounts_allocated"] == 1
        report(r, ws, started(a1), finished(a1))
        # a2 is older than b1: it takes the account slot first.
        assert assigned_ids(ws) == [(a2.id, 1)]
        report(r, ws, started(a2), finished(a2))
        assert assigned_ids(ws) == [(b1.id, 1)]
        assert ws.slot.accounts == {"b": 1}

    run(body, tmp_path)


def test_a_failed_attempt_waits_out_its_backoff(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker(cpus=1)
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(max_attempts=2, retry_delay_s=0.2))
        report(r, ws, started(job), finished(job, 1))
        ws.mailbox.take()
        got = await r.stored(job.id)
        assert (got.state, got.reason, got.exit_code) == (J.PENDING, "exit_code", 1)
        assert got.reason_detail == "exit code 1"
        assert got.not_before is not None and got.not_before > utcnow()
        assert ws.slot.free == 1 and assigned_ids(ws) == []  # idle, yet it waits
        await ws.mailbox.wait(5.0)
        assert assigned_ids(ws) == [(job.id, 2)]
        assert job.assigned_at is not None and job.assigned_at >= got.not_before
        report(r, ws, started(job), finished(job, 1))
        final = await r.stored(job.id)
        assert (final.state, final.attempt, final.exit_code) == (J.FAILED, 2, 1)

    run(body, tmp_path)


def test_an_ended_backoff_does_not_keep_the_timer_spinning(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker(cpus=1)
        r.sched.worker_up(ws)
        (flaky,) = await r.submit(spec(max_attempts=2, retry_delay_s=0.05))
        report(r, ws, started(flaky), finished(flaky, 1))
        (busy,) = await r.submit(spec())  # takes the only CPU during the backoff
        assert busy.state is J.ASSIGNED and flaky.state is J.PENDING
        due = flaky.not_before
        assert due is not None
        await until(lambda: utcnow() > due and r.sched._timer is None)
        assert flaky.state is J.PENDING
        report(r, ws, started(busy), finished(busy))
        assert (flaky.state, flaky.attempt) == (J.ASSIGNED, 2)

    run(body, tmp_path)


def test_load_ends_attempts_left_by_the_previous_master(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        now = utcnow()
        new = [
            Job(id=i, spec=s, submitted_at=now, updated_at=now)
            for i, s in enumerate((spec(), spec(), spec(), spec(max_requeues=0)), 1)
        ]
        pending, assigned, running, spent = [j for j, _ in await r.db.run(r.db.jobs.insert, new)]
        writes = Writes()
        on = {"worker_id": "w1", "instance_id": "gone", "attempt": 1}
        writes.job(assigned.id, {"state": "assigned", **on})
        writes.job(running.id, {"state": "running", "cpu_ids": [0], **on})
        writes.job(spent.id, {"state": "running", **on})
        await r.db.run(apply_batch, r.db.engine, writes)
        unfinished = await r.db.run(r.db.jobs.unfinished)
        assert await r.sched.load(unfinished, 4) == 3
        for job_id in (assigned.id, running.id):
            got = await r.stored(job_id)
            assert (got.state, got.attempt, got.reason) == (J.PENDING, 1, "startup_orphan")
            assert got.worker_id is None
        got = await r.stored(spent.id)
        assert (got.state, got.reason) == (J.FAILED, "startup_orphan")
        assert (await r.stored(pending.id)).state is J.PENDING
        assert sorted(j.id for j in r.sched.queue.ordered()) == [
            pending.id,
            assigned.id,
            running.id,
        ]

    run(body, tmp_path)
