"""runs.active_s and runs.running_since: time spent training, without the time a run sat queued or cancelled

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL active_s: a run from before this revision (its elapsed time is still end - start)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("running_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("running_since")
        batch_op.drop_column("active_s")
