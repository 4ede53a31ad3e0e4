"""Recovery strategies: pure decisions over a snapshot of unfinished jobs and allocations.

Each strategy names the attempts to end and the allocation rows to drop; the
master applies them through its scheduler, which re-checks each one (fencing).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from corral.domain.jobs import Allocation, Job, JobState, Reason

J = JobState


@dataclass(frozen=True)
class Snapshot:
    """What recovery looks at, taken at one instant."""

    now: datetime
    jobs: Sequence[Job]  # assigned and running jobs
    live_instances: Mapping[str, str]  # worker id -> the instance that may hold jobs
    allocations: Sequence[Allocation]
    # job id -> when its assignment last reached, or was offered to, its worker: an
    # assignment held back while the database was away is not lost.
    offered: Mapping[int, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class EndAttempt:
    """End one attempt: requeued while attempts remain, else finished as ``state``."""

    job_id: int
    attempt: int
    reason: Reason
    state: JobState = J.FAILED


@dataclass(frozen=True)
class DropAllocation:
    """Delete an allocation row that no running attempt stands behind."""

    job_id: int


Action = EndAttempt | DropAllocation


class RecoveryStrategy(Protocol):
    """Finds what to recover in a snapshot."""

    @property
    def name(self) -> str:
        """A short name for the logs."""

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """The actions this strategy wants applied."""


@dataclass(frozen=True)
class OrphanJobRecoveryStrategy:
    """Jobs of dead, lost or unknown instances, and assignments never started."""

    assignment_timeout_s: float = 30.0
    name: str = "orphan_jobs"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """End the attempts no live instance holds."""
        actions: list[Action] = []
        for job in snapshot.jobs:
            live = snapshot.live_instances.get(job.worker_id or "")
            if live is None or live != job.instance_id:
                actions.append(EndAttempt(job.id, job.attempt, Reason.WORKER_LOST))
            elif job.state is J.ASSIGNED and _age_s(
                snapshot.now, snapshot.offered.get(job.id, job.assigned_at)
            ) > (self.assignment_timeout_s):
                actions.append(EndAttempt(job.id, job.attempt, Reason.ASSIGNMENT_LOST))
        return actions


@dataclass(frozen=True)
class TimeoutJobRecoveryStrategy:
    """Running jobs past their own timeout (plus a grace its worker should have used) or
    past the master's maximum runtime."""

    max_runtime_s: float = 72 * 3600.0
    grace_s: float = 30.0
    name: str = "timed_out_jobs"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """End the attempts that ran too long."""
        actions: list[Action] = []
        for job in snapshot.jobs:
            if job.state is not J.RUNNING or job.started_at is None:
                continue
            limit, reason = self.max_runtime_s, Reason.MAX_RUNTIME
            own = job.spec.timeout_s
            if own is not None and own + self.grace_s < limit:
                limit, reason = own + self.grace_s, Reason.TIMEOUT
            if _age_s(snapshot.now, job.started_at) > limit:
                actions.append(EndAttempt(job.id, job.attempt, reason, J.TIMED_OUT))
        return actions


@dataclass(frozen=True)
class StaleAllocationCleanupStrategy:
    """Allocation rows without a running attempt behind them, or older than the limit."""

    max_age_s: float = 48 * 3600.0
    name: str = "stale_allocations"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """Drop the allocation rows that hold nothing real."""
        running = {(j.id, j.attempt) for j in snapshot.jobs if j.state is J.RUNNING}
        return [
            DropAllocation(a.job_id)
            for a in snapshot.allocations
            if (a.job_id, a.attempt) not in running
            or _age_s(snapshot.now, a.since) > self.max_age_s
        ]


@dataclass(frozen=True)
class CompositeRecoveryStrategy:
    """Several strategies in order; a job is acted on once, by the first that names it."""

    strategies: Sequence[RecoveryStrategy]
    name: str = "composite"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """The union of the strategies' actions, one per job.

        Ending an attempt releases its allocation too, so a drop of the same job's
        row adds nothing.
        """
        planned = [action for strategy in self.strategies for action in strategy.plan(snapshot)]
        ending = {a.job_id for a in planned if isinstance(a, EndAttempt)}
        seen: set[int] = set()
        actions: list[Action] = []
        for action in planned:
            is_drop = isinstance(action, DropAllocation)
            if action.job_id in seen or (is_drop and action.job_id in ending):
                continue
            seen.add(action.job_id)
            actions.append(action)
        return actions


def _age_s(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else (now - since).total_seconds()
