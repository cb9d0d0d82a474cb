"""One task per connection: it opens the session, takes messages from its pool's queue and
delivers them, chaining them on a pipelined session, until it is idle too long or retired.

Before, every send took a session from the pool (a semaphore, a lock, a timer per wait) and ran
its own transaction; a busy connection then woke one task per message just to hand over a
socket. Now the connection has one owner and messages come to it: the wake-ups are the sends'
own futures, and a message that arrives while the connection is busy rides on the next write.

A reused connection found dead before a message's content was sent (the server dropped it
while idle, or it was lost after the previous message's final dot) is replaced once, silently:
the message goes back to the head of the queue and the next connection carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Protocol

from ..errors import Cause, ConnectorError, ErrorCode
from .chain import Outcome, run_chain
from .session import SessionOptions, SmtpSession
from .transaction import Job

if TYPE_CHECKING:
    from ..config.views import PoolView, ServerView


class Feed(Protocol):
    """What a sender needs from its pool."""

    def has_work(self) -> bool: ...
    def take(self) -> Job | None: ...
    def requeue(self, job: Job) -> None: ...
    async def idle(self, sender: Sender) -> bool: ...
    async def pace(self) -> bool: ...
    def opened_one(self) -> None: ...
    def gone(self, sender: Sender) -> None: ...


def stale(error: ConnectorError) -> bool:
    """A reused session that died while idle fails at its first command."""
    return error.stage == "mail" and (
        error.code is ErrorCode.CONNECTION_FAILED or error.smtp_code == 421
    )


class Sender:
    """The owner of one connection to one server."""

    def __init__(
        self,
        feed: Feed,
        server: ServerView,
        session_options: SessionOptions,
        options: PoolView,
    ) -> None:
        self._feed = feed
        self._server, self._session_options = server, session_options
        self._max_messages = options.max_messages
        self._session: SmtpSession | None = None
        self._assigned = 0  # messages put on the current session
        self._in_flight: set[Job] = set()
        self.idle_since = time.monotonic()

    async def run(self) -> None:
        """Serve the queue until told to stop; every message taken is settled on the way out.

        The queue's loop is written here, not in a coroutine of its own, and a pipelined
        session's chain is awaited from it directly: the task resumes through every coroutine
        it awaits, once or twice a message, so each level less is paid per message."""
        feed = self._feed
        try:
            while True:
                if not feed.has_work():
                    if not await feed.idle(self):
                        break
                    continue
                if not self._usable():
                    await self._retire()
                    if not await self._open():
                        break
                chaining = await feed.pace()
                job = feed.take()
                if job is None:
                    continue
                session = self._session
                assert session is not None
                protocol = session.pipelining
                if protocol is None:
                    await self._serve(job, chaining)
                    continue
                self._assign(job)
                take = self._take_more if chaining else _nothing
                await run_chain(session, protocol, job, take, self._settle)
        except BaseException as exc:
            self._fail_in_flight(exc)
            if self._session is not None:
                self._session.abort()
            raise
        finally:
            feed.gone(self)
        await self._retire()

    def _usable(self) -> bool:
        session = self._session
        return session is not None and session.alive and self._assigned < self._max_messages

    async def _open(self) -> bool:
        """A new session; if it cannot be opened the next waiting message fails with the
        reason (each waiting send gets its own try, as with one connection per send)."""
        session = SmtpSession(self._server, self._session_options)
        try:
            await session.open()
        except ConnectorError as error:
            self._fail_next(error)
            return False
        self._session, self._assigned = session, 0
        self._feed.opened_one()
        return True

    def _fail_next(self, error: ConnectorError) -> None:
        """The next waiting message fails with `error`. In a frame of its own: a frame the
        error passed through keeps its locals while the error's traceback lives, and a job
        there would tie error → traceback → frame → job → future → error into a cycle, which
        would keep the whole connector for the garbage collector
        (tests/delivery/test_connector_release.py)."""
        job = self._feed.take()
        if job is not None:
            self._assigned = 0
            self._assign(job)
            self._settle(job, error)

    async def _retire(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _serve(self, job: Job, chaining: bool) -> None:
        """One message on a lock-step session (`run` chains a pipelined one itself)."""
        session = self._session
        assert session is not None
        self._assign(job)
        checkpoint = job.checkpoint

        async def reached() -> None:  # the content is written right after this returns
            if checkpoint is not None:
                await checkpoint()
            job.content_sent = True

        outcome: Outcome
        try:
            outcome = await session.deliver(
                job.sender,
                job.recipients,
                job.data,
                smtputf8=job.smtputf8,
                deadline=job.deadline,
                checkpoint=reached,
            )
        except ConnectorError as error:
            outcome = error
        self._settle(job, outcome)

    def _assign(self, job: Job) -> None:
        job.reused = self._assigned > 0
        self._assigned += 1
        self._in_flight.add(job)

    def _take_more(self) -> Job | None:
        """The next waiting message, to ride on the burst that ends the current one."""
        if self._assigned >= self._max_messages:
            return None
        job = self._feed.take()
        if job is not None:
            self._assign(job)
        return job

    def _settle(self, job: Job, outcome: Outcome) -> None:
        self._in_flight.discard(job)
        self.idle_since = time.monotonic()
        if job.future.done():  # the caller gave up
            return
        if isinstance(outcome, ConnectorError):
            if job.reused and not job.retried and stale(outcome):
                job.retried = True
                self._feed.requeue(job)
            else:
                # Handed over without the frames it was raised through: they hold this job,
                # whose future would hold the error — a cycle (see `_fail_next`). The caller's
                # `await` starts its traceback afresh; its cause keeps the original failure.
                job.future.set_exception(outcome.with_traceback(None))
        else:
            job.future.set_result(outcome)

    def _fail_in_flight(self, exc: BaseException) -> None:
        """The task ends abnormally (cancelled at shutdown, or a bug): no send may hang. A
        message that never got past its checkpoint was not sent: that one may be retried."""
        address = self._server.address
        for job in self._in_flight:
            if job.future.done():
                continue
            if job.content_sent:
                error = ConnectorError(
                    ErrorCode.CONNECTION_FAILED,
                    f"The connection to {address} was closed while this message was in flight "
                    f"({type(exc).__name__}); it may or may not have been delivered.",
                    server=address,
                    retryable=False,
                    stage="after_data",
                    cause=Cause.REPLY_LOST,
                    reason=type(exc).__name__,
                )
            else:
                error = ConnectorError(
                    ErrorCode.CONNECTION_FAILED,
                    f"The connection to {address} was closed before this message's content "
                    f"was sent ({type(exc).__name__}); it was not delivered.",
                    server=address,
                    retryable=True,
                    stage="mail",
                    cause=Cause.CONNECTION_LOST,
                    reason=type(exc).__name__,
                )
            job.future.set_exception(error)
        self._in_flight.clear()


def _nothing() -> Job | None:
    return None


async def close_quietly(task: asyncio.Task[None]) -> None:
    """Wait for a sender task that was told to stop (or cancelled) without raising."""
    with contextlib.suppress(BaseException):
        await task
