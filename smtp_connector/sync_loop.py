"""The connector's private event loop for synchronous callers (`send_sync`, `close`).

A loop on a daemon thread of its own keeps pooled connections warm across `send_sync` calls
and never touches a loop the caller runs elsewhere (its own, or another thread's).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any


class LoopThread:
    """A private event loop on a daemon thread: keeps pooled connections warm across
    `send_sync` calls and never touches the caller's own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="smtp-connector", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Awaitable[Any]) -> Any:
        if _running_loop() is self.loop:
            raise RuntimeError("send_sync called from the connector's own loop")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
