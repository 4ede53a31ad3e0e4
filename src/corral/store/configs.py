"""Worker configurations: what the operator declared, one row per worker."""

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, select, update

from corral.db import models
from corral.domain.clock import utcnow
from corral.domain.ids import check_worker_id
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime
from corral.errors import ConflictError, InvalidInputError, NotFoundError
from corral.sealing import KeyRing
from corral.store.secret_env import config_owner, open_env, seal_env

worker_configs = models.worker_configs
worker_runtime = models.worker_runtime

FIELDS = tuple(f.name for f in fields(WorkerConfig))
# The key and the timestamps belong to the store, not to the caller.
UPDATABLE = frozenset(FIELDS) - {"worker_id", "created_at", "updated_at"}
JSON_FIELDS = frozenset({"labels", "env", "secret_env", "launcher"})


def _config(row: RowMapping, ring: KeyRing) -> WorkerConfig:
    """A domain object from one row; JSON columns come back as fresh dicts, secrets opened."""
    values = {name: row[name] for name in FIELDS}
    for name in JSON_FIELDS:
        values[name] = dict(values[name] or {})
    values["secret_env"] = open_env(ring, values["secret_env"], config_owner(row["worker_id"]))
    values["allowed_run_as"] = list(values["allowed_run_as"] or [])
    if values["cpu_ids"] is not None:
        values["cpu_ids"] = list(values["cpu_ids"])
    values["deployment_type"] = DeploymentType(values["deployment_type"])
    return WorkerConfig(**values)


def _coerce(name: str, value: Any) -> Any:
    """The column value for one field, refusing what the column must not hold."""
    if name == "deployment_type":
        try:
            return str(DeploymentType(value))
        except ValueError:
            allowed = [str(t) for t in DeploymentType]
            raise InvalidInputError(
                f"unknown deployment type {value!r}: use one of {allowed}"
            ) from None
    if name in JSON_FIELDS:
        if not isinstance(value, Mapping):
            raise InvalidInputError(f"{name} must be a mapping, got {type(value).__name__}")
        if name == "secret_env" and not all(isinstance(v, str) for v in value.values()):
            raise InvalidInputError("secret_env values must be strings")
        return dict(value)
    if name == "allowed_run_as":
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise InvalidInputError("allowed_run_as must be a list of user names")
        return list(value)
    if name == "cpu_ids" and value is not None:
        if isinstance(value, str) or not all(type(v) is int and v >= 0 for v in value):
            raise InvalidInputError("cpu_ids must be a list of CPU numbers")
        return sorted(set(value))
    return value


class ConfigStore:
    """Create, read, change and delete worker configurations; secrets are sealed by ``ring``."""

    def __init__(self, engine: Engine, ring: KeyRing) -> None:
        self._engine = engine
        self._ring = ring

    def _columns(self, worker_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Column values of some fields, checked, with secret values sealed."""
        values = {name: _coerce(name, value) for name, value in fields.items()}
        if "secret_env" in values:
            owner = config_owner(worker_id)
            values["secret_env"] = seal_env(self._ring, values["secret_env"], owner)
        return values

    def _fetch(self, conn: Connection, worker_id: str) -> WorkerConfig:
        """Read one config inside the caller's transaction."""
        query = select(worker_configs).where(worker_configs.c.worker_id == worker_id)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"worker {worker_id!r} not found")
        return _config(row, self._ring)

    def create(self, cfg: WorkerConfig) -> WorkerConfig:
        """Store a new config and its runtime row (stopped); ConflictError if the id is taken."""
        check_worker_id(cfg.worker_id)
        now = utcnow()
        values = self._columns(cfg.worker_id, asdict(cfg))
        values |= {"created_at": now, "updated_at": now}
        runtime = asdict(WorkerRuntime(worker_id=cfg.worker_id, updated_at=now))
        with self._engine.begin() as conn:
            taken = select(worker_configs.c.worker_id).where(
                worker_configs.c.worker_id == cfg.worker_id
            )
            if conn.execute(taken).first() is not None:
                raise ConflictError(f"worker {cfg.worker_id!r} already exists")
            conn.execute(insert(worker_configs).values(**values))
            conn.execute(insert(worker_runtime).values(**runtime))
            return self._fetch(conn, cfg.worker_id)

    def get(self, worker_id: str) -> WorkerConfig:
        """One config; NotFoundError if there is none."""
        with self._engine.begin() as conn:
            return self._fetch(conn, worker_id)

    def update(self, worker_id: str, changes: Mapping[str, Any]) -> WorkerConfig:
        """Change some fields of a config and return the result; updated_at moves on."""
        unknown = sorted(set(changes) - UPDATABLE)
        if unknown:
            raise InvalidInputError(f"cannot change worker config fields {unknown}")
        values = self._columns(worker_id, changes)
        values["updated_at"] = utcnow()
        query = update(worker_configs).where(worker_configs.c.worker_id == worker_id)
        with self._engine.begin() as conn:
            if conn.execute(query.values(**values)).rowcount == 0:
                raise NotFoundError(f"worker {worker_id!r} not found")
            return self._fetch(conn, worker_id)

    def delete(self, worker_id: str) -> None:
        """Delete a config and its runtime row; its log history stays."""
        with self._engine.begin() as conn:
            # The foreign key cascades too; deleting by hand does not depend on it.
            conn.execute(delete(worker_runtime).where(worker_runtime.c.worker_id == worker_id))
            query = delete(worker_configs).where(worker_configs.c.worker_id == worker_id)
            if conn.execute(query).rowcount == 0:
                raise NotFoundError(f"worker {worker_id!r} not found")

    def auto_start(self) -> list[WorkerConfig]:
        """The configs to start when the master starts, ordered by worker id."""
        query = (
            select(worker_configs)
            .where(worker_configs.c.auto_start)
            .order_by(worker_configs.c.worker_id)
        )
        with self._engine.begin() as conn:
            return [_config(row, self._ring) for row in conn.execute(query).mappings()]

    def count(self) -> int:
        """How many workers are configured."""
        with self._engine.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(worker_configs)).scalar_one())

    # Last in the class: after this, "list" in the class body means the method.
    def list(self) -> list[WorkerConfig]:
        """Every config, ordered by worker id."""
        query = select(worker_configs).order_by(worker_configs.c.worker_id)
        with self._engine.begin() as conn:
            return [_config(row, self._ring) for row in conn.execute(query).mappings()]
