"""Send throttles against abuse: per-recipient minimum interval, per-recipient and global hourly
caps (as Supabase Auth's MAX_FREQUENCY and RATE_LIMIT_EMAIL_SENT).

A sign-up form is an open relay for "send a code to this address"; without caps it can be used
to flood a victim or burn the sender's reputation. The store is pluggable so a cluster can share
counts (`throttle.store: "redis://..."`, see redis_store.py); the default is in-process memory.
A store with `reserve` (Redis) checks and records in one atomic step across processes.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from typing import Protocol

from ..config import ThrottleOptions
from ..errors import ConnectorError, ErrorCode

HOUR_S = 3600.0
GLOBAL_KEY = "*"


class ThrottleStore(Protocol):
    """Where send timestamps live. Implementations must be safe for concurrent use."""

    async def recent(self, key: str, since: float) -> list[float]:
        """Timestamps (epoch seconds) of sends for `key` at or after `since`, oldest first."""
        ...

    async def add(self, key: str, at: float) -> None: ...


class SharedRateStore(Protocol):
    """A store that can also space sends to one server across processes (Redis)."""

    async def rate_slot(self, server: str, max_messages: int, window_s: float) -> float:
        """0.0 when a start slot was taken, else the seconds to wait before asking again."""
        ...


class MemoryThrottleStore:
    """In-process store; old entries are pruned as they are read."""

    def __init__(self) -> None:
        self._sends: dict[str, deque[float]] = defaultdict(deque)

    async def recent(self, key: str, since: float) -> list[float]:
        entries = self._sends[key]
        while entries and entries[0] < since:
            entries.popleft()
        return list(entries)

    async def add(self, key: str, at: float) -> None:
        self._sends[key].append(at)


class Throttle:
    """Checks and records sends; raises `rate_limited` with `retry_after` when over a limit."""

    def __init__(self, options: ThrottleOptions, store: ThrottleStore | None = None) -> None:
        self.options = options
        self.store = store or MemoryThrottleStore()
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        o = self.options
        return any(
            v is not None
            for v in (o.per_recipient_interval, o.per_recipient_hourly, o.global_hourly)
        )

    async def acquire(self, recipient: str) -> None:
        """Reserve a send to `recipient`, or raise `ConnectorError(rate_limited)`."""
        if not self.enabled:
            return
        key = recipient.lower()
        reserve = getattr(self.store, "reserve", None)
        if reserve is not None:  # a shared store checks and records in one atomic step
            reason, wait, count = await reserve(key, GLOBAL_KEY, self.options)
            if reason:
                raise _limited(self._why(reason, count), wait)
            return
        async with self._lock:
            now = time.time()
            await self._check(key, now)
            await self.store.add(key, now)
            if self.options.global_hourly is not None:
                await self.store.add(GLOBAL_KEY, now)

    async def _check(self, key: str, now: float) -> None:
        o = self.options
        recent = await self.store.recent(key, now - HOUR_S)
        if o.per_recipient_interval is not None and recent:
            wait = recent[-1] + o.per_recipient_interval / 1000 - now
            if wait > 0:
                raise _limited(f"a code was sent to this address {now - recent[-1]:.0f}s ago", wait)
        if o.per_recipient_hourly is not None and len(recent) >= o.per_recipient_hourly:
            raise _limited(
                f"{len(recent)} codes were sent to this address in the last hour "
                f"(limit {o.per_recipient_hourly})",
                recent[0] + HOUR_S - now,
            )
        if o.global_hourly is not None:
            overall = await self.store.recent(GLOBAL_KEY, now - HOUR_S)
            if len(overall) >= o.global_hourly:
                raise _limited(
                    f"the hourly limit of {o.global_hourly} emails is reached",
                    overall[0] + HOUR_S - now,
                )

    def _why(self, reason: int, count: int) -> str:
        o = self.options
        if reason == 1:
            return "a code was sent to this address less than perRecipientInterval ago"
        if reason == 2:
            return (
                f"{count} codes were sent to this address in the last hour "
                f"(limit {o.per_recipient_hourly})"
            )
        return f"the hourly limit of {o.global_hourly} emails is reached"


def _limited(why: str, retry_after: float) -> ConnectorError:
    retry_after = max(retry_after, 0.0)
    return ConnectorError(
        ErrorCode.RATE_LIMITED,
        f"Not sent: {why}. Try again in {retry_after:.0f}s.",
        retryable=True,
        retry_after=retry_after,
    )
