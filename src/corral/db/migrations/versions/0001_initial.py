"""Initial schema: worker configs, worker runtime and worker logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported: a revision must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)


def _create_worker_configs() -> None:
    """What the operator declared about each worker."""
    op.create_table(
        "worker_configs",
        sa.Column("worker_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("deployment_type", sa.String(20), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("cpus", sa.Integer(), nullable=True),
        sa.Column("max_accounts", sa.Integer(), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("env", JSON, nullable=False),
        sa.Column("secret_env", JSON, nullable=False),
        sa.Column("launcher", JSON, nullable=False),
        sa.Column("auto_start", sa.Boolean(), nullable=False),
        sa.Column("auto_restart", sa.Boolean(), nullable=False),
        sa.Column("max_restart_attempts", sa.Integer(), nullable=False),
        sa.Column("restart_delay_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_worker_configs"),
    )


def _create_worker_runtime() -> None:
    """What the master last observed about each worker; goes with its config."""
    op.create_table(
        "worker_runtime",
        sa.Column("worker_id", sa.String(63), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("desired_state", sa.String(20), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("container_id", sa.String(200), nullable=True),
        sa.Column("instance_id", sa.String(36), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
        sa.Column("last_heartbeat_at", UTC_DATETIME, nullable=True),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("cpu_ids", JSON, nullable=False),
        sa.Column("cpus_allocated", sa.Integer(), nullable=False),
        sa.Column("accounts_allocated", sa.Integer(), nullable=False),
        sa.Column("active_jobs", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("restart_count", sa.Integer(), nullable=False),
        sa.Column("next_restart_at", UTC_DATETIME, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("exit_signal", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["worker_configs.worker_id"],
            name="fk_worker_runtime_worker_id_worker_configs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", name="pk_worker_runtime"),
    )


def _create_worker_logs() -> None:
    """Each worker's event history; no foreign key, so it outlives a deleted config."""
    op.create_table(
        "worker_logs",
        # INTEGER on SQLite so the key is the rowid and autoincrements.
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("worker_id", sa.String(63), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_worker_logs"),
    )
    # Paging one worker's history newest first reads this index only.
    op.create_index("ix_worker_logs_worker_id_id", "worker_logs", ["worker_id", "id"])


def upgrade() -> None:
    """Create the three tables."""
    _create_worker_configs()
    _create_worker_runtime()
    _create_worker_logs()


def downgrade() -> None:
    """Drop the three tables, children first."""
    op.drop_index("ix_worker_logs_worker_id_id", table_name="worker_logs")
    op.drop_table("worker_logs")
    op.drop_table("worker_runtime")
    op.drop_table("worker_configs")
