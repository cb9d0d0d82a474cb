"""The queue's own connection to the store's database, tuned for its write pattern.

SQLite: every transaction starts with `BEGIN IMMEDIATE` (it takes the write lock at once, so
a claim can never be interleaved with another writer's claim), and writes share transactions
through a group committer. PostgreSQL: a connection pool sized for the worker's concurrency;
each write is its own short transaction (row locks and `SKIP LOCKED` do the rest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from smtp_connector.store.urls import async_url, is_sqlite, safe_url, sqlite_path

from .batching import GroupCommit

T = TypeVar("T")


class QueueDatabase:
    def __init__(self, raw_url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(raw_url)
        self.is_sqlite = is_sqlite(self.url)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs |= {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._committer = GroupCommit(self.engine) if self.is_sqlite else None

    def __repr__(self) -> str:
        return f"QueueDatabase({safe_url(self.url)!r})"

    async def write(
        self, op: Callable[[AsyncConnection], Awaitable[T]], *, isolated: bool = False
    ) -> T:
        """Run `op` in a write transaction (shared with concurrent writes on SQLite)."""
        if self._committer is not None:
            return await self._committer.run(op, isolated)
        async with self.engine.begin() as conn:
            return await op(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(queue_read_only=True)
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        if self._committer is not None:
            await self._committer.aclose()
        await self.engine.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (the driver's own implicit BEGIN is
    # deferred, which would let two claimers read the same rows before either writes).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    read_only = conn.get_execution_options().get("queue_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
