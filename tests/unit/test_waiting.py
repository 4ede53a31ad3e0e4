"""waiting_for(): why a pending job has not started, from the placement rules it waits on."""

from datetime import UTC, datetime, timedelta

from corral.domain.jobs import Job, JobSpec, JobState
from corral.domain.placement import FleetWorker, Slot, refusal
from corral.domain.waiting import waiting_for

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SSD = {"disk": "ssd"}
FLEET = {
    "small": FleetWorker(capacity=1, labels=SSD, max_accounts=1),
    "big": FleetWorker(capacity=4, labels={}, max_accounts=1),
}


def job(
    cpus: int = 1, labels: dict[str, str] | None = None, account: str | None = None, **kw: object
) -> Job:
    """A job (pending unless ``state`` says otherwise)."""
    spec = JobSpec(command=["true"], cpus=cpus, labels=labels or {}, account=account)
    return Job(id=1, spec=spec, **kw)  # type: ignore[arg-type]


def running(worker_id: str, capacity: int, free: int, **kw: object) -> Slot:
    """A running worker's slot."""
    return Slot(worker_id, capacity, free, **kw)  # type: ignore[arg-type]


def test_only_pending_jobs_wait() -> None:
    assert waiting_for(job(state=JobState.RUNNING), [], FLEET, NOW) is None


def test_retry_backoff_comes_first() -> None:
    later = NOW + timedelta(seconds=30)
    said = waiting_for(job(not_before=later), [], FLEET, NOW)
    assert said == "retry backoff until 2026-05-01T12:00:30+00:00"


def test_labelled_workers_too_small_say_how_big_they_are() -> None:
    expected = "the workers labelled disk=ssd have at most 1 CPU"
    assert refusal(job(cpus=2, labels=SSD), FLEET) == expected
    assert waiting_for(job(cpus=2, labels=SSD), [], FLEET, NOW) == expected
    no_label = refusal(job(labels={"disk": "nvme"}), FLEET)
    assert no_label == "no configured worker has the labels disk=nvme"


def test_what_the_running_workers_lack() -> None:
    assert waiting_for(job(), [], FLEET, NOW) == "no worker is running"
    assert waiting_for(job(), [], {}, NOW) == "no worker is configured"
    big = running("big", 4, 0)
    assert waiting_for(job(labels=SSD), [big], FLEET, NOW) == (
        "no running worker has the labels disk=ssd"
    )
    assert waiting_for(job(cpus=2), [big], FLEET, NOW) == (
        "no worker has 2 CPUs free now (at most 0 CPUs free)"
    )
    small = running("small", 1, 1, labels=SSD)
    assert waiting_for(job(cpus=2), [small], FLEET, NOW) == (
        "no running worker can hold 2 CPUs: the largest has 1 CPU"
    )


def test_a_busy_account_and_a_free_worker() -> None:
    busy = running("big", 4, 3, accounts={"acme": 1})
    assert waiting_for(job(account="acme"), [busy], FLEET, NOW) == (
        "account acme is busy: one of its jobs runs"
    )
    assert waiting_for(job(), [busy], FLEET, NOW) == (
        "a worker has room: it starts at the next placement"
    )
