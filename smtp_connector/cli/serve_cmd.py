"""`smtp-connector serve`: the admin API under uvicorn."""

from __future__ import annotations

import asyncio

import click

from .app import handles_errors, main
from .store_common import database_url_option, loop_option, need_server_extra


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8025).")
@database_url_option
@loop_option
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Deliver queued messages in this process too (default: yes on SQLite, no on "
    "PostgreSQL, where `smtp-connector worker` processes do it). "
    "Also $SMTP_CONNECTOR_QUEUE_WORKER.",
)
@handles_errors
def serve(
    host: str | None,
    port: int | None,
    database_url: str | None,
    loop: str,
    log_level: str,
    worker: bool | None,
) -> None:
    """Run the admin API (native /v1 and the dialect routes) on HOST:PORT."""
    need_server_extra()
    from ..server import Settings, create_app
    from ..server.app import build_queue
    from ..server.runner import run
    from ..store import Service

    settings = Settings.from_env(
        host=host, port=port, database_url=database_url, queue_worker=worker
    )

    async def preflight() -> None:
        """Fail before binding the port: bad URL, missing key (PostgreSQL), old schema,
        missing queue tables."""
        service = await Service.open(
            settings.database_url, settings.secret_key, migrate=settings.migrate
        )
        await service.aclose()
        queue = build_queue(settings)
        try:
            if queue.distributed is not None:
                await queue.distributed.require_schema()
        finally:
            await queue.aclose()

    asyncio.run(preflight())
    run(create_app(settings), settings, loop=loop, log_level=log_level)
