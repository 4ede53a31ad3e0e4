"""Worker runtime: what the master last observed, changed only through checked transitions."""

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, select, update

from corral.db import models
from corral.domain.clock import utcnow
from corral.domain.worker_states import DesiredState, WorkerState, check_transition
from corral.domain.workers import WorkerRuntime
from corral.errors import ConflictError, InvalidInputError, NotFoundError
from corral.store.worker_logs import insert_log

worker_runtime = models.worker_runtime

FIELDS = tuple(f.name for f in fields(WorkerRuntime))
# The state moves only through transition(); the key and updated_at belong to the store.
UPDATABLE = frozenset(FIELDS) - {"worker_id", "state", "updated_at"}


def _runtime(row: RowMapping) -> WorkerRuntime:
    """A domain object from one row."""
    values = {name: row[name] for name in FIELDS}
    values["state"] = WorkerState(values["state"])
    values["desired_state"] = DesiredState(values["desired_state"])
    values["cpu_ids"] = list(values["cpu_ids"] or [])
    return WorkerRuntime(**values)


def _values(changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Column values for runtime fields other than the state, plus the new updated_at."""
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise InvalidInputError(f"cannot set worker runtime fields {unknown} here")
    values = dict(changes)
    if "desired_state" in values:
        try:
            values["desired_state"] = str(DesiredState(values["desired_state"]))
        except ValueError:
            raise InvalidInputError(f"unknown desired state {values['desired_state']!r}") from None
    if "cpu_ids" in values:
        values["cpu_ids"] = [int(cpu) for cpu in values["cpu_ids"]]
    values["updated_at"] = now
    return values


def _fetch(conn: Connection, worker_id: str) -> WorkerRuntime:
    """Read one runtime row inside the caller's transaction."""
    query = select(worker_runtime).where(worker_runtime.c.worker_id == worker_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(f"worker {worker_id!r} not found")
    return _runtime(row)


def _current_state(conn: Connection, worker_id: str) -> WorkerState:
    """The state, locked until the transaction ends (FOR UPDATE; SQLite ignores it)."""
    query = (
        select(worker_runtime.c.state)
        .where(worker_runtime.c.worker_id == worker_id)
        .with_for_update()
    )
    state = conn.execute(query).scalar_one_or_none()
    if state is None:
        raise NotFoundError(f"worker {worker_id!r} not found")
    return WorkerState(state)


class RuntimeStore:
    """Reads and writes worker runtime rows; every state change leaves a log row."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, worker_id: str) -> WorkerRuntime:
        """One worker's runtime; NotFoundError if the worker does not exist."""
        with self._engine.begin() as conn:
            return _fetch(conn, worker_id)

    def transition(
        self,
        worker_id: str,
        new_state: WorkerState,
        message: str,
        *,
        level: str = "info",
        **fields: Any,
    ) -> WorkerRuntime:
        """Take one checked edge, set ``fields`` and log it, all in one transaction."""
        new_state = WorkerState(new_state)
        now = utcnow()
        values = _values(fields, now) | {"state": str(new_state)}
        with self._engine.begin() as conn:
            old = _current_state(conn, worker_id)
            check_transition(old, new_state)
            # Guarded by the old state too: on SQLite nothing locked the row we read.
            query = update(worker_runtime).where(
                worker_runtime.c.worker_id == worker_id, worker_runtime.c.state == str(old)
            )
            if conn.execute(query.values(**values)).rowcount != 1:
                raise ConflictError(f"worker {worker_id!r} changed state meanwhile")
            text = f"{old} -> {new_state}: {message}" if message else f"{old} -> {new_state}"
            insert_log(conn, worker_id, "transition", text, level, at=now)
            return _fetch(conn, worker_id)

    def update(self, worker_id: str, **fields: Any) -> WorkerRuntime:
        """Set runtime fields without changing the state (metrics, heartbeat, desired state...)."""
        values = _values(fields, utcnow())
        query = update(worker_runtime).where(worker_runtime.c.worker_id == worker_id)
        with self._engine.begin() as conn:
            if conn.execute(query.values(**values)).rowcount == 0:
                raise NotFoundError(f"worker {worker_id!r} not found")
            return _fetch(conn, worker_id)

    def record_error(self, worker_id: str, message: str) -> WorkerRuntime:
        """Count an error, keep it as the last one, and log it."""
        now = utcnow()
        query = (
            update(worker_runtime)
            .where(worker_runtime.c.worker_id == worker_id)
            .values(
                error_count=worker_runtime.c.error_count + 1, last_error=message, updated_at=now
            )
        )
        with self._engine.begin() as conn:
            if conn.execute(query).rowcount == 0:
                raise NotFoundError(f"worker {worker_id!r} not found")
            insert_log(conn, worker_id, "error", message, "error", at=now)
            return _fetch(conn, worker_id)

    # Last in the class: after this, "list" in the class body means the method.
    def list(self) -> list[WorkerRuntime]:
        """Every worker's runtime, ordered by worker id."""
        query = select(worker_runtime).order_by(worker_runtime.c.worker_id)
        with self._engine.begin() as conn:
            return [_runtime(row) for row in conn.execute(query).mappings()]
