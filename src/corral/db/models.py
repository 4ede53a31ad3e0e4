"""SQLAlchemy models: the schema that the migrations must produce."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from corral.db.types import JSONType, UTCDateTime

# Explicit constraint names so migrations are the same on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata."""

    metadata = MetaData(naming_convention=NAMING)


class WorkerConfigRow(Base):
    """What the operator declared about one worker."""

    __tablename__ = "worker_configs"

    worker_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    deployment_type: Mapped[str] = mapped_column(String(20))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    cpus: Mapped[int | None] = mapped_column(Integer)
    # The CPU ids a local worker is pinned to; NULL: the master places it.
    cpu_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    max_accounts: Mapped[int] = mapped_column(Integer)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    env: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Write-only values (passwords, tokens): never returned by the API.
    secret_env: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Per-launcher settings: ssh user and key path, docker image, k8s namespace...
    launcher: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # "user" or "user:group" its jobs run as when they name none; NULL: the worker's user.
    run_as: Mapped[str | None] = mapped_column(String(65))
    # The other users its jobs may ask for (NULL in rows older than the column: none).
    allowed_run_as: Mapped[list[str] | None] = mapped_column(JSONType)
    # How its worker trusts the master's certificate: a CA bundle path on its host, a pin.
    master_ca: Mapped[str | None] = mapped_column(String(4096))
    master_fingerprint: Mapped[str | None] = mapped_column(String(102))
    auto_start: Mapped[bool] = mapped_column(Boolean)
    auto_restart: Mapped[bool] = mapped_column(Boolean)
    max_restart_attempts: Mapped[int] = mapped_column(Integer)
    restart_delay_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkerRuntimeRow(Base):
    """What the master last observed about one worker."""

    __tablename__ = "worker_runtime"

    worker_id: Mapped[str] = mapped_column(
        String(63), ForeignKey("worker_configs.worker_id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20))
    desired_state: Mapped[str] = mapped_column(String(20))
    pid: Mapped[int | None] = mapped_column(Integer)
    container_id: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    hostname: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cpu_percent: Mapped[float | None] = mapped_column(Float)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    cpu_ids: Mapped[list[int]] = mapped_column(JSONType)
    cpus_allocated: Mapped[int] = mapped_column(Integer)
    accounts_allocated: Mapped[int] = mapped_column(Integer)
    active_jobs: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    restart_count: Mapped[int] = mapped_column(Integer)
    next_restart_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    exit_signal: Mapped[int | None] = mapped_column(Integer)
    # How the worker contains its jobs: "cgroup v2", "cgroup v1" or "process groups".
    containment: Mapped[str | None] = mapped_column(String(40))
    # The user the worker runs as, as it said at registration.
    user: Mapped[str | None] = mapped_column(String(65))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkerLogRow(Base):
    """One lifecycle event, job event or error of a worker."""

    __tablename__ = "worker_logs"
    __table_args__ = (Index("ix_worker_logs_worker_id_id", "worker_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # No foreign key: the history outlives a deleted config.
    worker_id: Mapped[str] = mapped_column(String(63))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)


ACTIVE_JOB_STATES = ("pending", "assigned", "running")


class JobRow(Base):
    """One job: its spec, its current attempt, and how it ended."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Dispatch and recovery read only unfinished jobs: this index stays small
        # however long the history grows.
        Index(
            "ix_jobs_active",
            "state",
            "priority",
            "id",
            sqlite_where=text("state IN ('pending', 'assigned', 'running')"),
            postgresql_where=text("state IN ('pending', 'assigned', 'running')"),
        ),
        Index("ix_jobs_state_id", "state", "id"),
        Index("ix_jobs_worker_id_id", "worker_id", "id"),
        Index("ix_jobs_account_id", "account", "id"),
        Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    state: Mapped[str] = mapped_column(String(12))
    command: Mapped[list[str]] = mapped_column(JSONType)
    shell: Mapped[bool] = mapped_column(Boolean)
    env: Mapped[dict[str, Any]] = mapped_column(JSONType)
    secret_env: Mapped[dict[str, Any]] = mapped_column(JSONType)
    cwd: Mapped[str | None] = mapped_column(Text)
    cpus: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[float | None] = mapped_column(Float)
    max_attempts: Mapped[int] = mapped_column(Integer)
    retry_delay_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer)
    account: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempt: Mapped[int] = mapped_column(Integer)
    # The attempt a manual retry started from: max_attempts counts from here.
    attempt_base: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(63))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    cpu_ids: Mapped[list[int]] = mapped_column(JSONType)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_start: Mapped[int | None] = mapped_column(BigInteger)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    # A reason code (see domain.jobs.Reason); the detail says more, for people.
    reason: Mapped[str | None] = mapped_column(Text)
    reason_detail: Mapped[str | None] = mapped_column(Text)
    # Attempts lost to the infrastructure (worker crashed, lost, drained...) spend these,
    # not max_attempts.
    max_requeues: Mapped[int] = mapped_column(Integer, server_default=text("10"))
    requeues: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    # "user" or "user:group": only workers that allow it take the job.
    run_as: Mapped[str | None] = mapped_column(String(65))
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AllocationRow(Base):
    """The CPUs and account one running attempt holds on a worker, since when."""

    __tablename__ = "allocations"

    # No foreign key: a stale allocation must be findable even if its job was pruned.
    job_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(63), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    cpu_ids: Mapped[list[int]] = mapped_column(JSONType)
    account: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class AttemptRow(Base):
    """How one attempt of a job ended, where it ran and what it used."""

    __tablename__ = "attempts"

    job_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    worker_id: Mapped[str | None] = mapped_column(String(63))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    cpu_ids: Mapped[list[int]] = mapped_column(JSONType)
    pid: Mapped[int | None] = mapped_column(Integer)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The state the attempt's end led to, had the job not been retried.
    state: Mapped[str] = mapped_column(String(12))
    requeued: Mapped[bool] = mapped_column(Boolean)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(40))
    reason_detail: Mapped[str | None] = mapped_column(Text)
    max_rss_bytes: Mapped[int | None] = mapped_column(BigInteger)
    cpu_seconds: Mapped[float | None] = mapped_column(Float)


class AuditRow(Base):
    """One state-changing request: who, from where, what, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "admin", "session" (the dashboard's cookie), "worker:<id>" or "anonymous"
    actor: Mapped[str] = mapped_column(String(80))
    peer: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(200))  # the route's template
    target: Mapped[str | None] = mapped_column(String(200))  # its path parameters
    status: Mapped[int] = mapped_column(Integer)


class WorkerSampleRow(Base):
    """One point of a worker's history: its figures at ``at`` (unix s), over ``step_s``."""

    __tablename__ = "worker_samples"
    # Keyed by time first: a window is one range scan, pruning too. No rowid: the key
    # is the row, which halves its size on SQLite.
    __table_args__ = {"sqlite_with_rowid": False}

    step_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    cpus_allocated: Mapped[float] = mapped_column(Float)
    jobs_running: Mapped[float] = mapped_column(Float)


class FleetSampleRow(Base):
    """One point of the fleet's history: queue, throughput and latencies over ``step_s``."""

    __tablename__ = "fleet_samples"
    __table_args__ = {"sqlite_with_rowid": False}

    step_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jobs_pending: Mapped[float] = mapped_column(Float)
    jobs_running: Mapped[float] = mapped_column(Float)
    pending_cpus: Mapped[float] = mapped_column(Float)
    workers_running: Mapped[float] = mapped_column(Float)
    succeeded_per_min: Mapped[float] = mapped_column(Float)
    failed_per_min: Mapped[float] = mapped_column(Float)
    timed_out_per_min: Mapped[float] = mapped_column(Float)
    cancelled_per_min: Mapped[float] = mapped_column(Float)
    queue_wait_p50_s: Mapped[float | None] = mapped_column(Float)
    queue_wait_p95_s: Mapped[float | None] = mapped_column(Float)
    run_p50_s: Mapped[float | None] = mapped_column(Float)
    run_p95_s: Mapped[float | None] = mapped_column(Float)


class AlertRuleRow(Base):
    """A built-in alert rule as an operator tuned it (rules never tuned have no row)."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    threshold: Mapped[float] = mapped_column(Float)
    for_s: Mapped[float] = mapped_column(Float)
    repeat_interval_s: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookRow(Base):
    """Where alerts are sent, signed with a secret kept sealed."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    url: Mapped[str] = mapped_column(Text)
    # {"secret": <sealed>}: the shape of every sealed column, so key rotation reseals it.
    secret_env: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The rules it hears about; NULL: every rule.
    rules: Mapped[list[str] | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDeliveryRow(Base):
    """One notification to one webhook, until it is delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    webhook_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
    )
    # The webhook-id header: the same on every attempt, so receivers can drop repeats.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    alertname: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # firing, resolved or test
    body: Mapped[str] = mapped_column(Text)  # sent as it is on every attempt
    state: Mapped[str] = mapped_column(String(10))  # pending, delivered or dead
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


worker_configs: Table = WorkerConfigRow.__table__  # type: ignore[assignment]
worker_runtime: Table = WorkerRuntimeRow.__table__  # type: ignore[assignment]
worker_logs: Table = WorkerLogRow.__table__  # type: ignore[assignment]
jobs: Table = JobRow.__table__  # type: ignore[assignment]
allocations: Table = AllocationRow.__table__  # type: ignore[assignment]
attempts: Table = AttemptRow.__table__  # type: ignore[assignment]
audit_log: Table = AuditRow.__table__  # type: ignore[assignment]
worker_samples: Table = WorkerSampleRow.__table__  # type: ignore[assignment]
fleet_samples: Table = FleetSampleRow.__table__  # type: ignore[assignment]
alert_rules: Table = AlertRuleRow.__table__  # type: ignore[assignment]
webhooks: Table = WebhookRow.__table__  # type: ignore[assignment]
webhook_deliveries: Table = WebhookDeliveryRow.__table__  # type: ignore[assignment]
