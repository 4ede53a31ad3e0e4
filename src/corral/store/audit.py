"""The audit trail: read newest first; rows are written by the master's writer."""

from sqlalchemy import Engine, RowMapping, select

from corral.db import models
from corral.domain.audit import AuditEntry

audit_log = models.audit_log


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(**dict(row))


class AuditStore:
    """Reads the audit trail."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Named list like the other stores; last in the class for the same reason.
    def list(
        self, *, limit: int = 100, before_id: int | None = None, actor: str | None = None
    ) -> list[AuditEntry]:
        """Up to ``limit`` entries, newest first; pass the last id seen as ``before_id``."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with self._engine.begin() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]
