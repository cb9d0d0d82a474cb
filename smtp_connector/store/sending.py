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
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from smtp_connector import ConnectorError, SendResult

from .pages import Page
from .recent import RecentMessage, RecentQuery


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
    request_hash: str | None = None  # the request's fingerprint: a reused key must match it
    expires_at: datetime | None = None  # a queued message not sent by then is abandoned
    max_attempts: int | None = None  # None: the queue's policy decides
    # The app's (definitions, templates) versions, when the queue read them in the claim's own
    # transaction (after the job was queued, so as new as deliver_now's own read); None: read.
    versions: tuple[int, int] | None = None


_new_object = object.__new__


def request_job(
    app_id: str, to: str, usage_type: str, payload: dict[str, Any], locale: str | None,
    definition_ids: tuple[str, ...], idempotency_key: str | None, request_hash: str | None,
    expires_at: datetime | None, max_attempts: int | None,
) -> SendJob:  # fmt: skip
    """`SendJob(...)` for a request's send (no `versions`), without the frozen dataclass's
    `__init__`: that one calls `object.__setattr__` once per field, 20,600 instructions for
    a job's eleven, where storing them into the instance's own (empty) `__dict__` in field
    order costs 5,800 (issue 26 §1). The instance is the constructor's (fields and
    their order, eq, repr, frozen): tests/store/test_quick_records.py."""
    job: SendJob = _new_object(SendJob)
    fields = job.__dict__
    fields["app_id"] = app_id
    fields["to"] = to
    fields["usage_type"] = usage_type
    fields["payload"] = payload
    fields["locale"] = locale
    fields["definition_ids"] = definition_ids
    fields["idempotency_key"] = idempotency_key
    fields["request_hash"] = request_hash
    fields["expires_at"] = expires_at
    fields["max_attempts"] = max_attempts
    fields["versions"] = None
    return job


UNKNOWN_ADVICE = (
    "Do not retry: the connection to the SMTP server dropped after the message's content was "
    "sent, before the server confirmed it, so the server may have accepted it and may deliver "
    "it; a retry could deliver a second code. If it does not arrive, let the user ask for a "
    "new code."
)


@dataclass
class SendOutcome:
    """How a send ended: `sent` with the library's result; `queued` with the queue's message id
    (and, for a repeated `Idempotency-Key`, the message's current `state`); `delivery_unknown`
    when the reply to the message's content was lost (`unknown`: the library's error). A repeat
    of a direct send answers the first answer again (`answer`). `replayed`: answered from an
    earlier request with the same key, nothing sent now."""

    status: Literal["sent", "queued", "delivery_unknown"]
    result: SendResult | None = None
    message_id: str | None = None
    definition_id: str | None = None
    # What the template check found that does not stop the send (store/precheck.py).
    warnings: list[str] = field(default_factory=list)
    unknown: ConnectorError | None = None
    state: MessageStatus | None = None
    answer: dict[str, Any] | None = None
    replayed: bool = False

    @property
    def http_status(self) -> int:
        """200 once the server accepted the message; 202 for anything short of that."""
        return 200 if self.status == "sent" else 202

    @classmethod
    def replay(cls, answer: dict[str, Any]) -> SendOutcome:
        if answer.get("status") == "sent":
            return cls("sent", answer=answer, replayed=True)
        return cls("delivery_unknown", answer=answer, replayed=True)

    def to_dict(self) -> dict[str, Any]:
        if self.answer is not None:
            return self.answer
        if self.state is not None:
            return self.state.to_dict()
        if self.unknown is not None:
            return self._unknown_dict(self.unknown)
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

    def _unknown_dict(self, error: ConnectorError) -> dict[str, Any]:
        return {
            "status": "delivery_unknown",
            "messageId": error.message_id,
            "server": error.server,
            "definitionId": self.definition_id,
            "attempts": error.attempts,
            "message": UNKNOWN_ADVICE,
            "detail": error.message,
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

    def to_dict(self) -> dict[str, Any]:
        """The wire form (camelCase, `expiresAt` in ISO 8601 as pydantic writes it: `…Z`)."""
        expires = datetime.fromtimestamp(self.expires_at, UTC) if self.expires_at else None
        return {
            "id": self.id,
            "status": self.status,
            "attempts": self.attempts,
            "lastError": self.last_error,
            "messageId": self.message_id,
            "server": self.server,
            "expiresAt": expires.isoformat().replace("+00:00", "Z") if expires else None,
        }


DeliverNow = Callable[[SendJob], Awaitable[SendOutcome]]


class Sender(Protocol):
    """Where jobs of `enqueue` definitions go; `smtp_connector.queue` implements it."""

    async def enqueue(self, job: SendJob) -> SendOutcome: ...

    async def replay(self, app_id: str, key: str, request_hash: str) -> SendOutcome | None:
        """The message queued earlier with this key, in its current state (None: none)."""
        ...

    async def status(self, message_id: str) -> MessageStatus | None: ...

    async def recent(self, query: RecentQuery) -> Page[RecentMessage] | None:
        """The app's queued messages, newest first (None: this sender keeps none)."""
        ...

    async def aclose(self) -> None: ...


class DirectSender:
    """No queue yet: `enqueue` definitions are delivered directly (status "sent", HTTP 200),
    and no message has a queue status (`GET /v1/messages/{id}` is 404)."""

    def __init__(self, deliver_now: DeliverNow) -> None:
        self._deliver_now = deliver_now

    async def enqueue(self, job: SendJob) -> SendOutcome:
        return await self._deliver_now(job)

    async def replay(self, app_id: str, key: str, request_hash: str) -> SendOutcome | None:
        return None

    async def status(self, message_id: str) -> MessageStatus | None:
        return None

    async def recent(self, query: RecentQuery) -> Page[RecentMessage] | None:
        return None

    async def aclose(self) -> None:
        return None
