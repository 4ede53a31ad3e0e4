"""Request and response bodies of the worker API; strict so bad input gets a clear 422."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from corral.domain.ids import WORKER_ID_PATTERN
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime

WorkerId = Annotated[str, StringConstraints(pattern=WORKER_ID_PATTERN)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(max_length=32768)]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,63}$")]
LabelValue = Annotated[str, StringConstraints(max_length=255)]
Env = Annotated[dict[EnvName, EnvValue], Field(max_length=256)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64)]


class Strict(BaseModel):
    """Unknown fields are refused, not ignored; so are NUL characters anywhere."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL cannot store NUL in text or JSON, and no argv or path holds one.
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
    ssh_key_path: Annotated[str, StringConstraints(max_length=4096)] | None = None
    docker_image: Annotated[str, StringConstraints(max_length=255)] | None = None
    k8s_namespace: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,63}$")] | None = None
    k8s_image: Annotated[str, StringConstraints(max_length=255)] | None = None


class WorkerConfigFields(Strict):
    """Fields shared by create and update."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    deployment_type: DeploymentType | None = None
    host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-:\[\]]{1,255}$")] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    cpus: Annotated[int, Field(ge=1, le=4096)] | None = None
    max_accounts: Annotated[int, Field(ge=0, le=4096)] | None = None
    labels: Labels | None = None
    env: Env | None = None
    secret_env: Env | None = None
    launcher: LauncherSettings | None = None
    auto_start: bool | None = None
    auto_restart: bool | None = None
    max_restart_attempts: Annotated[int, Field(ge=0, le=10000)] | None = None
    restart_delay_ms: Annotated[int, Field(ge=0, le=3_600_000)] | None = None


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
        """The fields the client set (null clears host, port and cpus)."""
        data = self.model_dump(exclude_unset=True)
        if self.launcher is not None:
            data["launcher"] = self.launcher.model_dump(exclude_none=True)
        nullable = {"host", "port", "cpus"}
        return {k: v for k, v in data.items() if v is not None or k in nullable}


class WorkerConfigOut(BaseModel):
    """A config as the API shows it: secret values are never returned, only their names."""

    worker_id: str
    name: str
    deployment_type: DeploymentType
    host: str | None
    port: int | None
    cpus: int | None
    max_accounts: int
    labels: dict[str, str]
    env: dict[str, str]
    secret_env_keys: list[str]
    launcher: dict[str, Any]
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

    @classmethod
    def of(cls, cfg: WorkerConfig, rt: WorkerRuntime) -> "WorkerStatusOut":
        """Merge config identity with the runtime record."""
        data = {k: v for k, v in vars(rt).items() if k != "updated_at"}
        return cls(**data, name=cfg.name, deployment_type=cfg.deployment_type)


class StopOptions(Strict):
    """Body of stop and restart; both fields optional."""

    graceful: bool = True
    timeout_s: Annotated[float, Field(ge=0, le=3600)] | None = None


class BatchRequest(Strict):
    """Body of POST /workers/batch."""

    action: Literal["start", "stop", "restart"]
    worker_ids: Annotated[list[str], Field(min_length=1, max_length=1000)]
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
