"""The worker state machine: states, desired states and the edges between them."""

from enum import StrEnum

from corral.errors import InvalidTransitionError


class WorkerState(StrEnum):
    """Observed state of a worker."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CRASHED = "crashed"
    ERROR = "error"
    LOST = "lost"


class DesiredState(StrEnum):
    """What the operator asked for; persisted so a master restart restores it."""

    RUNNING = "running"
    STOPPED = "stopped"


S = WorkerState

ALLOWED: dict[WorkerState, frozenset[WorkerState]] = {
    S.STOPPED: frozenset({S.STARTING}),
    # A worker may die before it registers, or be stopped while it boots.
    S.STARTING: frozenset({S.RUNNING, S.CRASHED, S.STOPPING, S.STOPPED, S.ERROR}),
    S.RUNNING: frozenset({S.STOPPING, S.CRASHED, S.LOST, S.STOPPED}),
    S.STOPPING: frozenset({S.STOPPED, S.CRASHED}),
    # Crashed waits for its restart delay; it may be restarted, stopped or give up.
    S.CRASHED: frozenset({S.STARTING, S.ERROR, S.STOPPED}),
    S.ERROR: frozenset({S.STARTING, S.STOPPED}),
    # A lost worker may come back (re-registers), be killed, or exit.
    S.LOST: frozenset({S.RUNNING, S.STOPPING, S.CRASHED, S.STOPPED}),
}

# States in which a process (or container, or pod) may exist for the worker.
ACTIVE_STATES = frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.LOST})


def can_transition(old: WorkerState, new: WorkerState) -> bool:
    """Whether ``old -> new`` is an edge of the machine."""
    return new in ALLOWED[old]


def check_transition(old: WorkerState, new: WorkerState) -> None:
    """Raise InvalidTransitionError unless ``old -> new`` is an edge of the machine."""
    if not can_transition(old, new):
        raise InvalidTransitionError(f"worker cannot go from {old} to {new}")
