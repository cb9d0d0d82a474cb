"""One async engine and session factory per database URL.

SQLite gets WAL (readers never wait for the writer), a busy timeout (concurrent writers wait
instead of failing with "database is locked") and enforced foreign keys (deleting an app
removes its definitions); PostgreSQL needs none of that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from smtp_connector.errors import ConnectorError, ErrorCode

from .async_engine import create_async_engine
from .urls import async_url, is_sqlite, safe_url, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class Database:
    """The engine for one URL; `transaction()` is the unit of work of the services that work
    with ORM rows (tables.py); what an idle or sending `serve` runs uses `engine` with Core
    statements (schema.py), and the ORM session factory is made with the first `transaction()`,
    SQLAlchemy's ORM imported then (async_engine.py)."""

    _sessions: async_sessionmaker[AsyncSession] | None = None

    def __init__(self, raw_url: str) -> None:
        self.url = async_url(raw_url)
        self.is_sqlite = is_sqlite(self.url)
        # `hide_parameters`: a statement's values (app ids, API-key digests, a template's
        # text) never reach an error's text, hence no log line (the queue's engines do the same).
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite, "hide_parameters": True}
        if not self.is_sqlite:
            # No store column is HSTORE: without this the dialect's first connection asks the
            # server for the type (a round trip in every PostgreSQL `serve`'s start).
            kwargs["use_native_hstore"] = False
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The ORM session factory, made on first use (no `await` in between: made once)."""
        if self._sessions is None:
            from sqlalchemy.ext.asyncio import async_sessionmaker

            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def unavailable(url: Any, exc: DBAPIError) -> ConnectorError:
    """A database that cannot be opened (nothing listens, no such database, refused
    credentials, no permission) as one line an operator can act on, instead of the driver's
    traceback: the URL without its password and the driver's own reason (which names neither
    the password nor the statement's parameters)."""
    reason = " ".join(str(exc.orig or exc).split())
    password = getattr(url, "password", None)
    if password:
        reason = reason.replace(str(password), "***")
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Cannot open the database {safe_url(url)} ({reason}); check that its server runs "
        "and that the URL's host, port, database name and user are right.",
    )
