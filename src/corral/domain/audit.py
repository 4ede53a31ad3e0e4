"""The audit trail's record: one state-changing request."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditEntry:
    """Who asked for what change, from where, and how the master answered."""

    id: int
    at: datetime
    actor: str  # "admin", "session", "worker:<id>" or "anonymous"
    peer: str | None
    method: str
    route: str
    target: str | None
    status: int
