"""The worker state machine: its edges, its guard, and that no state is a dead end."""

import itertools

import pytest

from corral.domain.worker_states import (
    ACTIVE_STATES,
    ALLOWED,
    DesiredState,
    WorkerState,
    can_transition,
    check_transition,
)
from corral.errors import ConflictError, InvalidTransitionError

S = WorkerState
EDGES = {(old, new) for old, targets in ALLOWED.items() for new in targets}


def reachable(start: WorkerState) -> set[WorkerState]:
    """Every state reachable from ``start`` through allowed edges."""
    seen, todo = {start}, [start]
    while todo:
        for new in ALLOWED[todo.pop()] - seen:
            seen.add(new)
            todo.append(new)
    return seen


def test_every_state_has_its_edges_listed() -> None:
    assert set(ALLOWED) == set(WorkerState)


@pytest.mark.parametrize(("old", "new"), sorted(itertools.product(S, S)))
def test_check_transition_agrees_with_the_table(old: WorkerState, new: WorkerState) -> None:
    legal = (old, new) in EDGES
    assert can_transition(old, new) is legal
    if legal:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidTransitionError, match=f"from {old} to {new}"):
            check_transition(old, new)


@pytest.mark.parametrize("state", list(S))
def test_staying_in_the_same_state_is_not_an_edge(state: WorkerState) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(state, state)


@pytest.mark.parametrize(
    "path",
    [
        [S.STOPPED, S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED],
        [S.RUNNING, S.CRASHED, S.STARTING, S.CRASHED, S.ERROR, S.STARTING],
        [S.RUNNING, S.LOST, S.RUNNING, S.LOST, S.STOPPING, S.CRASHED, S.STOPPED],
        [S.STARTING, S.STOPPING, S.STOPPED],
        [S.ERROR, S.STOPPED],
    ],
)
def test_lifecycle_paths_are_legal(path: list[WorkerState]) -> None:
    for old, new in itertools.pairwise(path):
        check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.STOPPED, S.RUNNING),  # must go through starting
        (S.STOPPED, S.CRASHED),
        (S.ERROR, S.RUNNING),  # someone has to start it again
        (S.STOPPING, S.RUNNING),
        (S.CRASHED, S.RUNNING),
        (S.STOPPED, S.LOST),
    ],
)
def test_shortcuts_are_refused(old: WorkerState, new: WorkerState) -> None:
    assert not can_transition(old, new)
    with pytest.raises(InvalidTransitionError):
        check_transition(old, new)


@pytest.mark.parametrize("state", list(S))
def test_every_state_can_get_back_to_stopped(state: WorkerState) -> None:
    assert S.STOPPED in reachable(state)


def test_every_state_can_be_reached_from_stopped() -> None:
    assert reachable(S.STOPPED) == set(WorkerState)


def test_active_states_are_those_with_a_process() -> None:
    assert frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.LOST}) == ACTIVE_STATES
    assert not ACTIVE_STATES & {S.STOPPED, S.CRASHED, S.ERROR}


def test_values_are_the_stored_strings() -> None:
    assert [s.value for s in S] == [
        "stopped", "starting", "running", "stopping", "crashed", "error", "lost",
    ]  # fmt: skip
    assert {d.value for d in DesiredState} == {"running", "stopped"}
    assert S("crashed") is S.CRASHED
    assert issubclass(InvalidTransitionError, ConflictError)
