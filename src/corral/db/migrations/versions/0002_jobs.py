"""Jobs and the allocations their running attempts hold.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported: a revision must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE = sa.text("state IN ('pending', 'assigned', 'running')")


def _create_jobs() -> None:
    """Every job, its spec and its current attempt."""
    op.create_table(
        "jobs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("command", JSON, nullable=False),
        sa.Column("shell", sa.Boolean(), nullable=False),
        sa.Column("env", JSON, nullable=False),
        sa.Column("secret_env", JSON, nullable=False),
        sa.Column("cwd", sa.Text(), nullable=True),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempt_base", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(63), nullable=True),
        sa.Column("instance_id", sa.String(36), nullable=True),
        sa.Column("cpu_ids", JSON, nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_start", sa.BigInteger(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", UTC_DATETIME, nullable=False),
        sa.Column("assigned_at", UTC_DATETIME, nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("not_before", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("idempotency_key", name="uq_jobs_idempotency_key"),
    )
    op.create_index(
        "ix_jobs_active",
        "jobs",
        ["state", "priority", "id"],
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index("ix_jobs_state_id", "jobs", ["state", "id"])
    op.create_index("ix_jobs_worker_id_id", "jobs", ["worker_id", "id"])
    op.create_index("ix_jobs_account_id", "jobs", ["account", "id"])
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def _create_allocations() -> None:
    """The CPUs and account each running attempt holds."""
    op.create_table(
        "allocations",
        sa.Column("job_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(63), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=True),
        sa.Column("cpu_ids", JSON, nullable=False),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("since", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_allocations"),
    )
    op.create_index("ix_allocations_worker_id", "allocations", ["worker_id"])


def upgrade() -> None:
    """Create the job tables."""
    _create_jobs()
    _create_allocations()


def downgrade() -> None:
    """Drop the job tables."""
    op.drop_table("allocations")
    op.drop_table("jobs")
