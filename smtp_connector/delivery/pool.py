"""Warm, authenticated SMTP sessions per server, shared safely by concurrent sends.

Opening a session (TCP, greeting, STARTTLS, AUTH) costs several round trips and a TLS handshake;
a warm one costs none. The pool keeps up to `maxConnections` sessions per server, recycles each
after `maxMessages` (providers such as SparkPost ask for it), closes idle ones after
`idleTimeout`, and spaces sends by `rateLimit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from ..config import PoolOptions, RateLimitOptions, ServerSettings
from .session import SessionOptions, SmtpSession
from .throttle import SharedRateStore


class RateLimiter:
    """At most `max_messages` starts per `rate_delta` ms (sliding window), like nodemailer's."""

    def __init__(
        self, options: RateLimitOptions, shared: SharedRateStore | None = None, key: str = ""
    ) -> None:
        self._max = options.max_messages
        self._window = options.rate_delta / 1000
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._shared, self._key = shared, key

    async def wait(self) -> None:
        if self._shared is not None:  # the window is counted across every process
            while (delay := await self._shared.rate_slot(self._key, self._max, self._window)) > 0:
                await asyncio.sleep(delay)
            return
        async with self._lock:
            now = time.monotonic()
            while self._starts and now - self._starts[0] >= self._window:
                self._starts.popleft()
            if len(self._starts) >= self._max:
                await asyncio.sleep(self._window - (now - self._starts[0]))
                self._starts.popleft()
            self._starts.append(time.monotonic())


class ServerPool:
    """Sessions for one server. `acquire()` gives exclusive use of an open session."""

    def __init__(
        self,
        server: ServerSettings,
        session_options: SessionOptions,
        options: PoolOptions,
        rate_limit: RateLimitOptions | None = None,
        shared_rate: SharedRateStore | None = None,
    ) -> None:
        self.server = server
        self._session_options = session_options
        self._options = options
        self._slots = asyncio.Semaphore(options.max_connections)
        self._idle: list[SmtpSession] = []
        self._rate = RateLimiter(rate_limit, shared_rate, server.address) if rate_limit else None
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False
        self.opened = 0  # sessions opened over the pool's life (for tests and stats)

    async def acquire(self) -> tuple[SmtpSession, bool]:
        """An open session and whether it was reused (a reused one may turn out stale)."""
        await self._slots.acquire()
        try:
            if self._rate is not None:
                await self._rate.wait()
            session = self._take_idle()
            reused = session is not None
            if session is None:
                session = await self._open()
        except BaseException:
            self._slots.release()
            raise
        return session, reused

    async def acquire_warm(self) -> SmtpSession | None:
        """A warm idle session if one is free right now, else None; never waits. The common
        case of a single send on a warm pool then needs no timer and no extra task."""
        if self._rate is not None or self._slots.locked() or not self._idle:
            return None
        await self._slots.acquire()  # a free slot: returns without suspending
        session = self._take_idle()
        if session is None:
            self._slots.release()
            return None
        return session

    def release(self, session: SmtpSession, *, reusable: bool = True) -> None:
        """Return a session; it goes back to the idle list if it can carry more messages."""
        keep = (
            reusable
            and not self._closing
            and session.alive
            and session.messages_sent < self._options.max_messages
        )
        if keep:
            self._idle.append(session)
            self._ensure_reaper()
        else:
            self._close_later(session)
        self._slots.release()

    async def open_fresh(self) -> SmtpSession:
        """A new session outside the idle list (used to replace a stale one mid-send)."""
        return await self._open()

    def discard(self, session: SmtpSession) -> None:
        self._close_later(session)

    def _take_idle(self) -> SmtpSession | None:
        now = time.monotonic()
        while self._idle:
            session = self._idle.pop()  # LIFO: the warmest session first
            if session.alive and not self._expired(session, now):
                return session
            self._close_later(session)
        return None

    async def _open(self) -> SmtpSession:
        session = SmtpSession(self.server, self._session_options)
        await session.open()
        self.opened += 1
        return session

    def _expired(self, session: SmtpSession, now: float) -> bool:
        idle_s = self._options.idle_timeout / 1000
        return idle_s > 0 and now - session.last_used > idle_s

    def _close_later(self, session: SmtpSession) -> None:
        task = asyncio.ensure_future(session.close())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def _ensure_reaper(self) -> None:
        if self._options.idle_timeout > 0 and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        """Close sessions idle past `idleTimeout`; stops when nothing is idle."""
        interval = max(self._options.idle_timeout / 2000, 0.05)
        while self._idle:
            await asyncio.sleep(interval)
            now = time.monotonic()
            expired = [s for s in self._idle if self._expired(s, now) or not s.alive]
            for session in expired:
                self._idle.remove(session)
                await session.close()

    async def aclose(self, timeout: float = 30.0) -> None:
        """Wait for in-flight sends to finish (bounded), then QUIT every session."""
        self._closing = True
        held = 0
        with contextlib.suppress(TimeoutError):
            for _ in range(self._options.max_connections):
                await asyncio.wait_for(self._slots.acquire(), timeout)
                held += 1
        if self._reaper is not None:
            self._reaper.cancel()
        idle, self._idle = self._idle, []
        await asyncio.gather(*(s.close() for s in idle), return_exceptions=True)
        for _ in range(held):
            self._slots.release()
        self._closing = False
