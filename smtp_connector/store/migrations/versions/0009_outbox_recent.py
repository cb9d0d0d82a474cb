"""outbox: an index for an app's newest messages (GET /v1/apps/{id}/messages)

The admin page's queue panel asks for one app's messages newest first, a page at a time. With
only `app_id` indexed, the database sorts every row of the app for each page (84 ms at 110,000
rows on SQLite); on (app_id, created, id) a page is a range scan of `limit` rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_app_created", "outbox_messages", ["app_id", "created", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_app_created", table_name="outbox_messages")
