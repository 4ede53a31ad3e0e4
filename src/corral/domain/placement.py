"""Where pending jobs go: by free CPUs, then priority, then age; accounts stay one at a time.

Pure logic over the scheduler's view of its workers. A pass walks the pending jobs
in order (priority, then id) and gives each the worker it fits best. A job that
fits no worker now but could fit one later holds that worker back for the rest of
the pass, so a stream of small jobs cannot starve a big one.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from corral.domain.jobs import Job


@dataclass
class Slot:
    """The scheduler's view of one worker instance's capacity."""

    worker_id: str
    capacity: int
    free: int
    labels: Mapping[str, str] = field(default_factory=dict)
    max_accounts: int = 1
    # account -> unfinished jobs of it on this worker
    accounts: dict[str, int] = field(default_factory=dict)
    accepting: bool = True
    # Who its jobs run as when they name nobody, and whom else they may name.
    run_as: str | None = None
    allowed_run_as: frozenset[str] = frozenset()

    def holds(self) -> int:
        """How many accounts this worker holds now."""
        return sum(1 for n in self.accounts.values() if n > 0)


def can_ever_hold(slot: Slot, job: Job) -> bool:
    """Whether the worker could run the job once it is idle."""
    spec = job.spec
    if slot.capacity < spec.cpus:
        return False
    if spec.account is not None and slot.max_accounts < 1:
        return False
    if not lets_run_as(slot, spec.run_as):
        return False
    return has_labels(slot, spec.labels)


def lets_run_as(slot: Slot, run_as: str | None) -> bool:
    """Whether the worker runs jobs as ``run_as``: its own choice, or one it allows."""
    return run_as is None or run_as == slot.run_as or run_as in slot.allowed_run_as


def _may_take_now(slot: Slot, job: Job) -> bool:
    """Whether the account rules let this worker take the job now (CPUs aside)."""
    return job.spec.account is None or slot.holds() < slot.max_accounts


def _best(fitting: list[Slot], cpus: int, home: str | None) -> Slot:
    """The account's last worker if it fits, else the tightest fit (fewest CPUs left)."""
    for slot in fitting:
        if slot.worker_id == home:
            return slot
    return min(fitting, key=lambda s: (s.free - cpus, s.worker_id))


def plan(
    pending: Iterable[Job],
    slots: Iterable[Slot],
    now: datetime,
    homes: Mapping[str, str],
    scan_limit: int = 10_000,
) -> list[tuple[Job, Slot]]:
    """Choose a worker for as many pending jobs as fit; updates the slots it fills."""
    every = list(slots)
    open_slots = [s for s in every if s.accepting]
    # A draining worker's jobs still run: their accounts are busy too.
    busy_accounts = {a for s in every for a, n in s.accounts.items() if n > 0}
    free = sum(s.free for s in open_slots)
    reserved: set[str] = set()
    placed: list[tuple[Job, Slot]] = []
    for scanned, job in enumerate(pending):
        if free <= 0 or scanned >= scan_limit:
            break
        spec = job.spec
        if job.not_before is not None and job.not_before > now:
            continue
        if spec.account is not None and spec.account in busy_accounts:
            continue  # one job of an account at a time
        candidates = [
            s
            for s in open_slots
            if s.worker_id not in reserved and can_ever_hold(s, job) and _may_take_now(s, job)
        ]
        fitting = [s for s in candidates if s.free >= spec.cpus]
        if not fitting:
            if candidates:
                held = max(candidates, key=lambda s: (s.free, s.worker_id))
                reserved.add(held.worker_id)
                free -= held.free
            continue
        slot = _best(fitting, spec.cpus, homes.get(spec.account or ""))
        slot.free -= spec.cpus
        free -= spec.cpus
        if spec.account is not None:
            slot.accounts[spec.account] = slot.accounts.get(spec.account, 0) + 1
            busy_accounts.add(spec.account)
        placed.append((job, slot))
    return placed


@dataclass(frozen=True)
class FleetWorker:
    """A configured worker as placement sees it before it runs: capacity None if unknown."""

    capacity: int | None
    labels: Mapping[str, str]
    max_accounts: int
    run_as: str | None = None
    allowed_run_as: frozenset[str] = frozenset()


def refusal(job: Job, fleet: Mapping[str, FleetWorker]) -> str | None:
    """Why no configured worker could ever run the job, or None if one could (or may)."""
    if not fleet:
        return None
    spec = job.spec
    slots = [
        Slot(
            "",
            w.capacity or spec.cpus,
            0,
            w.labels,
            w.max_accounts,
            run_as=w.run_as,
            allowed_run_as=w.allowed_run_as,
        )
        for w in fleet.values()
    ]
    if any(can_ever_hold(slot, job) for slot in slots):
        return None
    labelled = [slot for slot in slots if has_labels(slot, spec.labels)]
    if not labelled:
        return f"no configured worker has the labels {label_text(spec.labels)}"
    if not any(slot.capacity >= spec.cpus for slot in labelled):
        return too_small(spec.labels, spec.cpus, max(slot.capacity for slot in labelled))
    if not any(lets_run_as(slot, spec.run_as) for slot in labelled):
        return (
            f"no configured worker lets its jobs run as {spec.run_as!r}: "
            "a worker config must name it in run_as or allowed_run_as"
        )
    return "no configured worker with these labels takes jobs with an account (max_accounts 0)"


def has_labels(slot: Slot, labels: Mapping[str, str]) -> bool:
    """Whether the worker carries every label the job asks for."""
    return all(slot.labels.get(k) == v for k, v in labels.items())


def label_text(labels: Mapping[str, str]) -> str:
    """Labels as the command line gives them: ``disk=ssd,zone=a``."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def cpus_text(n: int) -> str:
    """``1 CPU``, ``4 CPUs``."""
    return f"{n} CPU" if n == 1 else f"{n} CPUs"


def too_small(labels: Mapping[str, str], cpus: int, largest: int, which: str = "") -> str:
    """Why a job of ``cpus`` is larger than every (``which``) worker that has its labels."""
    if labels:
        return f"the {which}workers labelled {label_text(labels)} have at most {cpus_text(largest)}"
    return f"no {which}worker can hold {cpus_text(cpus)}: the largest has {cpus_text(largest)}"
