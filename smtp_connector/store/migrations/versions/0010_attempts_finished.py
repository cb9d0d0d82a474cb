"""outbox: an index for the last minute's outcomes (GET /v1/queue, /metrics)

`GET /v1/queue` and `/metrics` count the attempts that finished in the last minute. With only
`message_id` indexed, each count read every attempt ever recorded: a scrape's cost grew with
the table's age, and the benchmark's 100 ms poll of a 3,000-message run cost the SQLite
writer thread almost half as much as the queue's own writes. On (finished, outcome) the count
is a range scan of the last minute's rows, answered from the index alone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_attempts_finished", "outbox_attempts", ["finished", "outcome"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_attempts_finished", table_name="outbox_attempts")
