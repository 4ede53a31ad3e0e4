"""Worker event history: lifecycle transitions, job events and errors, newest first."""

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, insert, select

from corral.db import models
from corral.domain.clock import utcnow
from corral.domain.workers import WorkerLogEntry
from corral.errors import InvalidInputError

worker_logs = models.worker_logs

LEVELS = frozenset({"debug", "info", "warning", "error", "critical"})
MAX_KIND_LEN = 40  # the width of worker_logs.kind


def _check(kind: str, level: str) -> None:
    """Refuse levels nobody filters on and kinds the column cannot hold."""
    if level not in LEVELS:
        raise InvalidInputError(f"unknown log level {level!r}: use one of {sorted(LEVELS)}")
    if not kind or len(kind) > MAX_KIND_LEN:
        raise InvalidInputError(f"log kind must be 1-{MAX_KIND_LEN} characters, got {kind!r}")


def insert_log(
    conn: Connection,
    worker_id: str,
    kind: str,
    message: str,
    level: str = "info",
    at: datetime | None = None,
) -> WorkerLogEntry:
    """Write one log row inside the caller's transaction."""
    _check(kind, level)
    entry = WorkerLogEntry(
        id=0, worker_id=worker_id, at=at or utcnow(), level=level, kind=kind, message=message
    )
    values = {f: getattr(entry, f) for f in ("worker_id", "at", "level", "kind", "message")}
    key = conn.execute(insert(worker_logs).values(**values)).inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the new log row")
    return replace(entry, id=int(key[0]))


def insert_logs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write many log rows (worker_id, at, level, kind, message) in the caller's transaction."""
    for row in rows:
        _check(row["kind"], row["level"])
    conn.execute(insert(worker_logs), rows)


def _entry(row: RowMapping) -> WorkerLogEntry:
    """A domain object from one row."""
    return WorkerLogEntry(
        id=row["id"],
        worker_id=row["worker_id"],
        at=row["at"],
        level=row["level"],
        kind=row["kind"],
        message=row["message"],
    )


class WorkerLogStore:
    """Reads and appends worker log rows; the rows outlive a deleted config."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, worker_id: str, kind: str, message: str, level: str = "info") -> WorkerLogEntry:
        """Append one event to a worker's history."""
        with self._engine.begin() as conn:
            return insert_log(conn, worker_id, kind, message, level)

    def recent(self, limit: int = 20) -> list[WorkerLogEntry]:
        """The fleet's latest events, every worker's, newest first."""
        query = select(worker_logs).order_by(worker_logs.c.id.desc()).limit(max(1, limit))
        with self._engine.begin() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def list(
        self, worker_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[WorkerLogEntry]:
        """Up to ``limit`` events, newest first; pass the last id seen as ``before_id`` to page."""
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        query = select(worker_logs).where(worker_logs.c.worker_id == worker_id)
        if before_id is not None:
            query = query.where(worker_logs.c.id < before_id)
        query = query.order_by(worker_logs.c.id.desc()).limit(limit)
        with self._engine.begin() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]
