"""One database read shared by the queued jobs that need it at the same moment.

A queue worker must render a job with the app's definitions and templates as they are when it
delivers, not as a second-old cache says (a template saved just before a send was queued must
be the one that goes out; the worker may be another process). Reading the app's versions for
every job costs a round trip and the CPU around it per message, and a worker claims its jobs
in batches that start together. So the jobs of an app that ask in the same turn of the event
loop share one read: the first one to ask opens a read that starts only after the current
turn, the others join it. Every joiner arrived before that read started, so what it returns is
at least as new as what each of them needs; a job that asks once the read has started waits
for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedReads(Generic[T]):
    """Per key, one `read(key)` for every caller that arrived before it started."""

    def __init__(self, read: Callable[[str], Awaitable[T]]) -> None:
        self._read = read
        self._gathering: dict[str, asyncio.Future[T]] = {}

    async def get(self, key: str) -> T:
        """A value read after this call began (raises what the read raised)."""
        gathering = self._gathering.get(key)
        if gathering is not None:
            return await self._join(key, gathering)
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._gathering[key] = result
        try:
            await asyncio.sleep(0)  # the callers of this turn join before the read starts
            del self._gathering[key]  # whoever asks from now on needs a later read
            value = await self._read(key)
        except BaseException as exc:
            if self._gathering.get(key) is result:
                del self._gathering[key]
            _settle(result, exc)
            raise
        result.set_result(value)
        return value

    async def _join(self, key: str, gathering: asyncio.Future[T]) -> T:
        try:
            return await asyncio.shield(gathering)  # the leader's cancellation is not ours
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if gathering.cancelled() and task is not None and not task.cancelling():
                return await self.get(key)  # the leader was cancelled: read for ourselves
            raise


def _settle(result: asyncio.Future[T], exc: BaseException) -> None:
    """Pass a failed read to the joiners; a cancelled leader leaves them a cancellation they
    retry (see `_join`), never a future nobody completes."""
    if isinstance(exc, asyncio.CancelledError):
        result.cancel()
    else:
        result.set_exception(exc)
        result.exception()  # marked retrieved: no "never retrieved" warning without joiners
