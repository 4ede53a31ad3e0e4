"""The recovery strategies' decisions over hand-built snapshots."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from corral.domain.jobs import Allocation, Job, JobSpec, JobState, Reason
from corral.domain.recovery import (
    Action,
    CompositeRecoveryStrategy,
    DropAllocation,
    EndAttempt,
    OrphanJobRecoveryStrategy,
    RecoveryStrategy,
    Snapshot,
    StaleAllocationCleanupStrategy,
    TimeoutJobRecoveryStrategy,
)

J = JobState
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LIVE = {"w1": "w1-i1"}
HOUR = 3600.0


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def job(
    job_id: int,
    state: JobState = J.RUNNING,
    *,
    worker: str = "w1",
    instance: str = "w1-i1",
    attempt: int = 1,
    assigned_s: float = 1.0,
    started_s: float | None = 1.0,
    timeout_s: float | None = None,
) -> Job:
    """A job on a worker: assigned ``assigned_s`` and started ``started_s`` seconds ago."""
    return Job(
        id=job_id,
        spec=JobSpec(command=["true"], timeout_s=timeout_s),
        state=state,
        attempt=attempt,
        worker_id=worker,
        instance_id=instance,
        assigned_at=ago(assigned_s),
        started_at=None if started_s is None or state is J.ASSIGNED else ago(started_s),
    )


def allocation(job_id: int, attempt: int = 1, age_s: float = 1.0) -> Allocation:
    return Allocation(job_id, attempt, "w1", "w1-i1", [0], None, ago(age_s))


def snapshot(
    jobs: Sequence[Job] = (),
    allocations: Sequence[Allocation] = (),
    live: dict[str, str] | None = None,
) -> Snapshot:
    return Snapshot(NOW, jobs, LIVE if live is None else live, allocations)


# Orphans


def test_a_job_on_an_unknown_worker_is_lost() -> None:
    jobs = [job(1, worker="ghost", instance="ghost-i1"), job(2, J.ASSIGNED, worker="ghost")]
    assert OrphanJobRecoveryStrategy().plan(snapshot(jobs)) == [
        EndAttempt(1, 1, Reason.WORKER_LOST),
        EndAttempt(2, 1, Reason.WORKER_LOST),
    ]


def test_a_job_of_a_replaced_instance_is_lost_with_its_own_attempt() -> None:
    old = job(3, instance="w1-i0", attempt=4)
    (action,) = OrphanJobRecoveryStrategy().plan(snapshot([old]))
    assert action == EndAttempt(3, 4, Reason.WORKER_LOST, J.FAILED)


def test_jobs_of_a_live_instance_are_left_alone() -> None:
    jobs = [job(1), job(2, J.ASSIGNED, assigned_s=29.0), job(3, assigned_s=10 * HOUR)]
    assert OrphanJobRecoveryStrategy(assignment_timeout_s=30.0).plan(snapshot(jobs)) == []


def test_no_live_worker_at_all_makes_every_job_an_orphan() -> None:
    jobs = [job(1), job(2, J.ASSIGNED)]
    plan = OrphanJobRecoveryStrategy().plan(snapshot(jobs, live={}))
    assert [(a.job_id, a.reason) for a in plan if isinstance(a, EndAttempt)] == [
        (1, Reason.WORKER_LOST),
        (2, Reason.WORKER_LOST),
    ]


def test_an_assignment_never_started_past_the_timeout_is_lost() -> None:
    strategy = OrphanJobRecoveryStrategy(assignment_timeout_s=30.0)
    late = job(5, J.ASSIGNED, attempt=2, assigned_s=31.0)
    on_time = job(6, J.ASSIGNED, assigned_s=30.0)
    assert strategy.plan(snapshot([late, on_time])) == [
        EndAttempt(5, 2, Reason.ASSIGNMENT_LOST),
    ]


def test_an_assignment_offered_again_lately_is_not_lost() -> None:
    # Held back while the database was away, it reached its worker only now.
    strategy = OrphanJobRecoveryStrategy(assignment_timeout_s=30.0)
    held = job(5, J.ASSIGNED, attempt=2, assigned_s=300.0)
    offered = {5: NOW - timedelta(seconds=1)}
    assert strategy.plan(Snapshot(NOW, [held], LIVE, [], offered)) == []


# Timeouts


def test_a_job_past_its_own_timeout_and_the_grace_times_out() -> None:
    strategy = TimeoutJobRecoveryStrategy(max_runtime_s=72 * HOUR, grace_s=30.0)
    over = job(1, timeout_s=60.0, started_s=91.0)
    in_grace = job(2, timeout_s=60.0, started_s=89.0)
    assert strategy.plan(snapshot([over, in_grace])) == [
        EndAttempt(1, 1, Reason.TIMEOUT, J.TIMED_OUT),
    ]


def test_a_job_past_the_max_runtime_is_ended() -> None:
    strategy = TimeoutJobRecoveryStrategy(max_runtime_s=10 * HOUR, grace_s=30.0)
    over = job(1, started_s=10 * HOUR + 1)
    under = job(2, started_s=10 * HOUR - 1)
    assert strategy.plan(snapshot([over, under])) == [
        EndAttempt(1, 1, Reason.MAX_RUNTIME, J.TIMED_OUT),
    ]


def test_a_timeout_beyond_the_max_runtime_yields_to_it() -> None:
    strategy = TimeoutJobRecoveryStrategy(max_runtime_s=10 * HOUR, grace_s=30.0)
    long = job(1, timeout_s=20 * HOUR, started_s=10 * HOUR + 1)
    assert strategy.plan(snapshot([long])) == [
        EndAttempt(1, 1, Reason.MAX_RUNTIME, J.TIMED_OUT),
    ]
    # Its own timeout plus the grace just reaching the limit is no earlier limit.
    edge = job(2, timeout_s=10 * HOUR - 30.0, started_s=10 * HOUR + 1)
    assert strategy.plan(snapshot([edge])) == [EndAttempt(2, 1, Reason.MAX_RUNTIME, J.TIMED_OUT)]


def test_only_running_jobs_can_time_out() -> None:
    strategy = TimeoutJobRecoveryStrategy(max_runtime_s=HOUR, grace_s=0.0)
    assigned = job(1, J.ASSIGNED, timeout_s=1.0, assigned_s=2 * HOUR)
    never_started = job(2, timeout_s=1.0, started_s=None)
    assert never_started.started_at is None
    assert strategy.plan(snapshot([assigned, never_started])) == []


# Stale allocations


def test_an_allocation_without_a_running_attempt_is_dropped() -> None:
    jobs = [job(1), job(2, J.ASSIGNED)]
    rows = [allocation(1), allocation(2), allocation(99)]
    assert StaleAllocationCleanupStrategy().plan(snapshot(jobs, rows)) == [
        DropAllocation(2),
        DropAllocation(99),
    ]


def test_an_allocation_of_another_attempt_is_dropped() -> None:
    rows = [allocation(1, attempt=1)]
    assert StaleAllocationCleanupStrategy().plan(snapshot([job(1, attempt=2)], rows)) == [
        DropAllocation(1)
    ]


def test_an_allocation_older_than_the_limit_is_dropped_even_behind_a_running_attempt() -> None:
    strategy = StaleAllocationCleanupStrategy(max_age_s=48 * HOUR)
    rows = [allocation(1, age_s=48 * HOUR + 1), allocation(2, age_s=48 * HOUR - 1)]
    assert strategy.plan(snapshot([job(1), job(2)], rows)) == [DropAllocation(1)]


def test_a_fresh_allocation_of_the_running_attempt_is_kept() -> None:
    rows = [allocation(1, attempt=3)]
    assert StaleAllocationCleanupStrategy().plan(snapshot([job(1, attempt=3)], rows)) == []


# Composition


@dataclass(frozen=True)
class Fixed:
    """A strategy that always plans the same actions."""

    actions: list[Action] = field(default_factory=list)
    name: str = "fixed"

    def plan(self, snapshot: Snapshot) -> list[Action]:
        """The fixed actions."""
        return list(self.actions)


def test_the_composite_keeps_the_strategies_order() -> None:
    first = Fixed([EndAttempt(3, 1, Reason.WORKER_LOST), DropAllocation(8)])
    second = Fixed([EndAttempt(1, 1, Reason.TIMEOUT, J.TIMED_OUT), DropAllocation(2)])
    assert CompositeRecoveryStrategy([first, second]).plan(snapshot()) == [
        EndAttempt(3, 1, Reason.WORKER_LOST),
        DropAllocation(8),
        EndAttempt(1, 1, Reason.TIMEOUT, J.TIMED_OUT),
        DropAllocation(2),
    ]


def test_a_job_named_by_two_strategies_is_ended_once_by_the_first() -> None:
    # On a lost worker and past its timeout: the orphan strategy comes first.
    lost = job(1, worker="ghost", timeout_s=1.0, started_s=HOUR)
    composite = CompositeRecoveryStrategy(
        [OrphanJobRecoveryStrategy(), TimeoutJobRecoveryStrategy(grace_s=0.0)]
    )
    assert TimeoutJobRecoveryStrategy(grace_s=0.0).plan(snapshot([lost])) != []
    assert composite.plan(snapshot([lost])) == [EndAttempt(1, 1, Reason.WORKER_LOST)]
    swapped = CompositeRecoveryStrategy(list(reversed(composite.strategies)))
    assert swapped.plan(snapshot([lost])) == [EndAttempt(1, 1, Reason.TIMEOUT, J.TIMED_OUT)]


def test_a_repeated_drop_is_planned_once() -> None:
    composite = CompositeRecoveryStrategy(
        [StaleAllocationCleanupStrategy(), StaleAllocationCleanupStrategy(max_age_s=1.0)]
    )
    rows = [allocation(7), allocation(8, age_s=HOUR)]
    assert composite.plan(snapshot([job(8)], rows)) == [DropAllocation(7), DropAllocation(8)]


@pytest.mark.parametrize("assignment_timeout_s", [30.0, 0.0])
def test_the_default_composition_on_a_mixed_fleet(assignment_timeout_s: float) -> None:
    composite = CompositeRecoveryStrategy(
        [
            OrphanJobRecoveryStrategy(assignment_timeout_s),
            TimeoutJobRecoveryStrategy(max_runtime_s=72 * HOUR),
            StaleAllocationCleanupStrategy(max_age_s=48 * HOUR),
        ]
    )
    jobs = [
        job(1),  # healthy
        job(2, worker="ghost"),  # orphan
        job(3, started_s=73 * HOUR),  # too long
        job(4, J.ASSIGNED, assigned_s=10.0),  # late only under a zero timeout
    ]
    rows = [allocation(1), allocation(3), allocation(50)]
    expected: list[Action] = [EndAttempt(2, 1, Reason.WORKER_LOST)]
    if assignment_timeout_s == 0.0:
        expected.append(EndAttempt(4, 1, Reason.ASSIGNMENT_LOST))
    expected += [EndAttempt(3, 1, Reason.MAX_RUNTIME, J.TIMED_OUT), DropAllocation(50)]
    assert composite.plan(snapshot(jobs, rows)) == expected


def test_an_ended_attempt_takes_its_allocation_along_whatever_the_order() -> None:
    old = 100 * HOUR
    snap = snapshot([job(1, started_s=old)], [allocation(1, age_s=old)], live={})
    strategies: list[RecoveryStrategy] = [
        StaleAllocationCleanupStrategy(),
        OrphanJobRecoveryStrategy(),
    ]
    (action,) = CompositeRecoveryStrategy(strategies).plan(snap)
    assert isinstance(action, EndAttempt) and action.job_id == 1
