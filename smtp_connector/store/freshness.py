"""Keeping the service's caches current off the request path.

A request finds its API key and its app's definitions version in memory. Changes made through
this process drop the affected entries at once; changes made by another process sharing the
database (the CLI's `keys revoke`, another `serve`) are found by `Freshness`, a background task
that re-reads every remembered entry in one query per cache, several times per cache window
(`KeyService.cache_ttl`, `ConnectorCache.version_ttl`). A request therefore never waits on the
database for something already remembered: before, each entry expired on the request path
and the unlucky request paid the query (and every request queued behind it, the tail).

An entry the refresh has not confirmed within its window (the database slow or down, the
process starved) is re-read on the request path as before, so the window holds under any load.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from smtp_connector.errors import secret_safe_logger

log = secret_safe_logger("smtp_connector.store")

Refresh = Callable[[], Awaitable[None]]
ROUNDS_PER_WINDOW = 3  # a refresh may be late twice and the entry is still confirmed in time


class Freshness:
    """Runs `refreshes` every `window / ROUNDS_PER_WINDOW` seconds until closed."""

    def __init__(self, refreshes: Sequence[Refresh], window: float) -> None:
        self._refreshes = list(refreshes)
        self.interval = window / ROUNDS_PER_WINDOW
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="freshness")

    async def _run(self) -> None:
        failing: set[int] = set()
        while True:
            await asyncio.sleep(self.interval)
            for index, refresh in enumerate(self._refreshes):
                try:
                    await refresh()
                except Exception as error:  # the request path's own re-read covers for it
                    if index not in failing:  # once per outage, not three times a second
                        log.warning("refreshing cached API keys/versions failed: %s", error)
                    failing.add(index)
                else:
                    failing.discard(index)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
