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
from typing import Any, Protocol

from smtp_connector.store import MessageStatus, SendJob, SendOutcome
from smtp_connector.store.pages import Page
from smtp_connector.store.recent import RecentMessage, RecentQuery

from .outbox import NewMessage, Outbox
from .policy import RetryPolicy


class Dispatcher(Protocol):
    """How an engine learns about a new message (its only engine-specific step)."""

    async def dispatch(self, message_id: str) -> None: ...

    async def aclose(self) -> None: ...


_new_object = object.__new__


def _new_message(
    app_id: str, definition_ids: tuple[str, ...], recipient: str, usage_type: str,
    payload: dict[str, Any], locale: str | None, max_attempts: int, expires_at: float,
    idempotency_key: str | None, request_hash: str | None,
) -> NewMessage:  # fmt: skip
    """`NewMessage(...)` without the frozen dataclass's `__init__` (an `object.__setattr__`
    call per field: 21,600 instructions for ten, against 6,100): the fields stored into the
    instance's own (empty) `__dict__` in field order, as store/sending.py's `request_job` does
    (issue 26 §1). The same instance as the constructor's: tests/store/test_quick_records.py."""
    new: NewMessage = _new_object(NewMessage)
    fields = new.__dict__
    fields["app_id"] = app_id
    fields["definition_ids"] = definition_ids
    fields["recipient"] = recipient
    fields["usage_type"] = usage_type
    fields["payload"] = payload
    fields["locale"] = locale
    fields["max_attempts"] = max_attempts
    fields["expires_at"] = expires_at
    fields["idempotency_key"] = idempotency_key
    fields["request_hash"] = request_hash
    return new


class QueueSender:
    def __init__(self, outbox: Outbox, dispatcher: Dispatcher, policy: RetryPolicy) -> None:
        self.outbox = outbox
        self.dispatcher = dispatcher
        self.policy = policy

    async def enqueue(self, job: SendJob) -> SendOutcome:
        expires = job.expires_at.timestamp() if job.expires_at else None
        new = _new_message(
            job.app_id, job.definition_ids, job.to, job.usage_type, dict(job.payload), job.locale,
            job.max_attempts or self.policy.max_attempts,
            expires or time.time() + self.policy.default_ttl, job.idempotency_key,
            job.request_hash,
        )  # fmt: skip
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
