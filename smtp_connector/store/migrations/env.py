"""Alembic environment: always run from `migrate.py` with a live connection."""

from __future__ import annotations

from alembic import context

from smtp_connector.store.schema import METADATA

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic CLI
    raise RuntimeError("run migrations with `smtp-connector db upgrade`")

context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=True,  # SQLite can only ALTER through table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
