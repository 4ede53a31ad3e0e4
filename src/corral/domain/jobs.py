"""Jobs: what was asked, where it ran, how it ended; the job state machine and its reasons."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from corral.errors import InvalidTransitionError


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class Reason(StrEnum):
    """Why an attempt ended other than by a clean exit, or why a job went back to pending."""

    EXIT_CODE = "exit_code"  # the program exited non-zero or was killed by a signal
    SPAWN_FAILED = "spawn_failed"  # the program could not be started (not found, bad cwd...)
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    WORKER_CRASHED = "worker_crashed"
    WORKER_LOST = "worker_lost"
    DRAINED = "drained"
    STARTUP_ORPHAN = "startup_orphan"
    ASSIGNMENT_LOST = "assignment_lost"  # assigned, never reported started
    MAX_RUNTIME = "max_runtime"  # past the master's limit of how long a job may run
    UNSCHEDULABLE = "unschedulable"  # no worker can ever hold it
    OOM = "oom"  # killed by the kernel for passing its memory limit


# Attempts lost to the infrastructure, not to the job: they spend max_requeues, not
# max_attempts, and are tried again at once.
INFRA = frozenset(
    {
        Reason.WORKER_CRASHED,
        Reason.WORKER_LOST,
        Reason.DRAINED,
        Reason.STARTUP_ORPHAN,
        Reason.ASSIGNMENT_LOST,
    }
)
DEFAULT_MAX_REQUEUES = 10


J = JobState
TERMINAL = frozenset({J.SUCCEEDED, J.FAILED, J.TIMED_OUT, J.CANCELLED})
# States in which a job holds CPUs on a worker.
ACTIVE = frozenset({J.ASSIGNED, J.RUNNING})

ALLOWED: dict[JobState, frozenset[JobState]] = {
    J.PENDING: frozenset({J.ASSIGNED, J.CANCELLED, J.FAILED}),
    # An assignment may be refused or lost before the program starts.
    J.ASSIGNED: frozenset({J.RUNNING, J.PENDING, *TERMINAL}),
    J.RUNNING: frozenset({J.PENDING, *TERMINAL}),
    # A retry by hand makes a finished job pending again, attempts reset.
    J.SUCCEEDED: frozenset({J.PENDING}),
    J.FAILED: frozenset({J.PENDING}),
    J.TIMED_OUT: frozenset({J.PENDING}),
    J.CANCELLED: frozenset({J.PENDING}),
}


def can_transition(old: JobState, new: JobState) -> bool:
    """Whether ``old -> new`` is an edge of the job machine."""
    return new in ALLOWED[old]


def check_transition(old: JobState, new: JobState) -> None:
    """Raise InvalidTransitionError unless ``old -> new`` is an edge of the job machine."""
    if not can_transition(old, new):
        raise InvalidTransitionError(f"job cannot go from {old} to {new}")


def transition(job: "Job", new: JobState, now: datetime, **changes: Any) -> dict[str, Any]:
    """Move a job along a checked edge, with the other fields that change with it.

    Every change of a job's state goes through here. Returns the changed fields
    (state and updated_at included), ready to be written.
    """
    check_transition(job.state, new)
    fields = {"state": new, "updated_at": now, **changes}
    for name, value in fields.items():
        setattr(job, name, value)
    return fields


@dataclass(frozen=True)
class JobSpec:
    """What a client asks to run; fixed once submitted."""

    command: list[str]
    cpus: int = 1
    shell: bool = False
    env: dict[str, str] = field(default_factory=dict)
    # Write-only: given to the program, never shown by the API; sealed in the database.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    timeout_s: float | None = None
    max_attempts: int = 1
    # Attempts lost to the infrastructure the job may go through before it fails.
    max_requeues: int = DEFAULT_MAX_REQUEUES
    retry_delay_s: float = 0.0
    priority: int = 0
    account: str | None = None
    # Labels a worker must carry (equal values) to take the job.
    labels: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    # Memory the job may use; past it the kernel kills it (where the worker has cgroups).
    memory_mb: int | None = None
    # "user" or "user:group"; only workers that allow it take the job.
    run_as: str | None = None


@dataclass(slots=True)
class Job:
    """A job: its spec plus everything that happened to it.

    Mutable: the master's scheduler owns the live copy of each unfinished job and
    changes it in place; the store writes the changes.
    """

    id: int
    spec: JobSpec
    state: JobState = JobState.PENDING
    attempt: int = 0  # number of the current or last attempt; 0 until first assigned
    attempt_base: int = 0  # where a manual retry restarted the count of max_attempts
    requeues: int = 0  # attempts since then lost to the infrastructure
    worker_id: str | None = None
    instance_id: str | None = None
    cpu_ids: list[int] = field(default_factory=list)
    pid: int | None = None
    pid_start: int | None = None  # the pid's start time: names the process even if recycled
    exit_code: int | None = None
    signal: int | None = None
    reason: Reason | None = None
    reason_detail: str | None = None  # what the code alone does not say
    cancel_requested: bool = False
    submitted_at: datetime | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    not_before: datetime | None = None  # retry backoff: not placed before this time
    updated_at: datetime | None = None

    @property
    def attempts_left(self) -> int:
        """How many more attempts the job may make after the current one."""
        spent = self.attempt - self.attempt_base - self.requeues
        return self.spec.max_attempts - spent


@dataclass(frozen=True)
class Allocation:
    """The CPUs and account a running attempt holds on a worker."""

    job_id: int
    attempt: int
    worker_id: str
    instance_id: str | None
    cpu_ids: list[int]
    account: str | None
    since: datetime


@dataclass(frozen=True)
class Attempt:
    """How one attempt ended: kept after the job has moved on."""

    job_id: int
    attempt: int
    worker_id: str | None
    instance_id: str | None
    cpu_ids: list[int]
    pid: int | None
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime
    state: JobState  # where the attempt's end led, had the job not been tried again
    requeued: bool
    exit_code: int | None = None
    signal: int | None = None
    reason: Reason | None = None
    reason_detail: str | None = None
    max_rss_bytes: int | None = None
    cpu_seconds: float | None = None
