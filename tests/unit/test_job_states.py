"""The job state machine and the attempt budget."""

from itertools import pairwise

import pytest

from corral.domain.jobs import (
    ACTIVE,
    ALLOWED,
    TERMINAL,
    Job,
    JobSpec,
    JobState,
    can_transition,
    check_transition,
)
from corral.errors import InvalidTransitionError

J = JobState


def test_every_state_has_its_edges() -> None:
    assert set(ALLOWED) == set(JobState)
    assert TERMINAL.isdisjoint(ACTIVE) and J.PENDING not in TERMINAL | ACTIVE


def test_the_happy_path_is_allowed() -> None:
    path = [J.PENDING, J.ASSIGNED, J.RUNNING, J.SUCCEEDED]
    for old, new in pairwise(path):
        check_transition(old, new)


@pytest.mark.parametrize("old", [J.ASSIGNED, J.RUNNING])
def test_an_active_attempt_may_end_any_way_or_go_back(old: JobState) -> None:
    for new in [J.PENDING, *TERMINAL]:
        assert can_transition(old, new)


@pytest.mark.parametrize("old", sorted(TERMINAL))
def test_a_finished_job_only_goes_back_to_pending(old: JobState) -> None:
    assert ALLOWED[old] == {J.PENDING}
    for new in [J.ASSIGNED, J.RUNNING, *TERMINAL]:
        with pytest.raises(InvalidTransitionError, match=f"from {old} to {new}"):
            check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (J.PENDING, J.RUNNING),
        (J.PENDING, J.SUCCEEDED),
        (J.PENDING, J.TIMED_OUT),
        (J.RUNNING, J.ASSIGNED),
        (J.PENDING, J.PENDING),
    ],
)
def test_skipping_states_is_refused(old: JobState, new: JobState) -> None:
    assert not can_transition(old, new)
    with pytest.raises(InvalidTransitionError):
        check_transition(old, new)


def test_pending_may_be_cancelled_or_refused() -> None:
    assert can_transition(J.PENDING, J.CANCELLED)
    assert can_transition(J.PENDING, J.FAILED)


def test_attempts_left_counts_from_the_last_manual_retry() -> None:
    job = Job(id=1, spec=JobSpec(command=["true"], max_attempts=3))
    assert job.attempts_left == 3
    job.attempt = 3
    assert job.attempts_left == 0
    job.attempt_base = 3  # retried by hand
    assert job.attempts_left == 3
    job.attempt = 4
    assert job.attempts_left == 2
