"""Group commit: many small writes from concurrent tasks share one transaction.

SQLite allows one writer at a time and each commit costs a journal sync; an HTTP burst of
enqueues, claims and completions committed one by one would queue up behind that lock. Here
every write is a small operation handed to one committer task, which runs whatever is pending
in a single `BEGIN IMMEDIATE … COMMIT` and then wakes each caller with its own result — each
caller still returns only after its write is durable, so "marked sent in the same step" holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
Op = Callable[[AsyncConnection], Awaitable[Any]]


class _Pending:
    __slots__ = ("future", "isolated", "op")

    def __init__(self, op: Op, isolated: bool, future: asyncio.Future[Any]) -> None:
        self.op, self.isolated, self.future = op, isolated, future


class GroupCommit:
    """Runs operations in shared transactions, at most `limit` per transaction."""

    def __init__(self, engine: AsyncEngine, limit: int = 400) -> None:
        self._engine = engine
        self._limit = limit
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, op: Callable[[AsyncConnection], Awaitable[T]], isolated: bool = False) -> T:
        """Run `op` inside the next shared transaction and return its result once committed.
        `isolated` ops run under a savepoint, so an expected failure (a unique key) undoes only
        that op; any other failure rolls the batch back and retries each op on its own."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(op, isolated, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return await future

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception:
            if len(batch) == 1:
                results = [await self._alone(batch[0])]
            else:  # one op broke the shared transaction: run each in its own
                results = [await self._alone(item) for item in batch]
        for item, (ok, value) in zip(batch, results, strict=True):
            if item.future.done():
                continue  # the caller was cancelled; its write stands (or failed) regardless
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    async def _transaction(self, batch: list[_Pending]) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        async with self._engine.begin() as conn:
            for item in batch:
                if not item.isolated:
                    results.append((True, await item.op(conn)))
                    continue
                try:
                    async with conn.begin_nested():
                        results.append((True, await item.op(conn)))
                except Exception as exc:
                    results.append((False, exc))
        return results

    async def _alone(self, item: _Pending) -> tuple[bool, Any]:
        try:
            async with self._engine.begin() as conn:
                return True, await item.op(conn)
        except Exception as exc:
            return False, exc

    async def aclose(self) -> None:
        while self._pending:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
