"""What the store commands share: `--database-url`, and running one coroutine against an
opened `Service` (migrations and keys handled as `serve` does), with a clear message when the
`server` extra is not installed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..store import Service

T = TypeVar("T")
DATABASE_URL_ENV = "SMTP_CONNECTOR_DATABASE_URL"

database_url_option = click.option(
    "--database-url",
    default=None,
    help=f"sqlite:///PATH or postgresql://user@host/db (default: ${DATABASE_URL_ENV}, "
    "else sqlite:///./smtp-connector.db).",
)


LOOP_ENV = "SMTP_CONNECTOR_LOOP"

loop_option = click.option(
    "--loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default=lambda: os.environ.get(LOOP_ENV, "auto"),
    show_default="auto: uvloop when installed",
    help=f"Event loop (also ${LOOP_ENV}).",
)


def need_server_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "This command needs the service dependencies: pip install 'smtp-connector[server]'"
        ) from None


def resolve_url(database_url: str | None) -> str:
    from ..store import DEFAULT_DATABASE_URL

    return database_url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def run_with_service(
    database_url: str | None, action: Callable[[Service], Awaitable[T]], **open_args: Any
) -> T:
    """Open the store, run `action(service)`, close the store."""
    need_server_extra()
    from ..store import Service
    from ..store.secrets import SECRET_KEY_ENV

    async def main() -> T:
        service = await Service.open(
            resolve_url(database_url), os.environ.get(SECRET_KEY_ENV), **open_args
        )
        try:
            return await action(service)
        finally:
            await service.aclose()

    return asyncio.run(main())
