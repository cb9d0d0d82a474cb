"""What the store commands share: `--database-url`, and running one coroutine against an
opened `Service` (migrations and keys handled as `serve` does), with one line naming both
install forms when an extra they need (`server`, `postgres` for a PostgreSQL URL) is missing."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ConnectorError, ErrorCode, install_hint

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
# What each extra must bring for the commands to run (import names, not distribution names).
EXTRA_MODULES = {
    "server": ("fastapi", "uvicorn", "sqlalchemy", "aiosqlite", "alembic", "cryptography"),
    "postgres": ("psycopg",),
}


LOOP_ENV = "SMTP_CONNECTOR_LOOP"

loop_option = click.option(
    "--loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default=lambda: os.environ.get(LOOP_ENV, "auto"),
    show_default="auto: uvloop when installed",
    help=f"Event loop (also ${LOOP_ENV}).",
)


def need_extra(extra: str, why: str | None = None) -> None:
    """Refuse in one line, naming both install forms, when `extra`'s modules are missing
    (checked before anything imports them, so never a ModuleNotFoundError traceback)."""
    missing = [name for name in EXTRA_MODULES[extra] if not _importable(name)]
    if missing:
        context = click.get_current_context(silent=True)
        who = f"`{context.command_path}`" if context is not None else "This command"
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{who} needs the {extra} extra{why or ''} ({', '.join(missing)} not installed): "
            + install_hint(extra),
        )


def need_server_extra() -> None:
    need_extra("server")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package that cannot be imported
        return False


def resolve_url(database_url: str | None) -> str:
    """The database URL (flag, environment, default), after checking the extras it needs."""
    need_server_extra()
    from ..store import DEFAULT_DATABASE_URL

    url = database_url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    if url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres"):
        need_extra("postgres", " for a PostgreSQL database")
    return url


class ScopeChoice(click.Choice):
    """The API key scopes the store defines (`smtp_connector.store.SCOPES`), read when first
    needed: a scope added there is offered here without a CLI change, and the CLI does not
    import the store (and its extra) to start."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from ..store import SCOPES

        return tuple(sorted(SCOPES))

    @choices.setter
    def choices(self, _value: Any) -> None:
        """Click's __init__ assigns the choices; they come from the store instead."""


def run_with_service(
    database_url: str | None, action: Callable[[Service], Awaitable[T]], **open_args: Any
) -> T:
    """Open the store, run `action(service)`, close the store."""
    url = resolve_url(database_url)
    from ..store import Service
    from ..store.secrets import SECRET_KEY_ENV

    async def main() -> T:
        service = await Service.open(url, os.environ.get(SECRET_KEY_ENV), **open_args)
        try:
            return await action(service)
        finally:
            await service.aclose()

    return asyncio.run(main())
