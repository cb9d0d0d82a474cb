"""Group commit for SQLite: many small writes from concurrent tasks share one transaction,
run in one trip to a dedicated database thread.

SQLite allows one writer at a time. Committing each enqueue, claim and completion on its own,
each statement a separate hop between the event loop and a driver thread, makes a busy
process wait on itself. Here every write is a small synchronous operation handed to one
committer task, which runs whatever is pending as a single `BEGIN IMMEDIATE … COMMIT` in the
database thread and then wakes each caller with its own result — each caller still returns
only after its write is committed, so "marked sent in the same step" holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")
Op = Callable[[Connection], Any]
Outcome = tuple[bool, Any]  # (succeeded, result or exception)


class GroupCommit:
    """Runs operations in shared transactions (at most `limit` each) on one thread."""

    def __init__(self, engine: Engine, limit: int = 500) -> None:
        self._engine = engine
        self._limit = limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-writer")
        self._pending: list[tuple[Op, bool, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, op: Callable[[Connection], T], isolated: bool = False) -> T:
        """Run `op` inside the next shared transaction; return its result once committed.
        `isolated` ops run under a savepoint, so an expected failure (a unique key) undoes only
        that op; any other failure rolls the batch back and runs each op on its own."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((op, isolated, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._loop())
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
                ops = [(op, isolated) for op, isolated, _ in batch]
                outcomes = await loop.run_in_executor(self._executor, self._commit, ops)
                for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue  # the caller was cancelled; its write stands (or failed)
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    def _commit(self, ops: list[tuple[Op, bool]]) -> list[Outcome]:
        try:
            return self._transaction(ops)
        except Exception as exc:
            if len(ops) == 1:
                return [(False, exc)]
            return [self._alone(op) for op, _ in ops]  # find the op that broke the batch

    def _transaction(self, ops: list[tuple[Op, bool]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with self._engine.begin() as conn:
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

    def _alone(self, op: Op) -> Outcome:
        try:
            with self._engine.begin() as conn:
                return True, op(conn)
        except Exception as exc:
            return False, exc

    async def read(self, op: Callable[[Connection], T]) -> T:
        """A read on the same thread (reads are rare: status, stats)."""

        def run() -> T:
            with self._engine.connect() as conn:
                conn = conn.execution_options(queue_read_only=True)
                with conn.begin():
                    return op(conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def aclose(self) -> None:
        while self._pending:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)
