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
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import Cause, ConnectorError, ErrorCode

if TYPE_CHECKING:
    from ..config.views import ThrottleView

HOUR_S = 3600.0
GLOBAL_KEY = "*"

# How mailbox providers fold addresses onto one mailbox, as data. Plus-tags are dropped for every
# domain (merging two keys only makes a throttle stricter); these tables add what is per domain.
DOTS_IGNORED = frozenset({"gmail.com"})  # "v.ictim" and "victim" are one Gmail mailbox
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}  # the same mailboxes under another name


def throttle_key(recipient: str) -> str:
    """The mailbox behind `recipient`, so the address variants one inbox receives
    (case, `+tag`, Gmail's dots and googlemail.com) share one throttle count."""
    local, at, domain = recipient.strip().lower().rpartition("@")
    if not at:
        return recipient.strip().lower()
    domain = domain.rstrip(".")
    domain = DOMAIN_ALIASES.get(domain, domain)
    local = local.split("+", 1)[0] or local
    if domain in DOTS_IGNORED:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


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
    """In-process store. Old entries are pruned as they are read, and every so often keys idle
    for longer than `retention` seconds are dropped, so memory follows recent traffic however
    many distinct addresses an attacker tries."""

    def __init__(self, retention: float = HOUR_S) -> None:
        self.retention = retention
        self._sends: dict[str, deque[float]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        """Keys currently held (for monitoring, and the eviction test)."""
        return len(self._sends)

    async def recent(self, key: str, since: float) -> list[float]:
        entries = self._sends.get(key)
        if entries is None:
            return []
        while entries and entries[0] < since:
            entries.popleft()
        if not entries:
            del self._sends[key]
        return list(entries)

    async def add(self, key: str, at: float) -> None:
        if at >= self._next_sweep:
            self._sweep(at - self.retention)
            self._next_sweep = at + self.retention / 8
        self._sends.setdefault(key, deque()).append(at)

    def _sweep(self, before: float) -> None:
        idle = [key for key, entries in self._sends.items() if not entries or entries[-1] < before]
        for key in idle:
            del self._sends[key]


class Throttle:
    """Checks and records sends; raises `rate_limited` with `retry_after` when over a limit."""

    def __init__(
        self,
        options: ThrottleView,
        store: ThrottleStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.window = max(HOUR_S, (options.per_recipient_interval or 0) / 1000)
        self.store = store if store is not None else MemoryThrottleStore(self.window)
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        o = self.options  # read on every send: plain comparisons, no generator
        return (
            o.per_recipient_interval is not None
            or o.per_recipient_hourly is not None
            or o.global_hourly is not None
        )

    async def acquire(self, recipient: str) -> None:
        """Reserve a send to `recipient`, or raise `ConnectorError(rate_limited)`."""
        if not self.enabled:
            return
        key = throttle_key(recipient)
        reserve = getattr(self.store, "reserve", None)
        if reserve is not None:  # a shared store checks and records in one atomic step
            reason, wait, count = await reserve(key, GLOBAL_KEY, self.options)
            if reason:
                raise _limited(self._why(reason, count), wait)
            return
        async with self._lock:
            now = self._clock()
            await self._check(key, now)
            await self.store.add(key, now)
            if self.options.global_hourly is not None:
                await self.store.add(GLOBAL_KEY, now)

    async def _check(self, key: str, now: float) -> None:
        o = self.options
        # Read back as far as the longest limit looks: an interval may be longer than an hour.
        history = await self.store.recent(key, now - self.window)
        if o.per_recipient_interval is not None and history:
            wait = history[-1] + o.per_recipient_interval / 1000 - now
            if wait > 0:
                ago = now - history[-1]
                raise _limited(f"a code was sent to this address {ago:.0f}s ago", wait)
        recent = [at for at in history if at >= now - HOUR_S]
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
        cause=Cause.RATE_LIMITED,
        reason=why,
    )
