"""Scheduler edge cases: final reasons, repeated keys, retries, repeated registrations."""

from pathlib import Path

from corral.domain.jobs import JobState, Reason
from master.test_scheduler import Rig, assigned_ids, finished, report, run, spec, started, worker

J = JobState


def test_the_final_failure_keeps_the_reason_detail(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec())
        report(r, ws, finished(job, None, reason="spawn_failed", detail="no such file: nope"))
        got = await r.stored(job.id)
        assert got.state is J.FAILED
        # The final failure keeps the detail a requeue would have kept.
        assert (got.reason, got.reason_detail) == ("spawn_failed", "no such file: nope")

    run(body, tmp_path)


def test_a_repeated_idempotency_key_answers_with_the_live_job(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec(idempotency_key="k"))
        assert job.state is J.ASSIGNED
        ((again, created),) = await r.sched.submit([spec(idempotency_key="k")])
        assert not created and again.id == job.id
        assert again.state is J.ASSIGNED, f"answered {again.state} for an assigned job"

    run(body, tmp_path)


def test_retry_clears_the_worker_of_the_last_attempt(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec())
        report(r, ws, started(job, [0]), finished(job, 1))
        r.sched.worker_down("w1", Reason.DRAINED)
        failed = await r.stored(job.id)
        r.sched.retry(failed)  # no worker is up: it stays pending
        got = await r.stored(job.id)
        assert got.state is J.PENDING
        assert (got.worker_id, got.instance_id) == (None, None), (got.worker_id, got.instance_id)

    run(body, tmp_path)


def test_a_repeated_register_of_the_same_instance_keeps_its_jobs(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker(cpus=2)
        r.sched.worker_up(ws)
        first, second = await r.submit(spec(cpus=2), spec(cpus=2))
        report(r, ws, started(first))
        again = worker(cpus=2)  # same worker, same instance id: a retried register
        r.sched.worker_up(again)
        assert assigned_ids(again) == [], "second job assigned while the first holds both CPUs"
        assert second.state is J.PENDING

    run(body, tmp_path)
