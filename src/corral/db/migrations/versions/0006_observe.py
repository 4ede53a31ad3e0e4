"""Metrics history: per-worker and fleet samples, at two resolutions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLEET_FIGURES = (
    "jobs_pending",
    "jobs_running",
    "pending_cpus",
    "workers_running",
    "succeeded_per_min",
    "failed_per_min",
    "timed_out_per_min",
    "cancelled_per_min",
)
FLEET_LATENCIES = ("queue_wait_p50_s", "queue_wait_p95_s", "run_p50_s", "run_p95_s")


def upgrade() -> None:
    """Create worker_samples and fleet_samples."""
    op.create_table(
        "worker_samples",
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("cpus_allocated", sa.Float(), nullable=False),
        sa.Column("jobs_running", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("step_s", "at", "worker_id", name="pk_worker_samples"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "fleet_samples",
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in FLEET_FIGURES),
        *(sa.Column(name, sa.Float(), nullable=True) for name in FLEET_LATENCIES),
        sa.PrimaryKeyConstraint("step_s", "at", name="pk_fleet_samples"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop the history tables."""
    op.drop_table("fleet_samples")
    op.drop_table("worker_samples")
