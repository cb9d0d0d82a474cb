"""The queue's own connection to the store's database, tuned for its write pattern.

Every operation is a small synchronous function of a SQLAlchemy `Connection`, so the same
SQL runs on both databases:

- SQLite: on one dedicated thread with the standard driver; every transaction starts with
  `BEGIN IMMEDIATE` (it takes the write lock at once, so no claim can interleave with another
  writer's) and concurrent writes share transactions (`GroupCommit`). WAL with
  `synchronous=NORMAL` (Rails 8's SQLite default too): a commit survives the process being
  killed; an operating-system crash or power cut may lose the last moments of queue writes.
  `SMTP_CONNECTOR_QUEUE_SQLITE_SYNCHRONOUS=FULL` trades throughput for that too.
- PostgreSQL: the async psycopg engine; concurrent writes share transactions too (row locks
  and `SKIP LOCKED` do the rest); only batches holding a write whose loss could lose or
  repeat a message wait for the disk (see `write`). The hot batches (enqueues, claims, marks,
  "sent" completions), whose ops all have a driver form, skip the engine and run on psycopg
  connections of their own in the same transactions (pg_direct.py, `_direct_batch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.store.async_engine import AsyncConnection, AsyncEngine, create_async_engine
from smtp_connector.store.urls import async_url, is_sqlite, safe_url, sqlite_path

from .batching import DriverForm, GroupCommit, Op, Ops, Outcome, driver_only, transaction
from .merging import Places, alone, each_committed, independent, merge, spread
from .pg_direct import DirectConnections, directs
from .writer_thread import WriterThread

T = TypeVar("T")
SYNCHRONOUS_ENV = "SMTP_CONNECTOR_QUEUE_SQLITE_SYNCHRONOUS"
_PARALLEL = 2  # PostgreSQL batches in flight at once
_NOT_RUN = object()  # beside a direct statement that failed: its ops run again


def _synchronous() -> str:
    value = os.environ.get(SYNCHRONOUS_ENV, "NORMAL").strip().upper()
    if value not in ("NORMAL", "FULL", "EXTRA"):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"{SYNCHRONOUS_ENV} must be NORMAL, FULL or EXTRA."
        )
    return value


class QueueDatabase:
    def __init__(self, raw_url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(raw_url)
        self.is_sqlite = is_sqlite(self.url)
        self._thread: WriterThread | None = None
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                self.url.set(drivername="sqlite+pysqlite"), hide_parameters=True,
                connect_args={"timeout": 30, "check_same_thread": False},
            )  # fmt: skip
            synchronous = _synchronous()
            event.listen(engine, "connect", lambda conn, _: _sqlite_connect(conn, synchronous))
            event.listen(engine, "begin", _sqlite_begin)
            self._sync_engine = engine
            self._writer = _WriterConnection(engine)
            self._thread = WriterThread("outbox-writer")
            self._committer = GroupCommit(self._sqlite_batch)
        else:
            # Sessions in autocommit: most batches are one statement, or statements each
            # atomic on its own (`_async_transaction`); the few that need a transaction ask
            # for one (`pg_transaction`). Switching a pooled session to autocommit for each
            # batch and back on its return cost as much CPU as running the batch's statement
            # (SQLAlchemy's isolation-level machinery; issue 26 §1).
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
                hide_parameters=True, connect_args={"options": "-c synchronous_commit=off"},
                isolation_level="AUTOCOMMIT",
            )  # fmt: skip
            # Durable batches on sessions whose commits wait for the disk (the server's
            # default), instead of a `SET LOCAL` round trip in each such transaction.
            self._durable_engine = create_async_engine(
                self.url, pool_size=_PARALLEL, max_overflow=_PARALLEL, pool_recycle=1800,
                hide_parameters=True, connect_args={"options": "-c synchronous_commit=on"},
                isolation_level="AUTOCOMMIT",
            )  # fmt: skip
            for pg_engine in (self.engine, self._durable_engine):
                event.listen(pg_engine.sync_engine, "handle_error", _primary_message_only)
            # Several batches at once: each waits on round trips to the server, not the CPU;
            # durable and other writes in batches of their own (batching.py `_take`).
            self._committer = GroupCommit(
                self._postgres_batch, parallel=_PARALLEL, by_durability=True
            )
            # The hot batches (all ops in driver form) on psycopg directly (pg_direct.py).
            self._direct = (DirectConnections(self.url, False), DirectConnections(self.url, True))

    def __repr__(self) -> str:
        return f"QueueDatabase({safe_url(self.url)!r})"

    def write(
        self, op: Callable[[Connection], T], *, isolated: bool = False, durable: bool = False
    ) -> asyncio.Future[T]:
        """Run `op` in a write transaction (shared with concurrent writes on SQLite); await the
        future returned (the group commit's own: no coroutine per write, batching.py `run`).

        On PostgreSQL the queue's sessions commit asynchronously (`synchronous_commit=off`)
        except `durable` writes, which wait for the WAL flush: the enqueue (a 202 is a promise)
        and the mark before DATA (the never-twice marker). The WAL is sequential, so once a
        durable write is on disk every earlier write is too; a lost later write (after a
        database server crash) can only leave a row "sending" with its marker set, which is
        settled as "delivery unknown" — never resent."""
        return self._committer.run(op, isolated, durable)

    async def _sqlite_batch(self, ops: Ops, durable: bool) -> list[Outcome]:
        """One `BEGIN IMMEDIATE … COMMIT` on the writer thread (durability: the pragma)."""
        assert self._thread is not None
        return await self._thread.run(partial(_sync_batch, self._writer, ops))

    async def _postgres_batch(self, ops: Ops, durable: bool) -> list[Outcome]:
        engine = self._durable_engine if durable else self.engine
        outcomes = await _direct_batch(self._direct[durable], engine, ops, durable)
        if outcomes is not None:
            return outcomes
        try:
            return await _async_transaction(engine, ops, durable)
        except Exception as exc:
            if len(ops) == 1:
                return [(False, exc)]
        return [await _retried(engine, op) for op in ops]  # find the op that broke the batch

    async def read(self, op: Callable[[Connection], T]) -> T:
        if self._thread is not None:
            return await self._thread.run(partial(_sync_read, self._sync_engine, op))
        async with pg_transaction(self.engine) as conn:  # one snapshot, whatever the level
            return await conn.run_sync(op)

    async def dispose(self) -> None:
        await self._committer.aclose()
        if self._thread is not None:
            self._thread.close(self._writer.close)
            self._sync_engine.dispose()
        else:
            for direct in self._direct:
                await direct.aclose()
            await self.engine.dispose()
            await self._durable_engine.dispose()


class _WriterConnection:
    """The writer thread's one SQLite connection, kept open between batches.

    Checking a connection out of the pool and back for every batch (the pool's reset rolls
    back on return, the checkout runs its events) cost about as much CPU as the batch's own
    statements under a queued load (issue 26 §1, profiled with py-spy). Used only on the
    writer thread; after any failure it is closed and the next batch opens a new one."""

    def __init__(self, engine: Engine) -> None:
        from .batch_cursor import BatchCursor  # `sqlite3`: not imported on PostgreSQL

        self._engine = engine
        self._conn: Connection | None = None
        self.cursor_class = BatchCursor

    def get(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _sync_batch(writer: _WriterConnection, ops: Ops) -> list[Outcome]:
    if driver_only(ops):
        outcomes = _driver_batch(writer, ops)
        if outcomes is not None:
            return outcomes
        return [_sync_alone(writer, op) for op, _ in ops]  # as below, errors and all
    try:
        conn = writer.get()
        with conn.begin():  # BEGIN IMMEDIATE (_sqlite_begin) … COMMIT, or ROLLBACK on error
            return transaction(conn, ops)
    except Exception as exc:
        writer.close()  # whatever state it is in, the next transaction starts afresh
        if len(ops) == 1:
            return [(False, exc)]
    return [_sync_alone(writer, op) for op, _ in ops]  # find the op that broke the batch


def _driver_batch(writer: _WriterConnection, ops: Ops) -> list[Outcome] | None:
    """A batch of driver ops (batching.DriverOp) in `BEGIN IMMEDIATE` … `COMMIT` issued on the
    `sqlite3` connection itself, the SQLAlchemy connection left outside any transaction (each
    op's `driver` form is handed one cursor of that connection). None when anything failed:
    the transaction is rolled back and the caller reruns each op alone the usual way, so a
    failure is reported exactly as before (SQLAlchemy's exception types, the op that broke
    the batch found)."""
    raw: Any = None
    try:
        conn = writer.get()
        raw = conn.connection.driver_connection
        # One cursor for the batch's statements, COMMIT among them: `execute` on the
        # connection made a cursor per statement, and `commit()` compiles its COMMIT anew
        # each time (about 3,300 instructions), where the cursor finds it in the statement
        # cache. The ops call `execute`/`executemany`, which a cursor has too.
        cursor = raw.cursor(writer.cursor_class)
        cursor.execute("BEGIN IMMEDIATE")
        forms = cast("list[DriverForm]", [op for op, _ in ops])  # `driver_only(ops)` held
        outcomes: list[Outcome] = [(True, form.driver(cursor)) for form in forms]
        for statement, rows in cursor.later.items():  # rows the ops left for later
            cursor.executemany(statement, rows)
        cursor.execute("COMMIT")
        return outcomes
    except Exception:
        if raw is not None and raw.in_transaction:
            with contextlib.suppress(Exception):
                raw.rollback()
        writer.close()
        return None


def _sync_alone(writer: _WriterConnection, op: Op) -> Outcome:
    try:
        conn = writer.get()
        with conn.begin():
            return True, op(conn)
    except Exception as exc:
        writer.close()
        return False, exc


def _sync_read(engine: Engine, op: Callable[[Connection], T]) -> T:
    """A read on the writer thread (reads are rare: status, stats)."""
    with engine.connect() as conn:
        conn = conn.execution_options(queue_read_only=True)
        with conn.begin():
            return op(conn)


async def _direct_batch(
    direct: DirectConnections, engine: AsyncEngine, ops: Ops, durable: bool
) -> list[Outcome] | None:
    """The batch on psycopg directly when every op has a driver form (pg_direct.py), in the
    transactions `_async_transaction` would use: each statement alone when the batch is one
    statement or does not wait for the disk, else one transaction. A statement that failed
    committed nothing: its callers' ops run again alone the usual way (`_retried`), which
    reports their error as before. None: the batch did not run (nothing committed)."""
    runnable, places = merge(ops)
    statements = directs(runnable)
    if statements is None:
        return None
    found = await direct.run(statements, transaction=durable and not alone(runnable))
    if found is None:
        return None
    outcomes = spread(runnable, places, [(False, _NOT_RUN) if o is None else o for o in found])
    for position, (_, value) in enumerate(outcomes):
        if value is _NOT_RUN:
            outcomes[position] = await _retried(engine, ops[position])
    return outcomes


async def _async_transaction(engine: AsyncEngine, ops: Ops, durable: bool = False) -> list[Outcome]:
    """One PostgreSQL transaction (durable or not: the engine's sessions say), its marks and
    completions merged (merging.py); a batch that is then one statement runs as that
    statement alone (its own transaction: one round trip instead of BEGIN, it and COMMIT).
    A batch that does not wait for the disk and whose ops are each one statement runs them
    in autocommit, each its own transaction (`_each_alone`)."""
    runnable, places = merge(ops)
    if not alone(runnable) and not durable and independent(runnable):
        return await _each_alone(engine, ops, runnable, places)
    if alone(runnable):
        async with engine.connect() as conn:  # autocommit: the statement is its transaction
            outcomes = await conn.run_sync(transaction, runnable)
    else:
        async with pg_transaction(engine) as conn:
            outcomes = await conn.run_sync(transaction, runnable)
    return spread(runnable, places, outcomes)


@asynccontextmanager
async def pg_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction (BEGIN … COMMIT, or ROLLBACK on error) on one of the queue's sessions,
    which are otherwise in autocommit, at the server's default isolation level (as before
    the sessions were in autocommit); back in autocommit when the session is returned."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level=engine.dialect.default_isolation_level)
        async with conn.begin():
            yield conn


async def _each_alone(
    engine: AsyncEngine, ops: Ops, runnable: Ops, places: Places
) -> list[Outcome]:
    """The ops of a non-durable batch (claims, merged "sent" completions: independent rows,
    each one atomic statement) without BEGIN and COMMIT: a round trip each instead of two
    more for the batch, about a tenth of a worker's CPU (issue 26 §1, py-spy). No caller
    relied on the others' writes committing with its own (a failed batch was already rerun
    op by op); each still returns only once its write is committed. A merged statement
    that fails is retried op by op, as a failed batch is."""
    async with engine.connect() as conn:  # autocommit (the engine's sessions)
        outcomes = spread(runnable, places, await conn.run_sync(each_committed, runnable))
    for positions in places:
        for position in positions if len(positions) > 1 else ():
            if not outcomes[position][0]:
                outcomes[position] = await _retried(engine, ops[position])
    return outcomes


async def _retried(engine: AsyncEngine, op: tuple[Op, bool]) -> Outcome:
    """`op` alone, in a transaction of its own: its outcome, its error included."""
    try:
        return (await _async_transaction(engine, [op]))[0]
    except Exception as exc:
        return False, exc


def _primary_message_only(context: ExceptionContext) -> None:
    """Keep only the first line of a PostgreSQL error. Its DETAIL may quote the failing row
    ("Failing row contains (…, {"code": "918273"}, …)") or key, and the error's text reaches
    logs and tracebacks; `hide_parameters` on the engines keeps the statement's values out
    of SQLAlchemy's own text. The driver's `diag` still holds the detail for code that asks."""
    driver_error = context.original_exception
    text = str(driver_error)
    primary = text.split("\n", 1)[0]
    if primary == text:
        return
    driver_error.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        kind = type(driver_error)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {primary}", *wrapped.args[1:])


def _sqlite_connect(dbapi_connection: Any, synchronous: str) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (the driver's own implicit BEGIN is
    # deferred, which would let two claimers read the same rows before either writes).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    read_only = conn.get_execution_options().get("queue_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
