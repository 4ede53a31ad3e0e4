"""Request and response bodies of the jobs API and of the agent exchange."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from corral.domain.jobs import DEFAULT_MAX_REQUEUES, Attempt, Job, JobSpec
from corral.master.api.schemas import (
    JSON_INT,
    MAX_ID,
    MAX_INT32,
    NO_NUL,
    Env,
    InstanceId,
    Labels,
    RunAs,
    Strict,
    WorkerId,
    has_nul,
)

Arg = Annotated[str, StringConstraints(max_length=65536, pattern=NO_NUL)]
# The first argument names the program: the schema says it cannot be empty.
PROGRAM = {"type": "string", "minLength": 1, "maxLength": 65536, "pattern": NO_NUL}
Command = Annotated[
    list[Arg], Field(min_length=1, max_length=4096, json_schema_extra={"prefixItems": [PROGRAM]})
]
Account = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@:+-]{1,200}$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
AbsPath = Annotated[str, StringConstraints(pattern=r"^/[^\x00]*$", max_length=4096)]
# With shell: true, command is one string for /bin/sh -c.
SHELL_TAKES_ONE: JsonDict = {
    "if": {"properties": {"shell": {"const": True}}, "required": ["shell"]},
    "then": {"properties": {"command": {"maxItems": 1}}},
}


class JobSubmit(Strict):
    """Body of POST /jobs: an argv list run without a shell unless ``shell`` is true."""

    model_config = ConfigDict(json_schema_extra=SHELL_TAKES_ONE)

    command: Command
    shell: bool = False
    cpus: Annotated[int, Field(ge=1, le=4096), JSON_INT] = 1
    env: Env = Field(default_factory=dict)
    secret_env: Env = Field(default_factory=dict)
    cwd: AbsPath | None = None
    timeout_s: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000), JSON_INT] = 1
    max_requeues: Annotated[int, Field(ge=0, le=1000), JSON_INT] = DEFAULT_MAX_REQUEUES
    retry_delay_s: Annotated[float, Field(ge=0, le=86400)] = 0.0
    priority: Annotated[int, Field(ge=-1000, le=1000), JSON_INT] = 0
    account: Account | None = None
    labels: Labels = Field(default_factory=dict)
    idempotency_key: Key | None = None
    memory_mb: Annotated[int, Field(ge=1, le=1 << 30), JSON_INT] | None = None
    run_as: RunAs | None = Field(
        None, description="whom it runs as; only workers that allow it take the job"
    )

    @model_validator(mode="after")
    def _command_is_runnable(self) -> Self:
        if not self.command[0]:
            raise ValueError("command[0] must name a program")
        if self.shell and len(self.command) != 1:
            raise ValueError("with shell: true, command is one string for /bin/sh -c")
        return self

    def to_spec(self) -> JobSpec:
        """The domain spec."""
        return JobSpec(**self.model_dump())


class JobBatch(Strict):
    """Body of POST /jobs/batch."""

    jobs: Annotated[list[JobSubmit], Field(min_length=1, max_length=1000)]


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: int
    state: str
    command: list[str]
    shell: bool
    cpus: int
    env: dict[str, str]
    secret_env_keys: list[str]
    cwd: str | None
    timeout_s: float | None
    max_attempts: int
    max_requeues: int
    retry_delay_s: float
    priority: int
    account: str | None
    labels: dict[str, str]
    idempotency_key: str | None
    memory_mb: int | None
    run_as: str | None
    attempt: int
    requeues: int
    worker_id: str | None
    instance_id: str | None
    cpu_ids: list[int]
    pid: int | None
    exit_code: int | None
    signal: int | None
    reason: str | None
    reason_detail: str | None
    cancel_requested: bool
    submitted_at: datetime | None
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    not_before: datetime | None
    waiting_for: str | None = Field(
        default=None, description="Why a pending job has not started yet; null otherwise."
    )

    @classmethod
    def of(cls, job: Job) -> "JobOut":
        """Flatten the spec and the record."""
        spec = job.spec
        return cls(
            id=job.id,
            state=str(job.state),
            command=spec.command,
            shell=spec.shell,
            cpus=spec.cpus,
            env=spec.env,
            secret_env_keys=sorted(spec.secret_env),
            cwd=spec.cwd,
            timeout_s=spec.timeout_s,
            max_attempts=spec.max_attempts,
            max_requeues=spec.max_requeues,
            retry_delay_s=spec.retry_delay_s,
            priority=spec.priority,
            account=spec.account,
            labels=spec.labels,
            idempotency_key=spec.idempotency_key,
            memory_mb=spec.memory_mb,
            run_as=spec.run_as,
            attempt=job.attempt,
            requeues=job.requeues,
            worker_id=job.worker_id,
            instance_id=job.instance_id,
            cpu_ids=job.cpu_ids,
            pid=job.pid,
            exit_code=job.exit_code,
            signal=job.signal,
            reason=job.reason,
            reason_detail=job.reason_detail,
            cancel_requested=job.cancel_requested,
            submitted_at=job.submitted_at,
            assigned_at=job.assigned_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            not_before=job.not_before,
        )


class AttemptOut(BaseModel):
    """How one attempt of a job ended."""

    attempt: int
    worker_id: str | None
    instance_id: str | None
    cpu_ids: list[int]
    pid: int | None
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime
    state: str
    requeued: bool
    exit_code: int | None
    signal: int | None
    reason: str | None
    reason_detail: str | None
    max_rss_bytes: int | None
    cpu_seconds: float | None

    @classmethod
    def of(cls, attempt: Attempt) -> "AttemptOut":
        """The record as shown."""
        values = {k: v for k, v in vars(attempt).items() if k != "job_id"}
        return cls(**values)


class AttemptList(BaseModel):
    """GET /jobs/{id}/attempts: every ended attempt, oldest first."""

    job_id: int
    attempts: list[AttemptOut]


class JobPage(BaseModel):
    """GET /jobs: newest first; pass next_before_id as before_id for the next page."""

    jobs: list[JobOut]
    next_before_id: int | None


UnfinishedState = Literal["pending", "assigned", "running"]


class CancelFilter(Strict):
    """Body of POST /jobs/cancel: the unfinished jobs to cancel; a field left out matches all."""

    state: Annotated[list[UnfinishedState], Field(max_length=3)] | None = None
    worker_id: WorkerId | None = None
    account: Account | None = None

    def matches(self, job: Job) -> bool:
        """Whether an unfinished job passes every filter given."""
        if self.state is not None and str(job.state) not in self.state:
            return False
        if self.worker_id is not None and job.worker_id != self.worker_id:
            return False
        return self.account is None or job.spec.account == self.account


class CancelCounts(BaseModel):
    """What a bulk cancel did: pending jobs ended at once, running ones asked to end."""

    matched: int
    cancelled: int
    ending: int


class JobList(BaseModel):
    """Answer of POST /jobs/batch."""

    jobs: list[JobOut]


class JobLogsOut(BaseModel):
    """GET /jobs/{id}/logs: the last lines of one stream of output."""

    job_id: int
    stream: Literal["stdout", "stderr"]
    lines: list[str]


class JobEventIn(Strict):
    """One report of a worker about an attempt; its output data may hold any character."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if isinstance(data, dict) and has_nul({k: v for k, v in data.items() if k != "data"}):
            raise ValueError("NUL characters are not allowed outside output data")
        return data

    type: Literal["started", "output", "finished"]
    job_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    attempt: Annotated[int, Field(ge=1, le=MAX_INT32)]
    at: float | None = None
    pid: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None
    start_time: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    cpu_ids: Annotated[list[Annotated[int, Field(ge=0, le=65535)]], Field(max_length=4096)] = Field(
        default_factory=list
    )
    stream: Literal["stdout", "stderr"] | None = None
    data: Annotated[str, StringConstraints(max_length=4 * 1024 * 1024)] | None = None
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    exit_code: Annotated[int, Field(ge=-MAX_INT32 - 1, le=MAX_INT32)] | None = None
    signal: Annotated[int, Field(ge=0, le=MAX_INT32)] | None = None
    reason: Literal["timeout", "cancelled", "drained", "spawn_failed", "fenced", "oom"] | None = (
        None
    )
    detail: Annotated[str, StringConstraints(max_length=2000)] | None = None
    max_rss_bytes: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    cpu_seconds: Annotated[float, Field(ge=0)] | None = None


class Exchange(Strict):
    """Body of the agent exchange: events up, a wait for work."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return data  # each event checks itself

    worker_id: WorkerId
    instance_id: InstanceId
    events: Annotated[list[JobEventIn], Field(max_length=100_000)] = Field(default_factory=list)
    wait_s: Annotated[float, Field(ge=0, le=30)] = 0.0
    draining: bool = False
