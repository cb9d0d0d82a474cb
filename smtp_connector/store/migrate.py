"""Alembic, run programmatically: the migrations ship inside the package, so `pip install`
plus `smtp-connector db upgrade` (or `serve` on SQLite) is the whole setup; no alembic.ini.

Every start of `serve` (and every store command) checks the schema, and nearly always finds
it current. Importing Alembic to learn that cost a quarter of `serve`'s start-up (its import
scans every installed package's entry points; issue 26 §5), so the check reads the version
table with one query and the head from the migration files' `revision`/`down_revision`
lines; Alembic is imported only when there is something to migrate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from smtp_connector.errors import ConnectorError, ErrorCode

from .database import Database

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^(down_revision|revision) = (?:\"([^\"]+)\"|None)$", re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest revision of the shipped migrations (the one no other revision follows)."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict((m[0], m[1]) for m in _REVISION.findall(script.read_text()))
        if fields.get("revision"):
            revisions.add(fields["revision"])
        if fields.get("down_revision"):
            followed.add(fields["down_revision"])
    heads = sorted(revisions - followed)
    if len(heads) > 1:  # two branches: a packaging mistake, never a user's
        raise RuntimeError(f"the shipped migrations have several heads: {heads}")
    return heads[0] if heads else None


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: never migrated), read from Alembic's table."""
    async with database.engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table yet
            return None
        versions = result.scalars().all()
    return versions[0] if len(versions) == 1 else None


async def prepare_schema(database: Database, *, migrate: bool | None = None) -> None:
    """Migrate (default on SQLite) or insist the schema is current (default on PostgreSQL,
    where several machines share the database and an operator runs `db upgrade` once)."""
    current, head = await current_revision(database), head_revision()
    if current == head:
        return
    if migrate if migrate is not None else database.is_sqlite:
        await upgrade(database)
        return
    raise ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"The database schema is at {current or 'nothing'}, this version needs "
        f"{head}: run `smtp-connector db upgrade --database-url ...` first.",
    )
