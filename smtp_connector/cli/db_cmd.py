"""`smtp-connector db upgrade`: bring the database schema to this version's."""

from __future__ import annotations

import asyncio

import click

from .app import echo_json, handles_errors, json_option, main
from .store_common import database_url_option, need_server_extra, resolve_url


@main.group()
@handles_errors
def db() -> None:
    """Database schema (Alembic migrations shipped in the package)."""
    need_server_extra()


@db.command("upgrade")
@database_url_option
@json_option
@handles_errors
def upgrade(database_url: str | None, as_json: bool) -> None:
    """Apply pending migrations (serve does this itself on SQLite)."""
    url = resolve_url(database_url)
    from sqlalchemy.exc import DBAPIError

    from ..store.database import Database, unavailable
    from ..store.migrate import current_revision
    from ..store.migrate import upgrade as run_upgrade
    from ..store.urls import async_url, safe_url

    async def main() -> tuple[str | None, str | None]:
        database = Database(url)
        try:
            await run_upgrade(database)
            revision = await current_revision(database)
        except DBAPIError as exc:  # unreachable, no such database, refused: one line
            raise unavailable(database.url, exc) from None
        finally:
            await database.dispose()
        return revision, None if database.is_sqlite else await _queue_schema(url)

    revision, queue_tables = asyncio.run(main())
    shown = safe_url(async_url(url))
    if as_json:
        echo_json({"database": shown, "revision": revision, "queue_tables": queue_tables})
        return
    click.echo(f"Database {shown} is at revision {revision} (current).")
    if queue_tables == "created":
        click.echo("Created the queue's procrastinate tables.")
    elif queue_tables == "not installed":
        click.echo("procrastinate is not installed: queued sending needs the postgres extra.")


async def _queue_schema(url: str) -> str:
    """PostgreSQL: create procrastinate's tables (the queue engine) when they are missing;
    says which: "created", "present" or "not installed"."""
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        return "not installed"
    from ..queue import Queue, QueueOptions

    queue = Queue(url, QueueOptions(engine="procrastinate"))
    try:
        assert queue.distributed is not None
        return "created" if await queue.distributed.apply_schema() else "present"
    finally:
        await queue.aclose()
