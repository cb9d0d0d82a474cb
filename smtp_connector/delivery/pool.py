"""Warm, authenticated SMTP sessions per server, shared safely by concurrent sends.

Opening a session (TCP, greeting, STARTTLS, AUTH) costs several round trips and a TLS handshake;
a warm one costs none. The pool keeps up to `maxConnections` connections per server, each owned
by one sender task (delivery/sender.py) that takes messages from the pool's queue; it recycles
each connection after `maxMessages` (providers such as SparkPost ask for it), closes idle ones
after `idleTimeout`, and spaces sends by `rateLimit`.

Each queued message carries its send's deadline; one timer per pool, armed for the earliest
deadline in the queue, fails the messages that waited too long (no timer per message).

A process that asks for it (`freeze_gc_after_warmup()`; `serve` and its workers do) has its
long-lived objects moved out of the garbage collector's sight once, after its first
`FREEZE_GC_AFTER` queued messages (warm: modules, connectors, compiled templates and pools
exist): a full collection otherwise walks all of them again and again while a burst of sends
allocates, a pause of milliseconds each time. Opt-in because the collector's state belongs to
the application that imports the library, not to the library.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
from collections import deque
from typing import TYPE_CHECKING

from ..errors import Cause, ConnectorError, ErrorCode
from .checkpoint import current_checkpoint
from .sender import Sender, close_quietly
from .session import SessionOptions
from .throttle import SharedRateStore
from .transaction import Delivery, Job

if TYPE_CHECKING:
    from ..config import RateLimitOptions
    from ..config.views import PoolView, ServerView

FREEZE_GC_AFTER = 1000
_new_job = object.__new__


class _GcFreeze:
    """Counts queued messages once armed; at zero collects the young generations (so the
    short-lived garbage of the warm-up is not kept) and freezes what is left, once per
    process. Reference counting still frees frozen objects; only frozen cycles stay."""

    remaining = 0  # 0: not armed (the default) or already frozen

    def tick(self) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            if self.remaining == 0:
                gc.collect(1)
                gc.freeze()


_gc_freeze = _GcFreeze()


def freeze_gc_after_warmup(messages: int = FREEZE_GC_AFTER) -> None:
    """Opt in to one `gc.freeze()` after this process's next `messages` queued messages.

    For a long-running sender (a worker, a service): later full collections skip the warm
    objects instead of pausing the loop for milliseconds. Not done unasked: `gc.freeze()` is
    process-wide, and objects alive then are never collected as cycles."""
    if messages < 1:
        raise ValueError("messages must be at least 1")
    _gc_freeze.remaining = messages


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
    """Connections to one server and the queue of messages waiting for them."""

    def __init__(
        self,
        server: ServerView,
        session_options: SessionOptions,
        options: PoolView,
        rate_limit: RateLimitOptions | None = None,
        shared_rate: SharedRateStore | None = None,
    ) -> None:
        self.server = server
        self._session_options = session_options
        self._options = options
        # Read on most sends (`_dispatch`): copied, not read from the model each time.
        self._max_connections = options.max_connections
        self._queue: deque[Job] = deque()
        self._senders: dict[Sender, asyncio.Task[None]] = {}
        self._idle: dict[Sender, asyncio.Future[bool]] = {}  # insertion order: LIFO wake-ups
        self._rate = RateLimiter(rate_limit, shared_rate, server.address) if rate_limit else None
        self._reaper: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._expiry_at = 0.0
        self._closing = False
        self._stopping = False  # aclose is stopping the senders: start no new one
        self.opened = 0  # sessions opened over the pool's life (for tests and stats)
        self._loop: asyncio.AbstractEventLoop | None = None  # asking for it costs a getpid()

    # -- the sends' side ----------------------------------------------------------------------

    def submit(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        smtputf8: bool,
        deadline: float,
        crlf_only: bool = False,
        payload: bytes | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue one message; the future gets its `Delivery` or its `ConnectorError`. The
        send's before-DATA checkpoint (if any) is taken from the caller's context here.
        `crlf_only`: `data` ends every line with CRLF (see `dot_stuff`); `payload`: `data`
        already dot-stuffed and terminated, as DATA sends it."""
        loop = self._loop
        if loop is None:  # the pool serves the loop it was first used on (one pool per loop)
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivery] = loop.create_future()
        # `Job(...)` without the dataclass's `__init__` (a class call through `slot_tp_init`):
        # every slot stored, in `__init__`'s order (tests/delivery/test_plain_builds.py).
        job = _new_job(Job)
        job.sender, job.recipients, job.data = sender, recipients, data
        job.smtputf8, job.deadline = smtputf8, deadline
        job.checkpoint, job.future = current_checkpoint(), future
        job.retried = job.reused = job.content_sent = False
        job.crlf_only, job.payload = crlf_only, payload
        if _gc_freeze.remaining:  # armed: count the message (else no call)
            _gc_freeze.tick()
        self._queue.append(job)
        if self._expiry is None or self._expiry_at > deadline:
            self._arm_expiry(deadline)
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Wake the warmest idle sender, or start one if the pool has room."""
        if self._stopping:  # what is queued now is failed when the senders have stopped
            return
        if self._idle:
            sender = next(reversed(self._idle))
            self._idle.pop(sender).set_result(True)
        elif len(self._senders) < self._max_connections:
            sender = Sender(self, self.server, self._session_options, self._options)
            # The sender outlives the send that started it: it must not carry that send's
            # context (its checkpoint, for one), so it starts from an empty one.
            task = contextvars.Context().run(asyncio.ensure_future, sender.run())
            self._senders[sender] = task

    def _arm_expiry(self, at: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry_at = at
        delay = max(at - time.monotonic(), 0.0)
        self._expiry = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        """Fail the queued messages whose deadline has passed; re-arm for the next one."""
        self._expiry = None
        now = time.monotonic()
        for job in [j for j in self._queue if j.deadline <= now or j.future.done()]:
            self._queue.remove(job)
            _time_out(job, self.server.address)
        if self._queue:
            self._arm_expiry(min(job.deadline for job in self._queue))

    # -- the senders' side (sender.Feed) ------------------------------------------------------

    def has_work(self) -> bool:
        return bool(self._queue)

    def take(self) -> Job | None:
        """The oldest message still wanted, or None."""
        queue = self._queue
        while queue:
            job = queue.popleft()
            if job.future.done():
                continue
            if job.deadline <= time.monotonic():
                _time_out(job, self.server.address)
                continue
            return job
        return None

    def requeue(self, job: Job) -> None:
        """A message moved off a dead connection goes first."""
        self._queue.appendleft(job)
        self._dispatch()

    async def idle(self, sender: Sender) -> bool:
        """Park `sender` until there is work (True) or it should close (False)."""
        if self._closing:
            return False
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._idle[sender] = waiter
        sender.idle_since = time.monotonic()
        self._ensure_reaper()
        return await waiter

    async def pace(self) -> bool:
        """Wait for the rate limit; True when messages may be chained (no rate limit)."""
        if self._rate is None:
            return True
        await self._rate.wait()
        return False

    def opened_one(self) -> None:
        self.opened += 1

    def gone(self, sender: Sender) -> None:
        self._senders.pop(sender, None)
        waiter = self._idle.pop(sender, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if self._queue and not self._idle:
            self._dispatch()

    # -- idle connections and shutdown --------------------------------------------------------

    def _ensure_reaper(self) -> None:
        if self._options.idle_timeout > 0 and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        """Close connections idle past `idleTimeout`; stops when nothing is idle."""
        idle_s = self._options.idle_timeout / 1000
        interval = max(idle_s / 2, 0.05)
        while self._idle:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for sender in [s for s in self._idle if now - s.idle_since > idle_s]:
                self._idle.pop(sender).set_result(False)

    async def aclose(self, timeout: float = 30.0) -> None:
        """Wait for queued and in-flight sends to finish (bounded), then QUIT every session."""
        self._closing = True
        try:
            end = time.monotonic() + timeout
            while (self._queue or len(self._senders) > len(self._idle)) and (
                time.monotonic() < end
            ):
                await asyncio.sleep(0.01)
            self._stopping = True
            if self._reaper is not None:
                self._reaper.cancel()
            for waiter in self._idle.values():
                waiter.set_result(False)
            self._idle.clear()
            tasks = list(self._senders.values())
            for task in tasks:
                if time.monotonic() >= end:
                    task.cancel()
            for task in tasks:
                await close_quietly(task)
            while self._queue:  # left when the wait ran out: never sent, safe to retry
                _closed_before_sent(self._queue.popleft(), self.server.address)
        finally:
            self._closing = self._stopping = False


def _closed_before_sent(job: Job, server: str) -> None:
    if not job.future.done():
        job.future.set_exception(
            ConnectorError(
                ErrorCode.CONNECTION_FAILED,
                f"The pool for {server} was closed before this message was sent.",
                server=server,
                retryable=True,
                stage="connect",
            )
        )


def _time_out(job: Job, server: str) -> None:
    if job.future.done():
        return
    job.future.set_exception(
        ConnectorError(
            ErrorCode.TIMEOUT,
            f"retry.deadline reached while connecting to {server}; no connection was ready "
            "in time (raise `retry.deadline` or check the server).",
            server=server,
            retryable=True,
            stage="connect",
            cause=Cause.CONNECT_TIMEOUT,
            reason="no connection was ready in time",
        )
    )
