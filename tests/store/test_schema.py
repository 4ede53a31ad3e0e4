"""The migrations build exactly the schema of the models, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from corral.db import models
from corral.db.engine import make_engine
from corral.db.migrate import alembic_config, current_revision, head_revision, upgrade
from corral.db.models import Base
from corral.domain.workers import WorkerConfig
from corral.sealing import KeyRing
from corral.store.configs import ConfigStore

TABLES = {
    "worker_configs",
    "worker_runtime",
    "worker_logs",
    "jobs",
    "allocations",
    "attempts",
    "audit_log",
    "worker_samples",
    "alert_rules",
    "webhooks",
    "webhook_deliveries",
    "fleet_samples",
    "alembic_version",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database, not migrated yet."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_fresh_database_has_no_revision(engine: Engine) -> None:
    assert current_revision(engine) is None
    assert inspect(engine).get_table_names() == []


def test_upgrade_builds_the_models_schema(engine: Engine) -> None:
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES
    assert schema_diff(engine) == []
    assert current_revision(engine) == head_revision() == "0009"


def test_upgrade_creates_index_and_cascading_foreign_key(engine: Engine) -> None:
    upgrade(engine)
    inspector = inspect(engine)
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("worker_logs")}
    assert indexes == {"ix_worker_logs_worker_id_id": ["worker_id", "id"]}
    (fk,) = inspector.get_foreign_keys("worker_runtime")
    assert fk["referred_table"] == "worker_configs"
    assert fk["constrained_columns"] == ["worker_id"]
    assert fk["options"].get("ondelete") == "CASCADE"
    assert inspector.get_foreign_keys("worker_logs") == []


def test_foreign_key_cascades_on_both_backends(engine: Engine, ring: KeyRing) -> None:
    upgrade(engine)
    ConfigStore(engine, ring).create(WorkerConfig(worker_id="gone", name="Gone"))
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM worker_runtime")).scalar_one() == 1
        conn.execute(text("DELETE FROM worker_configs"))
        assert conn.execute(text("SELECT count(*) FROM worker_runtime")).scalar_one() == 0


def test_second_upgrade_changes_nothing(engine: Engine, ring: KeyRing) -> None:
    upgrade(engine)
    ConfigStore(engine, ring).create(WorkerConfig(worker_id="keep-me", name="Keep me"))
    upgrade(engine)
    assert current_revision(engine) == "0009"
    assert schema_diff(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(models.worker_configs.c.worker_id)).scalars().all() == [
            "keep-me"
        ]


def test_downgrade_to_base_then_upgrade_again(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert current_revision(engine) is None
    upgrade(engine)
    assert schema_diff(engine) == []
    assert current_revision(engine) == "0009"


def test_upgrade_from_0002_splits_reasons_into_code_and_detail(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    columns = "id, state, command, shell, env, secret_env, cpus, max_attempts, retry_delay_s, "
    columns += "priority, labels, attempt, attempt_base, cpu_ids, cancel_requested, "
    columns += "submitted_at, updated_at, reason"
    values = "'failed', '[]', false, '{}', '{}', 1, 1, 0, 0, '{}', 1, 0, '[]', false, "
    values += "'2026-11-30 10:00:00+00', '2026-11-30 10:00:00+00'"
    with engine.begin() as conn:
        for job_id, reason in ((1, "'exit_code: exit code 3'"), (2, "'timeout'"), (3, "NULL")):
            conn.execute(
                text(f"INSERT INTO jobs ({columns}) VALUES ({job_id}, {values}, {reason})")
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, reason, reason_detail, requeues, max_requeues FROM jobs ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "exit_code", "exit code 3", 0, 10),
        (2, "timeout", None, 0, 10),
        (3, None, None, 0, 10),
    ]


def test_configs_and_jobs_from_before_run_as_run_as_their_worker(
    engine: Engine, ring: KeyRing
) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    columns = "worker_id, name, deployment_type, max_accounts, labels, env, secret_env, launcher, "
    columns += "auto_start, auto_restart, max_restart_attempts, restart_delay_ms, "
    columns += "created_at, updated_at"
    values = "'old', 'Old', 'local', 1, '{}', '{}', '{}', '{}', true, true, 5, 1000, "
    values += "'2026-11-30 10:00:00+00', '2026-11-30 10:00:00+00'"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO worker_configs ({columns}) VALUES ({values})"))
    upgrade(engine)
    old = ConfigStore(engine, ring).get("old")
    assert (old.run_as, old.allowed_run_as) == (None, [])
