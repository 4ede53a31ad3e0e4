"""A job as the master reports it."""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

TERMINAL_STATES = frozenset({"succeeded", "failed", "timed_out", "cancelled"})


@dataclass(frozen=True)
class Job:
    """A job as the master reports it (JobOut)."""

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
    cpu_ids: list[int] | None
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
    # Why a pending job has not started yet (on a single job's answer only).
    waiting_for: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Job":
        """Build from a JobOut body; fields a newer master adds are ignored."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if f.name.endswith(("_at", "_before")) and isinstance(value, str):
                value = datetime.fromisoformat(value)
            values[f.name] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The JobOut body again, times as ISO 8601 strings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @property
    def finished(self) -> bool:
        """Whether the job reached a final state (it may still be retried by hand)."""
        return self.state in TERMINAL_STATES
