"""One async engine and session factory per database URL.

SQLite gets WAL (readers never wait for the writer), a busy timeout (concurrent writers wait
instead of failing with "database is locked") and enforced foreign keys (deleting an app
removes its definitions); PostgreSQL needs none of that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from smtp_connector.errors import ConnectorError, ErrorCode

from .urls import async_url, is_sqlite, safe_url, sqlite_path


class Database:
    """The engine for one URL; `transaction()` is the unit of work of every service call."""

    def __init__(self, raw_url: str) -> None:
        self.url = async_url(raw_url)
        self.is_sqlite = is_sqlite(self.url)
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
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
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"

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
