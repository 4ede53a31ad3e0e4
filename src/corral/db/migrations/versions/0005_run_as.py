"""Jobs run as a named user: who a worker runs its jobs as, whom else they may name.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported: a revision must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# "user:group", each name at most 32 characters.
RUN_AS = sa.String(65)


def upgrade() -> None:
    """Add the columns; existing workers and jobs keep running as the worker's user."""
    op.add_column("worker_configs", sa.Column("run_as", RUN_AS, nullable=True))
    op.add_column("worker_configs", sa.Column("allowed_run_as", JSON, nullable=True))
    op.add_column("worker_runtime", sa.Column("user", RUN_AS, nullable=True))
    op.add_column("jobs", sa.Column("run_as", RUN_AS, nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("run_as")
    with op.batch_alter_table("worker_runtime") as batch:
        batch.drop_column("user")
    with op.batch_alter_table("worker_configs") as batch:
        batch.drop_column("allowed_run_as")
        batch.drop_column("run_as")
