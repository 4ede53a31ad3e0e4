"""Worker configuration and runtime records, as the rest of corral sees them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from corral.domain.worker_states import DesiredState, WorkerState


class DeploymentType(StrEnum):
    """Where a worker process lives, which picks its launcher."""

    LOCAL = "local"
    SSH = "ssh"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class WorkerConfig:
    """What the operator declared about one worker."""

    worker_id: str
    name: str
    deployment_type: DeploymentType = DeploymentType.LOCAL
    host: str | None = None
    port: int | None = None
    cpus: int | None = None
    # The CPUs a local worker uses; None: the master picks the least used ones.
    cpu_ids: list[int] | None = None
    max_accounts: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # Write-only: given to the worker, never shown by the API; sealed in the database.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    launcher: dict[str, Any] = field(default_factory=dict)
    # "user" or "user:group" its jobs run as when they name none; None: the worker's own.
    run_as: str | None = None
    # What else its jobs may ask for, each exactly as written.
    allowed_run_as: list[str] = field(default_factory=list)
    # How its worker trusts the master over HTTPS: a CA bundle (a path on the worker's
    # host) and/or a pin of the master's certificate; neither: the system's CAs.
    master_ca: str | None = None
    master_fingerprint: str | None = None
    auto_start: bool = True
    auto_restart: bool = True
    max_restart_attempts: int = 5
    restart_delay_ms: int = 1000
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class WorkerRuntime:
    """What the master last observed about one worker."""

    worker_id: str
    state: WorkerState = WorkerState.STOPPED
    desired_state: DesiredState = DesiredState.STOPPED
    pid: int | None = None
    container_id: str | None = None
    instance_id: str | None = None
    hostname: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    cpu_ids: list[int] = field(default_factory=list)
    cpus_allocated: int = 0
    accounts_allocated: int = 0
    active_jobs: int = 0
    error_count: int = 0
    last_error: str | None = None
    restart_count: int = 0
    next_restart_at: datetime | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    containment: str | None = None  # how the worker contains its jobs, as it said
    user: str | None = None  # the user the worker runs as, as it said
    updated_at: datetime | None = None


@dataclass(frozen=True)
class WorkerLogEntry:
    """One row of a worker's event history."""

    id: int
    worker_id: str
    at: datetime
    level: str
    kind: str
    message: str
