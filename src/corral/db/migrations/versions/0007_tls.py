"""Workers trust their master over TLS: a CA bundle, or a pin of its certificate.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns; existing workers keep trusting the system's CAs."""
    op.add_column("worker_configs", sa.Column("master_ca", sa.String(4096), nullable=True))
    op.add_column("worker_configs", sa.Column("master_fingerprint", sa.String(102), nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("worker_configs") as batch:
        batch.drop_column("master_fingerprint")
        batch.drop_column("master_ca")
