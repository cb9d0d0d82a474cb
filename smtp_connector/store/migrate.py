"""Alembic, run programmatically: the migrations ship inside the package, so `pip install`
plus `smtp-connector db upgrade` (or `serve` on SQLite) is the whole setup; no alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from smtp_connector.errors import ConnectorError, ErrorCode

from .database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def prepare_schema(database: Database, *, migrate: bool | None = None) -> None:
    """Migrate (default on SQLite) or insist the schema is current (default on PostgreSQL,
    where several machines share the database and an operator runs `db upgrade` once)."""
    if migrate if migrate is not None else database.is_sqlite:
        await upgrade(database)
        return
    current = await current_revision(database)
    if current != head_revision():
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"The database schema is at {current or 'nothing'}, this version needs "
            f"{head_revision()}: run `smtp-connector db upgrade --database-url ...` first.",
        )
