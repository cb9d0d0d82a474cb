"""The send path's seams: what a send job is, what comes back, and the pluggable `Sender`
that decides what "enqueue" means.

A definition with `enqueue` hands its jobs to `Sender.enqueue`. `DirectSender` delivers them
at once, inside the request, and reports "sent" (a store opened without a queue); the outbox
(`smtp_connector.queue.QueueSender`) implements the same protocol and answers "queued" with an
id. Jobs carry ids, never secrets: a worker rebuilds the connector from the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from smtp_connector import SendResult


@dataclass(frozen=True)
class SendJob:
    """One message to send for an app (what a queue row would persist)."""

    app_id: str
    to: str
    usage_type: str
    payload: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None
    definition_ids: tuple[str, ...] = ()  # the definitions in the order they were chosen
    idempotency_key: str | None = None  # the same key for the same app: the same message
    expires_at: datetime | None = None  # a queued message not sent by then is abandoned
    max_attempts: int | None = None  # None: the queue's policy decides


@dataclass
class SendOutcome:
    """`sent` with the library's result, or `queued` with the queue's message id."""

    status: Literal["sent", "queued"]
    result: SendResult | None = None
    message_id: str | None = None
    definition_id: str | None = None
    # What the template check found that does not stop the send (store/precheck.py).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        if self.result is None:
            return {"id": self.message_id, "status": self.status, "warnings": self.warnings}
        result = self.result
        return {
            "status": self.status,
            "messageId": result.message_id,
            "accepted": result.accepted,
            "rejected": {rcpt: list(reply) for rcpt, reply in result.rejected.items()},
            "server": result.server,
            "response": result.response,
            "attempts": result.attempts,
            "smtpCode": result.smtp_code,
            "definitionId": self.definition_id,
            "warnings": self.warnings,
        }


@dataclass
class MessageStatus:
    """A queued message's state, as `GET /v1/messages/{id}` returns it."""

    id: str
    status: Literal["queued", "sending", "sent", "failed", "abandoned"]
    attempts: int = 0
    last_error: dict[str, Any] | None = None
    message_id: str | None = None
    server: str | None = None
    app_id: str | None = None  # whose message it is (a key bound to another app gets a 404)
    expires_at: float | None = None  # epoch seconds


DeliverNow = Callable[[SendJob], Awaitable[SendOutcome]]


class Sender(Protocol):
    """Where jobs of `enqueue` definitions go; `smtp_connector.queue` implements it."""

    async def enqueue(self, job: SendJob) -> SendOutcome: ...

    async def status(self, message_id: str) -> MessageStatus | None: ...

    async def aclose(self) -> None: ...


class DirectSender:
    """No queue yet: `enqueue` definitions are delivered directly (status "sent", HTTP 200),
    and no message has a queue status (`GET /v1/messages/{id}` is 404)."""

    def __init__(self, deliver_now: DeliverNow) -> None:
        self._deliver_now = deliver_now

    async def enqueue(self, job: SendJob) -> SendOutcome:
        return await self._deliver_now(job)

    async def status(self, message_id: str) -> MessageStatus | None:
        return None

    async def aclose(self) -> None:
        return None
