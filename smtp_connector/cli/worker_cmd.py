"""`smtp-connector worker`: deliver queued messages, without the HTTP API.

On PostgreSQL this is a procrastinate worker (run one per machine, or several: they share the
work with SKIP LOCKED and never take each other's messages); on SQLite it is the embedded
worker on its own (useful when `serve` runs with SMTP_CONNECTOR_QUEUE_WORKER=0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging.config
import os
import signal
from collections.abc import Callable

import click

from .app import handles_errors, main
from .serve_cmd import LOG_LEVELS
from .store_common import database_url_option, loop_option, need_server_extra, resolve_url

# Opt-in: a worker that lowered itself unasked would also yield to everything else on a busy
# host (the auth service's own processes), and a code mailed seconds late is late for a user.
DEFAULT_NICE = 0
NICE_ENV = "SMTP_CONNECTOR_WORKER_NICE"


@main.command()
@database_url_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=None,
    help="Sends in flight, 1-1000 [default: 16; also $SMTP_CONNECTOR_QUEUE_CONCURRENCY].",
)
@click.option("--name", default=None, help="Worker name (default: engine@host:pid:random).")
@loop_option
@click.option(
    "--engine",
    type=click.Choice(["auto", "embedded", "procrastinate"]),
    default=None,
    help="Queue engine; auto: procrastinate on PostgreSQL, embedded on SQLite "
    "[default: auto; also $SMTP_CONNECTOR_QUEUE_ENGINE].",
)
@click.option(
    "--nice",
    type=click.IntRange(0, 19),
    default=None,
    help="Lower the worker's CPU priority (nice) to at least this, 0-19: where serve, the "
    "database and workers share the cores, 10 lets requests waiting for their 202 go first; "
    "0 leaves it as started "
    f"[default: {DEFAULT_NICE}; also ${NICE_ENV}].",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="warning",
    show_default=True,
    help="What the worker logs to stderr: warnings are recoveries (rows of dead workers, "
    "stalled jobs) and failed deliveries; info adds every attempt.",
)
@handles_errors
def worker(
    database_url: str | None,
    concurrency: int | None,
    name: str | None,
    loop: str,
    engine: str | None,
    nice: int | None,
    log_level: str,
) -> None:
    """Deliver queued messages until SIGTERM/SIGINT (in-flight sends are finished first)."""
    # First, while this is the only thread: Linux keeps a nice value per thread, and threads
    # started later (the loop's executor, psycopg's) take their creator's.
    yield_cpu(nice_level(nice))
    need_server_extra()
    url = resolve_url(database_url)
    from ..delivery.pool import freeze_gc_after_warmup
    from ..server import Settings
    from ..server.access_log import log_config
    from ..server.app import open_service

    # serve's handlers and redaction (uvicorn configures them there): without them the
    # package's NullHandler kept a worker's recoveries and failures out of every log.
    logging.config.dictConfig(log_config(log_level))

    settings = Settings.from_env(
        database_url=url, queue_concurrency=concurrency, queue_engine=engine
    )

    freeze_gc_after_warmup()  # a long-running sender: warm objects out of the collector's way

    async def run() -> None:
        service, queue = await open_service(settings)
        service.keep_fresh()  # versions re-read in the background, not before a delivery
        try:
            if queue.distributed is not None:
                await queue.distributed.require_schema()
            click.echo(f"worker started ({queue.engine}, concurrency {settings.queue_concurrency})",
                       err=True)  # fmt: skip
            if queue.distributed is None:
                _stop_on_signals(asyncio.current_task())
            await queue.run_worker(name=name)
        finally:
            await service.aclose()

    with (
        contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt),
        asyncio.Runner(loop_factory=loop_factory(loop)) as runner,
    ):
        runner.run(run())


def nice_level(option: int | None) -> int:
    """`--nice`, else $SMTP_CONNECTOR_WORKER_NICE, else the default; a bad value is refused
    with the range, before anything starts."""
    if option is not None:
        return option
    raw = os.environ.get(NICE_ENV, "").strip()
    if not raw:
        return DEFAULT_NICE
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 19:
        shown = raw if len(raw) <= 32 else raw[:32] + "…"  # a value pasted by mistake: its start
        raise click.UsageError(f"{NICE_ENV} must be a whole number from 0 to 19, not {shown!r}.")
    return value


def yield_cpu(level: int) -> None:
    """Raise this process's nice value to `level` (never lower it: that needs privileges).

    Asked for (`--nice`), because it is a host's trade-off: where `serve`, the database and
    workers share the cores, workers at the same priority took half the CPU from under the
    requests and doubled the enqueue's latency (issue 26 §1, docs/performance-rounds.md); at
    nice 10 they use what the requests leave and catch up between bursts. On a host of their
    own nothing changes; on one busy with other work they would wait for it too."""
    if level <= 0 or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):  # a sandbox that refuses it: run as before
        if os.getpriority(os.PRIO_PROCESS, 0) < level:
            os.setpriority(os.PRIO_PROCESS, 0, level)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for `uvloop`, and for `auto` when it is installed (as uvicorn picks)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise click.UsageError("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def _stop_on_signals(task: asyncio.Task[None] | None) -> None:
    """SIGTERM/SIGINT cancel the embedded worker's loop; it then lets sends in flight end."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
