"""Waiting for something to happen, instead of sleeping "long enough" for it.

A fixed sleep is a guess at how fast the machine is: on a loaded CI runner the server thread,
the pool's timer or the client's callbacks may not have run yet when it ends. These helpers poll
the observable state itself, with a limit far above any normal wait, so a test still fails
(with the last state seen) when the thing never happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

LIMIT_S = 30.0


async def eventually(check: Callable[[], Any], limit: float = LIMIT_S, every: float = 0.02) -> Any:
    """Poll `check()` on the running loop until it returns something true; return it. Fails
    after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not (value := check()):
        assert time.monotonic() < deadline, f"still {value!r} after {limit} s"
        await asyncio.sleep(every)
    return value


async def settled(event: asyncio.Event, limit: float = LIMIT_S) -> None:
    """Wait for `event` (set by a scripted server when it reaches a step), at most `limit` s."""
    await asyncio.wait_for(event.wait(), limit)
