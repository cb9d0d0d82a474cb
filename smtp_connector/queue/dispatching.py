"""Group dispatch: new outbox rows announced to the workers in batches, off the request path.

An enqueue answers 202 once its row is committed; telling a worker about it is a second
write (a procrastinate job). Doing that write inside each request, one job per message, made
every request wait for it and every worker pay procrastinate's fetch and finish per message.
Here ids queue up while one announcement is in flight and the next one carries all of them:
one id per job when traffic is light (no added latency), dozens when it is heavy.

Under load announcements are also paced: one starts at most every `interval` seconds (unless
a full batch is waiting). Each job costs a procrastinate insert and NOTIFY, a fetch by every
woken worker, a claim transaction, a read of the app's versions and a finish, whatever its
size; without pacing, 16 clients made jobs of two or three ids and those per-job costs were
most of a worker's CPU (issue 26 §1, py-spy). The first id after a quiet spell is announced
at once; a busy queue adds at most `interval` to a message's delivery, never to its 202.

A crash can lose ids that were committed but not yet announced; the engine's periodic sweep
finds queued rows without a job and announces them again, as it did for a crash between the
two commits before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("smtp_connector.queue")

Announce = Callable[[list[str]], Awaitable[None]]


class GroupDispatch:
    """Collects message ids; one background task announces them, at most `size` per call."""

    def __init__(self, announce: Announce, size: int = 64, interval: float = 0.0) -> None:
        self._announce = announce
        self._size = size
        self._interval = interval
        self._last = float("-inf")  # when the last announcement started (loop time)
        self._pending: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, message_id: str) -> None:
        """Queue an id for the next announcement (returns at once)."""
        self._pending.append(message_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            wait = self._last + self._interval - loop.time()
            if wait > 0 and len(self._pending) < self._size:
                await asyncio.sleep(wait)  # more ids gather meanwhile: a bigger job
            self._last = loop.time()
            batch, self._pending = self._pending[: self._size], self._pending[self._size :]
            try:
                await self._announce(batch)
            except Exception:  # the rows stay queued; the sweep announces them again
                log.exception("announcing %d queued message(s) failed", len(batch))

    async def flush(self) -> None:
        """Wait until every id added so far has been announced (or failed to be)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
