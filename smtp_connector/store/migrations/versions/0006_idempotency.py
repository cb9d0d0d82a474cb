"""idempotency: direct-send outcomes by Idempotency-Key, and the request hash of queued ones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_sends",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "idempotency_key"),
    )
    op.create_index("ix_idempotent_sends_expires_at", "idempotent_sends", ["expires_at"])
    # Rows queued before this revision have no hash: a repeat of their key is not compared.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("request_hash")
    op.drop_index("ix_idempotent_sends_expires_at", table_name="idempotent_sends")
    op.drop_table("idempotent_sends")
