"""The outbox tables: one row per queued message, one row per delivery attempt.

The row is the source of truth for a message's state whatever engine runs the work (the
embedded worker, or procrastinate on PostgreSQL, whose job only carries the row's id). Times
are epoch seconds (floats): the same comparisons on SQLite and PostgreSQL, no time zones.
The tables are created by the store's Alembic revisions 0004, 0006 (`request_hash`), 0009
(the index of an app's newest messages), 0010 (the last minute's outcomes) and 0011 (no index
on `app_id` alone: it leads two others); these definitions must match them.

`data_at` is the never-twice marker: set (and committed) right before a message's content is
written to the server. A claimed row whose lease ran out with `data_at` empty never reached
DATA and is safe to send again; one with `data_at` set may already be with the server, so it
is not sent again automatically.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

STATUSES = ("queued", "sending", "sent", "failed", "abandoned")

outbox = Table(
    "outbox_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),  # indexed first in two (0011)
    Column("definition_ids", JSON, nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("usage_type", String(100), nullable=False),
    Column("payload", JSON),  # cleared once the message is final: codes do not linger
    Column("locale", String(35)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float),
    Column("worker_id", String(200)),
    Column("data_at", Float),
    Column("idempotency_key", String(200)),
    Column("request_hash", String(64)),  # SHA-256 of the request: a reused key must match
    Column("expires_at", Float, nullable=False),
    Column("last_error", JSON),
    Column("message_id", String(255)),
    Column("server", String(255)),
    Column("definition_id", String(64)),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("finished", Float),
    UniqueConstraint("app_id", "idempotency_key", name="uq_outbox_idempotency"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_app_created", "app_id", "created", "id"),  # an app's newest (0009)
)

attempts = Table(
    "outbox_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(32), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("worker_id", String(200)),
    Column("started", Float, nullable=False),
    Column("finished", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | retry | failed | abandoned | unknown
    Column("error_code", String(40)),
    Column("smtp_code", Integer),
    Column("server", String(255)),
    Column("detail", Text),
    Index("ix_outbox_attempts_finished", "finished", "outcome"),  # the last minute's (0010)
)
