"""`smtp-connector db upgrade`: bring the database schema to this version's."""

from __future__ import annotations

import asyncio

import click

from .app import handles_errors, main
from .store_common import database_url_option, need_server_extra, resolve_url


@main.group()
def db() -> None:
    """Database schema (Alembic migrations shipped in the package)."""


@db.command("upgrade")
@database_url_option
@handles_errors
def upgrade(database_url: str | None) -> None:
    """Apply pending migrations (serve does this itself on SQLite)."""
    need_server_extra()
    from ..store.database import Database
    from ..store.migrate import current_revision
    from ..store.migrate import upgrade as run_upgrade
    from ..store.urls import async_url, safe_url

    async def main() -> str | None:
        database = Database(resolve_url(database_url))
        try:
            await run_upgrade(database)
            return await current_revision(database)
        finally:
            await database.dispose()

    revision = asyncio.run(main())
    shown = safe_url(async_url(resolve_url(database_url)))
    click.echo(f"Database {shown} is at revision {revision} (current).")
