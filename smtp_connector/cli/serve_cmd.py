"""`smtp-connector serve`: the admin API under uvicorn."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
from typing import TYPE_CHECKING

import click

from .app import EXIT_CONFIG, handles_errors, main
from .listen import bind_listeners, port_option
from .store_common import database_url_option, loop_option, need_server_extra, resolve_url

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from ..server import Settings

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


@main.command()
@click.option(
    "--host", default=None, help="Interface to listen on [default: 127.0.0.1; 0.0.0.0 for all]."
)
@port_option(
    default=None,
    free_port_ok=True,
    help="Port to listen on [default: 8025; 0 picks a free one, shown in the log].",
)
@database_url_option
@loop_option
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="uvicorn's log level (access log at info).",
)
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
    """Run the admin API (native /v1 and the dialect routes) and the admin page on HOST:PORT."""
    gc.disable()  # until the app is up: server/heap.py freezes what start-up built, then enables
    need_server_extra()
    url = resolve_url(database_url)
    from ..server import Settings

    settings = Settings.from_env(host=host, port=port, database_url=url, queue_worker=worker)
    # Bound before anything else starts: a port in use is one line, and nothing was opened.
    sockets = bind_listeners(settings.host, settings.port)
    try:
        _run(settings, sockets, loop, log_level)
    finally:
        for sock in sockets:
            sock.close()


def _run(settings: Settings, sockets: list[socket.socket], loop: str, log_level: str) -> None:
    """uvicorn on the sockets bound above, on the event loop it would make itself. A start-up
    failure after the store opened (the app's lifespan) exits 2, not uvicorn's 3, which the
    CLI's exit codes give to template errors."""
    import uvicorn

    from ..server import create_app
    from ..server.runner import uvicorn_config  # timeouts, proxies, logging: server-side

    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings, loop=loop, log_level=log_level))
    try:
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(_serve(server, app, sockets))
    except KeyboardInterrupt:
        pass
    except SystemExit as stop:
        if stop.code not in (None, 0):
            sys.exit(EXIT_CONFIG)
        raise
    if not server.started:
        sys.exit(EXIT_CONFIG)


async def _serve(server: uvicorn.Server, app: FastAPI, sockets: list[socket.socket]) -> None:
    """Fail before serving (bad URL, missing key, old schema, missing queue tables: the
    store's own one-line errors), then serve with the store and queue opened here: one
    opening of the database, on the loop that serves, not a check and then the app's own."""
    from ..server.app import open_early

    await open_early(app)
    host, port = sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    logging.getLogger("uvicorn.error").info(
        "smtp-connector serve on http://%s:%d (admin page /, API docs /docs; Ctrl+C to stop)",
        shown,
        port,
    )
    await server.serve(sockets=sockets)
