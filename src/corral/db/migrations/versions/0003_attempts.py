"""Attempts kept one row each; reasons as a code plus a detail; requeues counted apart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported: a revision must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _add_job_columns() -> None:
    """Requeues spent and allowed, a memory limit, and the detail of the reason."""
    op.add_column("jobs", sa.Column("reason_detail", sa.Text(), nullable=True))
    op.add_column(
        "jobs", sa.Column("max_requeues", sa.Integer(), nullable=False, server_default="10")
    )
    op.add_column("jobs", sa.Column("requeues", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("jobs", sa.Column("memory_mb", sa.Integer(), nullable=True))
    op.add_column("worker_runtime", sa.Column("containment", sa.String(40), nullable=True))


def _split_reasons() -> None:
    """'exit_code: exit code 3' becomes the code 'exit_code' and the detail 'exit code 3'."""
    conn = op.get_bind()
    jobs = sa.table("jobs", sa.column("id"), sa.column("reason"), sa.column("reason_detail"))
    rows = conn.execute(sa.select(jobs.c.id, jobs.c.reason).where(jobs.c.reason.like("%: %"))).all()
    changes = [
        {"_id": row.id, "code": code, "detail": detail}
        for row in rows
        for code, _, detail in [row.reason.partition(": ")]
    ]
    if changes:
        conn.execute(
            jobs.update()
            .where(jobs.c.id == sa.bindparam("_id"))
            .values(reason=sa.bindparam("code"), reason_detail=sa.bindparam("detail")),
            changes,
        )


def _create_attempts() -> None:
    """How each attempt of each job ended."""
    op.create_table(
        "attempts",
        sa.Column("job_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(63), nullable=True),
        sa.Column("instance_id", sa.String(36), nullable=True),
        sa.Column("cpu_ids", JSON, nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("assigned_at", UTC_DATETIME, nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requeued", sa.Boolean(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("reason_detail", sa.Text(), nullable=True),
        sa.Column("max_rss_bytes", sa.BigInteger(), nullable=True),
        sa.Column("cpu_seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_attempts_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "attempt", name="pk_attempts"),
    )


def upgrade() -> None:
    """Add the columns, split the stored reasons, create the attempts table."""
    _add_job_columns()
    _split_reasons()
    _create_attempts()


def downgrade() -> None:
    """Join reasons again and drop what upgrade added."""
    op.drop_table("attempts")
    conn = op.get_bind()
    jobs = sa.table("jobs", sa.column("reason"), sa.column("reason_detail"))
    conn.execute(
        jobs.update()
        .where(jobs.c.reason_detail.is_not(None))
        .values(reason=jobs.c.reason + ": " + jobs.c.reason_detail)
    )
    with op.batch_alter_table("worker_runtime") as batch:
        batch.drop_column("containment")
    with op.batch_alter_table("jobs") as batch:
        for column in ("memory_mb", "requeues", "max_requeues", "reason_detail"):
            batch.drop_column(column)
