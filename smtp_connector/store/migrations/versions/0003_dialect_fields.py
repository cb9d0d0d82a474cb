"""definition fields two dialects round-trip: debug (seed 000), integration_id (seed 001)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("server_definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("debug", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("integration_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("server_definitions", schema=None) as batch_op:
        batch_op.drop_column("integration_id")
        batch_op.drop_column("debug")
