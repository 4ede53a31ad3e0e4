"""Local workers pinned to named CPUs: the cpu_ids of a worker config.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported: a revision must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Add the column; existing configs keep being placed by the master."""
    op.add_column("worker_configs", sa.Column("cpu_ids", JSON, nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("worker_configs") as batch:
        batch.drop_column("cpu_ids")
