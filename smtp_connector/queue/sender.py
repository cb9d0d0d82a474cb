"""`QueueSender`: the store's `Sender` seam, implemented by the outbox.

`enqueue` inserts the row (the durable promise; the 202 is returned only after it is
committed) and then tells the engine there is work: the embedded worker is woken in-process;
on procrastinate the id joins the next batch job, deferred in the background
(queue/dispatching.py). The job is deferred after the row's commit, not inside it:
procrastinate's insert trigger NOTIFYs, and PostgreSQL serialises the commits of notifying
transactions, so a durable commit that notifies would make every enqueue wait for the others'
disk flushes. A crash before the job is deferred leaves a queued row without a job, which the
periodic sweep re-dispatches. An `Idempotency-Key` already used by the app returns the first
message in its current state and dispatches nothing (the same key with a different request is
refused: `smtp_connector.store.idempotency`).
"""

from __future__ import annotations

import time
from typing import Protocol

from smtp_connector.store import MessageStatus, SendJob, SendOutcome
from smtp_connector.store.pages import Page
from smtp_connector.store.recent import RecentMessage, RecentQuery

from .outbox import NewMessage, Outbox
from .policy import RetryPolicy


class Dispatcher(Protocol):
    """How an engine learns about a new message (its only engine-specific step)."""

    async def dispatch(self, message_id: str) -> None: ...

    async def aclose(self) -> None: ...


class QueueSender:
    def __init__(self, outbox: Outbox, dispatcher: Dispatcher, policy: RetryPolicy) -> None:
        self.outbox = outbox
        self.dispatcher = dispatcher
        self.policy = policy

    async def enqueue(self, job: SendJob) -> SendOutcome:
        expires = job.expires_at.timestamp() if job.expires_at else None
        new = NewMessage(
            app_id=job.app_id,
            definition_ids=job.definition_ids,
            recipient=job.to,
            usage_type=job.usage_type,
            payload=dict(job.payload),
            locale=job.locale,
            max_attempts=job.max_attempts or self.policy.max_attempts,
            expires_at=expires or time.time() + self.policy.default_ttl,
            idempotency_key=job.idempotency_key,
            request_hash=job.request_hash,
        )
        message_id, created = await self.outbox.enqueue(new)
        if created:
            await self.dispatcher.dispatch(message_id)
            return SendOutcome("queued", message_id=message_id)
        return await self._current(message_id)

    async def replay(self, app_id: str, key: str, request_hash: str) -> SendOutcome | None:
        message_id = await self.outbox.find_by_key(app_id, key, request_hash)
        return None if message_id is None else await self._current(message_id)

    async def _current(self, message_id: str) -> SendOutcome:
        """A repeated request's answer: the first message as it is now, not as it was."""
        state = await self.status(message_id)
        return SendOutcome("queued", message_id=message_id, state=state, replayed=True)

    async def status(self, message_id: str) -> MessageStatus | None:
        row = await self.outbox.get(message_id)
        if row is None:
            return None
        return MessageStatus(
            id=row.id,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            message_id=row.message_id,
            server=row.server,
            app_id=row.app_id,
            expires_at=row.expires_at,
        )

    async def recent(self, query: RecentQuery) -> Page[RecentMessage]:
        return query.page(await self.outbox.recent(query))

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
