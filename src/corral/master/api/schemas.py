"""Request and response bodies of the worker API; strict so bad input gets a clear 422."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from corral import run_as, tls_trust
from corral.domain.ids import WORKER_ID_PATTERN
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime

# Ids are 64-bit in both databases; most other numbers are 32-bit columns.
MAX_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1
# PostgreSQL cannot store NUL in text or JSON, and no argv, path or name holds one.
NO_NUL = r"^[^\x00]*$"


def _json_integer(value: Any) -> Any:
    """JSON counts 3.0 as an integer; the strict int after this still refuses true and "3"."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Last in an Annotated int, after its bounds, so the schema still shows them.
JSON_INT = BeforeValidator(_json_integer)


def _distinct(value: list[int]) -> list[int]:
    """A set of CPU ids names each once."""
    if len(set(value)) != len(value):
        raise PydanticCustomError("repeated_cpu", "each CPU id may be named once")
    return value


CpuIds = Annotated[
    list[Annotated[int, Field(ge=0, le=4095), JSON_INT]],
    Field(
        min_length=1,
        max_length=4096,
        json_schema_extra={"uniqueItems": True},
        description="the CPUs a local worker is pinned to; unset: the least used ones",
        examples=[[0, 1]],
    ),
    AfterValidator(_distinct),
]


def _known_user(value: str) -> str:
    """A user (and group) this host knows; the error names the one it does not."""
    try:
        run_as.lookup(value)
    except run_as.UnknownUser as exc:
        raise PydanticCustomError("unknown_user", str(exc)) from None
    return value


RunAs = Annotated[
    str,
    StringConstraints(pattern=run_as.PATTERN),
    AfterValidator(_known_user),
    Field(description='"user" or "user:group", known to this host', examples=["nobody"]),
]


def _canonical_fingerprint(value: str) -> str:
    """A pin written one way, as the master prints it."""
    return tls_trust.fingerprint_of_digest(tls_trust.parse_fingerprint(value))


MasterFingerprint = Annotated[
    str,
    StringConstraints(pattern=r"^([Ss][Hh][Aa]256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$"),
    AfterValidator(_canonical_fingerprint),
    Field(description="SHA-256 pin of the master's certificate, as the master prints it"),
]
MasterCa = Annotated[
    str,
    StringConstraints(max_length=4096, pattern=r"^/[^\x00]*$"),
    Field(description="absolute path of a CA bundle (PEM) on the worker's host"),
]
WorkerId = Annotated[str, StringConstraints(pattern=WORKER_ID_PATTERN)]
InstanceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{8,36}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(max_length=32768, pattern=NO_NUL)]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,63}$")]
LabelValue = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]
# Keys outside the pattern are refused: the schema says so.
CLOSED: JsonDict = {"additionalProperties": False}
Env = Annotated[dict[EnvName, EnvValue], Field(max_length=256, json_schema_extra=CLOSED)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64, json_schema_extra=CLOSED)]
Text = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]


class Strict(BaseModel):
    """Unknown fields are refused, not ignored; so are NUL characters anywhere.

    Types are strict too: ``true`` or ``"1"`` is not a number, ``1.5`` not an integer.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # Said once for the whole body, more clearly than each field's pattern would.
        if has_nul(data):
            raise ValueError("NUL characters are not allowed")
        return data


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string of a JSON value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class LauncherSettings(Strict):
    """Per-launcher settings; each launcher reads the ones it needs."""

    ssh_user: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] | None = None
    ssh_key_path: Annotated[str, StringConstraints(max_length=4096, pattern=NO_NUL)] | None = None
    docker_image: Text | None = None
    k8s_namespace: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,63}$")] | None = None
    k8s_image: Text | None = None


class WorkerConfigFields(Strict):
    """Fields shared by create and update."""

    name: Name | None = None
    # JSON has no enums: the strings of the enum are its values.
    deployment_type: Annotated[DeploymentType, Field(strict=False)] | None = None
    host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-:\[\]]{1,255}$")] | None = None
    port: Annotated[int, Field(ge=1, le=65535), JSON_INT] | None = None
    cpus: Annotated[int, Field(ge=1, le=4096), JSON_INT] | None = None
    cpu_ids: CpuIds | None = None
    max_accounts: Annotated[int, Field(ge=0, le=4096), JSON_INT] | None = None
    labels: Labels | None = None
    env: Env | None = None
    secret_env: Env | None = None
    launcher: LauncherSettings | None = None
    run_as: RunAs | None = Field(
        None, description="whom its jobs run as when they name nobody; unset: the worker's user"
    )
    allowed_run_as: Annotated[list[RunAs], Field(max_length=64)] | None = Field(
        None, description="whom else its jobs may name in their run_as, each exactly as written"
    )
    master_ca: MasterCa | None = None
    master_fingerprint: MasterFingerprint | None = None
    auto_start: bool | None = None
    auto_restart: bool | None = None
    max_restart_attempts: Annotated[int, Field(ge=0, le=10000), JSON_INT] | None = None
    restart_delay_ms: Annotated[int, Field(ge=0, le=3_600_000), JSON_INT] | None = None


class WorkerConfigCreate(WorkerConfigFields):
    """Body of POST /worker-configs."""

    worker_id: WorkerId

    def to_config(self) -> WorkerConfig:
        """The domain config, with defaults for what was left out."""
        given = self.model_dump(exclude_none=True, exclude={"launcher"})
        if self.launcher is not None:
            given["launcher"] = self.launcher.model_dump(exclude_none=True)
        given.setdefault("name", self.worker_id)
        return WorkerConfig(**given)


class WorkerConfigUpdate(WorkerConfigFields):
    """Body of PATCH /worker-configs/{id}: only the fields given change."""

    def changes(self) -> dict[str, Any]:
        """The fields the client set (null clears host, port, cpus, cpu_ids, run_as, TLS trust)."""
        data = self.model_dump(exclude_unset=True)
        if self.launcher is not None:
            data["launcher"] = self.launcher.model_dump(exclude_none=True)
        nullable = {"host", "port", "cpus", "cpu_ids", "run_as", "master_ca", "master_fingerprint"}
        return {k: v for k, v in data.items() if v is not None or k in nullable}


class WorkerConfigOut(BaseModel):
    """A config as the API shows it: secret values are never returned, only their names."""

    worker_id: str
    name: str
    deployment_type: DeploymentType
    host: str | None
    port: int | None
    cpus: int | None
    cpu_ids: list[int] | None
    max_accounts: int
    labels: dict[str, str]
    env: dict[str, str]
    secret_env_keys: list[str]
    launcher: dict[str, Any]
    run_as: str | None
    allowed_run_as: list[str]
    master_ca: str | None
    master_fingerprint: str | None
    auto_start: bool
    auto_restart: bool
    max_restart_attempts: int
    restart_delay_ms: int
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, cfg: WorkerConfig) -> "WorkerConfigOut":
        """Build from the domain config, dropping secret values."""
        data = {k: v for k, v in vars(cfg).items() if k != "secret_env"}
        return cls(**data, secret_env_keys=sorted(cfg.secret_env))


class WorkerStatusOut(BaseModel):
    """GET /workers/{id}/status."""

    worker_id: str
    name: str
    deployment_type: DeploymentType
    state: str
    desired_state: str
    pid: int | None
    container_id: str | None
    instance_id: str | None
    hostname: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    last_heartbeat_at: datetime | None
    cpu_percent: float | None
    memory_bytes: int | None
    cpu_ids: list[int]
    cpus_allocated: int
    accounts_allocated: int
    active_jobs: int
    restart_count: int
    error_count: int
    last_error: str | None
    next_restart_at: datetime | None
    exit_code: int | None
    exit_signal: int | None
    containment: str | None = Field(
        description='how its jobs are contained: "cgroup v2", "cgroup v1" or "process groups"'
    )
    user: str | None = Field(description="the user the worker runs as, as it said")
    job_user: str | None = Field(
        description='whom its jobs run as when they name nobody: "root" deserves a run_as'
    )

    @classmethod
    def of(cls, cfg: WorkerConfig, rt: WorkerRuntime) -> "WorkerStatusOut":
        """Merge config identity with the runtime record."""
        data = {k: v for k, v in vars(rt).items() if k != "updated_at"}
        return cls(
            **data,
            name=cfg.name,
            deployment_type=cfg.deployment_type,
            job_user=cfg.run_as or rt.user,
        )


class StopOptions(Strict):
    """Body of stop and restart; both fields optional."""

    graceful: bool = True
    timeout_s: Annotated[float, Field(ge=0, le=3600)] | None = None


class BatchRequest(Strict):
    """Body of POST /workers/batch."""

    action: Literal["start", "stop", "restart"]
    worker_ids: Annotated[list[Text], Field(min_length=1, max_length=1000)]
    options: StopOptions = Field(default_factory=StopOptions)


class BatchItem(BaseModel):
    """The outcome for one worker of a batch."""

    worker_id: str
    ok: bool
    state: str | None = None
    error: str | None = None
    status_code: int


class BatchResponse(BaseModel):
    """Per-worker results, in the order asked."""

    action: str
    results: list[BatchItem]
    succeeded: int
    failed: int


class WorkerHealthOut(BaseModel):
    """GET /workers/{id}/health: 200 when healthy, 503 with the same body otherwise."""

    worker_id: str
    healthy: bool
    state: str
    desired_state: str
    seconds_since_heartbeat: float | None
    lease_s: float


class WorkerLogsOut(BaseModel):
    """GET /workers/{id}/logs: the last lines of one stream."""

    worker_id: str
    stream: Literal["stdout", "stderr", "all", "events"]
    lines: list[str]


class FleetOverview(BaseModel):
    """GET /workers/stats/overview: counts by state and totals over running workers."""

    total: int
    by_state: dict[str, int]
    cpus: int
    cpus_allocated: int
    active_jobs: int
    memory_bytes: int
    cpu_percent: float
    restarts: int
    errors: int


class ConfigSummary(BaseModel):
    """GET /worker-configs/stats/summary: counts of configs and the CPUs they declare."""

    total: int
    by_deployment_type: dict[str, int]
    auto_start: int
    auto_restart: int
    declared_cpus: int
    max_accounts: int
