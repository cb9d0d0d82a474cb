"""outbox: drop the index on `app_id` alone, which two other indexes cover

Every enqueue wrote four indexes of `outbox_messages` besides its primary key. The one on
`app_id` alone (0004) answers nothing the others do not: `app_id` is the first column of
`uq_outbox_idempotency` (app_id, idempotency_key) and of `ix_outbox_app_created` (app_id,
created, id, 0009), and each query on an app's rows (its newest messages, its idempotency
key, its counts) searches one of those. Without it an enqueue inserts one index entry less
(about 5,000 instructions of SQLite's work a message; issue 26 §1). The downgrade builds it
again from the rows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_messages_app_id", table_name="outbox_messages")


def downgrade() -> None:
    op.create_index("ix_outbox_messages_app_id", "outbox_messages", ["app_id"], unique=False)
