"""Why a pending job has not started yet, in the words of the placement rules it waits on."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from corral.domain.jobs import Job, JobState
from corral.domain.placement import (
    FleetWorker,
    Slot,
    can_ever_hold,
    cpus_text,
    has_labels,
    label_text,
    lets_run_as,
    refusal,
    too_small,
)


def waiting_for(
    job: Job, slots: Iterable[Slot], fleet: Mapping[str, FleetWorker], now: datetime
) -> str | None:
    """What a pending job waits for; None for a job in any other state."""
    if job.state is not JobState.PENDING:
        return None
    if job.not_before is not None and job.not_before > now:
        return f"retry backoff until {job.not_before.isoformat(timespec='seconds')}"
    if not fleet:
        return "no worker is configured"
    never = refusal(job, fleet)
    if never is not None:
        return never
    every = list(slots)
    return _on_running(job, [s for s in every if s.accepting], _busy(every))


def _busy(slots: list[Slot]) -> set[str]:
    """Accounts with a job on some worker (draining ones included)."""
    return {a for s in slots for a, n in s.accounts.items() if n > 0}


def _on_running(job: Job, running: list[Slot], busy: set[str]) -> str:
    """Why none of the running workers takes the job now."""
    spec = job.spec
    if not running:
        return "no worker is running"
    labelled = [s for s in running if has_labels(s, spec.labels)]
    if not labelled:
        return f"no running worker has the labels {label_text(spec.labels)}"
    if not any(s.capacity >= spec.cpus for s in labelled):
        largest = max(s.capacity for s in labelled)
        return too_small(spec.labels, spec.cpus, largest, "running ")
    able = [s for s in labelled if can_ever_hold(s, job)]
    if not able:
        if not any(lets_run_as(s, spec.run_as) for s in labelled):
            return f"no running worker lets its jobs run as {spec.run_as!r}"
        return "no running worker with these labels takes jobs with an account"
    if spec.account is not None and spec.account in busy:
        return f"account {spec.account} is busy: one of its jobs runs"
    most_free = max(s.free for s in able)
    if most_free < spec.cpus:
        return (
            f"no worker has {cpus_text(spec.cpus)} free now (at most {cpus_text(most_free)} free)"
        )
    return "a worker has room: it starts at the next placement"
