"""Group commit: many small writes from concurrent tasks share one transaction.

Committing each enqueue, claim and completion on its own costs a transaction per statement:
on SQLite (one writer at a time) a busy process waits on itself, each write a separate hop
to a driver thread; on PostgreSQL each is a BEGIN, a statement and a COMMIT, three round
trips and a WAL flush. Here every write is a small synchronous operation handed to one
committer task, which runs whatever is pending as a single transaction and then wakes each
caller with its own result — each caller still returns only after its write is committed, so
"marked sent in the same step" holds. How a batch is committed is the database's business
(`BatchCommit`: a dedicated thread for SQLite, the async engine for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")
Op = Callable[[Connection], Any]
Ops = list[tuple[Op, bool]]  # (operation, isolated)
Outcome = tuple[bool, Any]  # (succeeded, result or exception)
# Commits one batch (durable: wait for the disk) and returns each op's outcome; when the
# shared transaction fails it runs each op alone (`transaction` and `alone` below).
BatchCommit = Callable[[Ops, bool], Awaitable[list[Outcome]]]
# A one-statement op in its driver form, for PostgreSQL's direct batches (pg_direct.py): the
# statement's SQL, its parameters, and the op's result given the statement's rows (None when
# the statement returns none). The op's SQLAlchemy form runs the same (`run_direct`).
Direct = tuple[str, dict[str, Any], Callable[[list[Any] | None], Any]]


def run_direct(conn: Connection, direct: Direct) -> Any:
    """A driver-form op on a SQLAlchemy connection: the same SQL, the same result."""
    sql, params, finish = direct
    result = conn.exec_driver_sql(sql, params)
    return finish(list(result.all()) if result.returns_rows else None)


@dataclass(frozen=True)
class InsertRow:
    """An op that inserts one row; the rows of one batch with the same statement go to the
    database as one executemany (a multi-row INSERT), not one statement each."""

    statement: Any
    values: Any  # one row's values; a list: the rows of a merged batch

    def __call__(self, conn: Connection) -> None:
        conn.execute(self.statement, self.values)


class DriverOp:
    """An op made only of `sqlite3` driver statements (sqlite_outbox.py). A batch of nothing
    else needs no SQLAlchemy transaction: the SQLite committer runs `BEGIN IMMEDIATE` and
    `COMMIT` on the driver around it (database.py), which costs half the CPU of
    `Connection.begin()` with its event and `exec_driver_sql`. `driver` is the op as a
    function of the `sqlite3` connection itself, or of a cursor of it (it only calls
    `execute`/`executemany`, which both have): such a batch hands every op one cursor
    (`_driver_batch`), not a lookup per statement through SQLAlchemy's properties; called with
    a SQLAlchemy `Connection` (an op rerun alone), the op looks the connection up itself."""

    __slots__ = ("driver",)
    driver_only: ClassVar[bool] = True

    def __init__(self, driver: Callable[[Any], Any]) -> None:
        self.driver = driver

    def __call__(self, conn: Connection) -> Any:
        return self.driver(conn.connection.driver_connection)


class DriverForm(Protocol):
    """An op of a driver batch (`driver_only`): `DriverOp`, sqlite_outbox.RawInsertRow."""

    def driver(self, raw: Any) -> Any: ...


def driver_only(ops: Ops) -> bool:
    """Whether every op of a batch is a driver op and none needs a savepoint."""
    return all(not isolated and getattr(op, "driver_only", False) for op, isolated in ops)


Pending = tuple[Op, bool, bool, "asyncio.Future[Any]"]  # op, isolated, durable, caller


class GroupCommit:
    """Runs operations in shared transactions (at most `limit` each), one batch at a time."""

    def __init__(
        self, commit: BatchCommit, limit: int = 500, parallel: int = 1, by_durability: bool = False
    ) -> None:
        self._commit = commit
        self._limit = limit
        self._parallel = parallel  # batches in flight at once (SQLite: one writer, so 1)
        self._by_durability = by_durability  # a batch's ops all durable, or none (see _take)
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0  # batches being committed

    def run(
        self, op: Callable[[Connection], T], isolated: bool = False, durable: bool = False
    ) -> asyncio.Future[T]:
        """Run `op` inside the next shared transaction; await the future returned for its
        result once committed. `isolated` ops run under a savepoint, so an expected failure (a
        unique key) undoes only that op; any other failure rolls the batch back and runs each
        op on its own. A batch with a `durable` op waits for the disk (where the database lets
        others not wait). A plain function, not a coroutine: the op is queued at once and the
        caller awaits its future, so a write costs no coroutine of its own (a queued message
        makes four or five; tests/queue/test_group_commit_futures.py)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((op, isolated, durable, future))
        self._wake.set()
        if len(self._tasks) < self._parallel:  # the first op, or a loop ended (see _start)
            self._start(loop)
        return future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start loops up to `parallel`. A loop that ends (cancelled, or a bug) takes itself
        off `_tasks` (a done callback), so `run` checks one length per op instead of
        rebuilding the task list each time (issue 26 §1)."""
        while len(self._tasks) < self._parallel:
            task = loop.create_task(self._loop())
            task.add_done_callback(self._ended)
            self._tasks.append(task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.remove(task)
        if self._pending and not task.cancelled():  # ops queued since it broke: a new loop
            self._start(asyncio.get_running_loop())

    async def _loop(self) -> None:
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            batch, self._pending = self._take()
            ops, callers = _merged(batch)
            self._busy += 1
            try:
                outcomes = await self._commit(ops, any(durable for _, _, durable, _ in batch))
            finally:
                self._busy -= 1
            for futures, (ok, value) in zip(callers, outcomes, strict=True):
                for future in futures:
                    if future.done():
                        continue  # the caller was cancelled; its write stands (or failed)
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    def _take(self) -> tuple[list[Pending], list[Pending]]:
        """The next batch (at most `limit` ops) and what stays pending. With `by_durability`
        a batch holds only ops of the oldest one's durability; the others go in the next
        batch, which another of the `parallel` loops takes at once. On PostgreSQL a batch
        mixing a durable op (the mark before DATA) with others (claims, completions) ran as
        a transaction (BEGIN, each statement, COMMIT, waiting for the disk), where apart each
        side is one statement in autocommit: one round trip each (database.py)."""
        pending = self._pending
        if self._by_durability and any(p[2] != pending[0][2] for p in pending):
            durable = pending[0][2]
            batch = [p for p in pending if p[2] == durable][: self._limit]
            taken = {id(p) for p in batch}
            return batch, [p for p in pending if id(p) not in taken]
        return pending[: self._limit], pending[self._limit :]

    async def aclose(self) -> None:
        while self._pending or self._busy:
            await asyncio.sleep(0.01)
        for task in list(self._tasks):  # each ended task takes itself off the list
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _merged(batch: list[Pending]) -> tuple[Ops, list[list[asyncio.Future[Any]]]]:
    """The batch's ops with the `InsertRow`s of one statement made one executemany; beside
    each op, the callers its outcome goes to."""
    ops: Ops = []
    callers: list[list[asyncio.Future[Any]]] = []
    rows: dict[int, tuple[type[InsertRow], Any, list[Any], list[asyncio.Future[Any]]]] = {}
    for op, isolated, _, future in batch:
        if isinstance(op, InsertRow) and not isolated:
            merged = rows.setdefault(id(op.statement), (type(op), op.statement, [], []))
            merged[2].append(op.values)
            merged[3].append(future)
            continue
        ops.append((op, isolated))
        callers.append([future])
    for kind, statement, values, futures in rows.values():
        ops.append((kind(statement, values), False))
        callers.append(futures)
    return ops, callers


def transaction(conn: Connection, ops: Ops) -> list[Outcome]:
    """Run `ops` in the transaction `conn` is in (isolated ones under a savepoint)."""
    outcomes: list[Outcome] = []
    for op, isolated in ops:
        if not isolated:
            outcomes.append((True, op(conn)))
            continue
        try:
            with conn.begin_nested():
                outcomes.append((True, op(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes
