"""The agent protocol between master and worker: routes, environment names, shapes.

Kept free of third-party imports: the worker imports it and must start fast.
"""

from typing import NotRequired, TypedDict

ENV_MASTER_URL = "CORRAL_MASTER_URL"
ENV_WORKER_ID = "CORRAL_WORKER_ID"
ENV_TOKEN = "CORRAL_WORKER_TOKEN"  # noqa: S105 (a variable name, not a secret)
# Set by the local launcher: the worker exits when this process (the master) dies.
ENV_PARENT_PID = "CORRAL_PARENT_PID"
# Set by the local launcher: where the worker keeps its ledger of job processes.
ENV_STATE_DIR = "CORRAL_WORKER_STATE_DIR"
# Seconds a draining worker lets its jobs run before it ends them.
ENV_DRAIN_TIMEOUT = "CORRAL_DRAIN_TIMEOUT_S"
# Set by the local launcher: the CPU ids ("0,1") the worker keeps to, of those it may use.
ENV_CPU_IDS = "CORRAL_WORKER_CPU_IDS"
# "off": the worker leaves the time out of its log lines (the master stamps each one).
ENV_LOG_TIME = "CORRAL_WORKER_LOG_TIME"


class Secrets(TypedDict):
    """What a launcher writes to a worker's stdin (``--token-stdin``), never its argv or env."""

    token: str
    # Variables added to the environment of every job of the worker.
    secret_env: dict[str, str]


AGENT_PREFIX = "/api/v1/agent"
# Names the worker whose token the request carries, so it is checked before any body is read.
WORKER_HEADER = "X-Corral-Worker"
REGISTER_PATH = AGENT_PREFIX + "/register"
HEARTBEAT_PATH = AGENT_PREFIX + "/heartbeat"
DEREGISTER_PATH = AGENT_PREFIX + "/deregister"

# Error code in a 409 answer: this instance is no longer the worker's current one.
STALE_INSTANCE = "stale_instance"
# Error code in a 503 answer: the master is up but cannot make the request durable now
# (its database or disk is unavailable); nothing of it was taken: send it again later.
UNAVAILABLE = "unavailable"


class RegisterRequest(TypedDict):
    """Sent once per worker start, before anything else."""

    worker_id: str
    instance_id: str
    pid: int
    hostname: str
    cpu_ids: list[int]
    version: str
    # Job process groups of the previous instance this one killed at its start.
    orphans_killed: NotRequired[int]
    # How jobs are contained: "cgroup v2", "cgroup v1" or "process groups".
    containment: NotRequired[str]
    # The user the worker runs as: its jobs' too, unless they name another.
    user: NotRequired[str]


class RegisterResponse(TypedDict):
    """The master's timing rules for this instance, and its configured capacity."""

    heartbeat_interval_s: float
    lease_s: float
    # The worker's configured CPUs: when fewer than it can use, it uses the first ones.
    cpus: NotRequired[int | None]


class HeartbeatRequest(TypedDict):
    """Sent every heartbeat interval while the worker lives."""

    worker_id: str
    instance_id: str
    cpu_percent: float
    memory_bytes: int


class DeregisterRequest(TypedDict):
    """Sent by a worker that exits on purpose, so its exit is not a crash."""

    worker_id: str
    instance_id: str
    reason: str


# Jobs. One route carries everything between a worker and the master's scheduler:
# the worker's events go up, assignments and cancels come down. A request with no
# events and wait_s > 0 is a long-poll: answered at once when something is for
# this worker, else after wait_s with empty lists. A worker keeps one such poll
# parked and sends its events on a second connection, whose answer carries
# whatever became assignable meanwhile.
EXCHANGE_PATH = AGENT_PREFIX + "/exchange"
MAX_WAIT_S = 30.0
# A worker that has not reached the master for this share of the lease kills its
# jobs: it is sure to be done before the master, at the full lease, requeues them.
FENCE_LEASE_FRACTION = 0.6
# Environment of every job process; the master checks it before killing a pid.
ENV_JOB_ID = "CORRAL_JOB_ID"
ENV_JOB_ATTEMPT = "CORRAL_JOB_ATTEMPT"


class Assignment(TypedDict):
    """One attempt of one job, given to one worker instance."""

    job_id: int
    attempt: int
    command: list[str]
    shell: bool
    env: dict[str, str]
    cwd: str | None
    cpus: int
    timeout_s: float | None
    account: str | None
    # Output kept per stream; the worker cuts there and says how much it left out.
    output_max_bytes: NotRequired[int]
    # The job's memory limit, held where the worker runs jobs in cgroups.
    memory_mb: NotRequired[int | None]
    # "user" or "user:group" the job runs as; None: as the worker.
    run_as: NotRequired[str | None]


class AttemptRef(TypedDict):
    """Names one attempt: the fencing key of every report and command."""

    job_id: int
    attempt: int


class JobEvent(TypedDict, total=False):
    """Something that happened to an attempt on the worker.

    type "started": pid, cpu_ids. type "output": stream ('stdout'|'stderr'), data
    (text, utf-8 with replacement). type "finished": exit_code or signal, and
    reason when the worker ended it or never started it: 'timeout', 'cancelled',
    'drained', 'spawn_failed' (detail says why), 'fenced', 'oom'; what the attempt
    used, where the worker could measure it.
    """

    type: str
    job_id: int
    attempt: int
    at: float  # unix time on the worker
    pid: int
    start_time: int  # of the pid, in clock ticks since boot: with it, the pid is unambiguous
    cpu_ids: list[int]
    stream: str
    data: str
    offset: int  # UTF-8 bytes of this stream of this attempt sent before this data
    exit_code: int | None
    signal: int | None
    reason: str | None
    detail: str | None
    max_rss_bytes: int | None
    cpu_seconds: float | None


class ExchangeRequest(TypedDict):
    """Events up, and how long to wait for work when there is nothing to say."""

    worker_id: str
    instance_id: str
    events: list[JobEvent]
    wait_s: float
    draining: bool


class ExchangeResponse(TypedDict):
    """Work down: new attempts, attempts to cancel, attempts the master no longer owns."""

    assignments: list[Assignment]
    cancels: list[AttemptRef]
    # Reported attempts the master ignored (fenced off): kill them if they still run.
    stale: list[AttemptRef]
