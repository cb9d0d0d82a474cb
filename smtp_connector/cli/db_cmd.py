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

    async def main() -> tuple[str | None, bool]:
        database = Database(resolve_url(database_url))
        try:
            await run_upgrade(database)
            revision = await current_revision(database)
        finally:
            await database.dispose()
        return revision, database.is_sqlite or await _queue_schema(resolve_url(database_url))

    revision, _ = asyncio.run(main())
    shown = safe_url(async_url(resolve_url(database_url)))
    click.echo(f"Database {shown} is at revision {revision} (current).")


async def _queue_schema(url: str) -> bool:
    """PostgreSQL: create procrastinate's tables (the queue engine) when they are missing."""
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        click.echo("procrastinate is not installed: queued sending needs the postgres extra.")
        return False
    from ..queue import Queue, QueueOptions

    queue = Queue(url, QueueOptions(engine="procrastinate"))
    try:
        assert queue.distributed is not None
        if await queue.distributed.apply_schema():
            click.echo("Created the queue's procrastinate tables.")
    finally:
        await queue.aclose()
    return True
