"""`/v1/apps/{app_id}/messages` (send; list the app's queued messages) and `/v1/messages/{id}`
(one queued message's status)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from smtp_connector.store import MessageRequest, SendOutcome
from smtp_connector.store.pages import DEFAULT_LIMIT

from ..deps import Reader, Sender, ServiceDep
from ..errors import NATIVE_ERRORS, ApiFailure, Failure
from .paging import LINKED, Cursor, Limit, link_next

REPLAYED_HEADER = "Idempotent-Replayed"
_BUSY = "no active definition, or the same Idempotency-Key is still being sent"
_REUSED = "malformed request, or an Idempotency-Key reused with a different request"

router = APIRouter(tags=["messages"], responses=NATIVE_ERRORS | {
    502: NATIVE_ERRORS[400] | {"description": "every SMTP server failed"},
    504: NATIVE_ERRORS[400] | {"description": "the SMTP server did not answer in time"},
})  # fmt: skip


class Sent(BaseModel):
    status: Literal["sent"]
    messageId: str
    accepted: list[str]
    rejected: dict[str, list[Any]]
    server: str
    response: str
    attempts: int
    smtpCode: int | None
    definitionId: str | None
    warnings: list[str] = Field(
        default_factory=list,
        description="what the template check found that did not stop the send (a usage type "
        "or locale that fell back to another template, the template's own findings)",
    )


class Queued(BaseModel):
    id: str
    status: Literal["queued"]
    warnings: list[str] = Field(default_factory=list, description="as for a sent message")


class MessageState(BaseModel):
    id: str
    status: Literal["queued", "sending", "sent", "failed", "abandoned"]
    attempts: int
    lastError: dict[str, Any] | None
    messageId: str | None
    server: str | None
    expiresAt: datetime | None = None


class DeliveryUnknown(BaseModel):
    """The reply to the message's content was lost: do not retry (see `message`)."""

    status: Literal["delivery_unknown"]
    messageId: str | None
    server: str | None
    definitionId: str | None = None
    attempts: int | None = None
    message: str
    detail: str | None = None


def outcome_headers(outcome: SendOutcome) -> dict[str, str]:
    """Stripe's `Idempotent-Replayed: true` on an answer repeated for an `Idempotency-Key`."""
    return {REPLAYED_HEADER: "true"} if outcome.replayed else {}


@router.post(
    "/v1/apps/{app_id}/messages",
    response_model=Sent,
    responses={
        202: {
            "model": Queued | MessageState | DeliveryUnknown,
            "description": "queued (definition with enqueue): `{id, status: queued}`, or for a "
            "repeated Idempotency-Key the message's current state; or `delivery_unknown`: the "
            "connection dropped after the content was sent, the server may have the message, "
            "do not retry",
        },
        409: NATIVE_ERRORS[400] | {"description": _BUSY},
        422: NATIVE_ERRORS[400] | {"description": _REUSED},
    },
)
async def send_message(
    app_id: str,
    body: MessageRequest,
    actor: Sender,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="a repeated request with the same key (per app, 24 h for direct "
            "sends) answers the first one's outcome (a queued message in its current state) "
            "instead of sending again; the same key with another body is 422, while the first "
            "is still sending 409; empty is 400",
        ),
    ] = None,
) -> Any:
    """Send through the app's active definitions in priority order (failover); 202 with the
    message's id when the first definition has `enqueue`, or `delivery_unknown`."""
    outcome = await service.messages.send(actor, app_id, body, idempotency_key=idempotency_key)
    return JSONResponse(
        outcome.to_dict(), status_code=outcome.http_status, headers=outcome_headers(outcome)
    )


@router.get("/v1/messages/{message_id}", response_model=MessageState)
async def message_status(message_id: str, actor: Reader, service: ServiceDep) -> MessageState:
    status = await service.messages.status(actor, message_id)
    if status is None:
        raise ApiFailure(Failure(404, "not_found", f"No queued message {message_id!r}."))
    return MessageState.model_validate(status.to_dict())


Status = Literal["queued", "sending", "sent", "failed", "abandoned"]


class RecentMessage(BaseModel):
    """One queued message as the app's list shows it: the recipient masked (`a***@example.org`)."""

    id: str
    status: Status
    to: str = Field(description="the recipient, masked: first character, `***`, the domain")
    usageType: str
    locale: str | None
    attempts: int
    created: datetime
    updated: datetime
    lastError: dict[str, Any] | None
    server: str | None


@router.get(
    "/v1/apps/{app_id}/messages",
    response_model=list[RecentMessage],
    responses=LINKED | {404: NATIVE_ERRORS[404] | {"description": "no such app, or no queue"}},
)
async def recent_messages(
    app_id: str,
    request: Request,
    response: Response,
    actor: Reader,
    service: ServiceDep,
    status: Annotated[Status | None, Query(description="only messages in this state")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Any:
    """The app's queued messages, newest first (recipients masked); more than `limit`: see the
    `Link` header. Counts per status: `GET /v1/queue?appId=…`."""
    page = await service.messages.recent(actor, app_id, status, limit, cursor)
    if page is None:
        raise ApiFailure(Failure(404, "not_found", "This service runs without a queue."))
    link_next(request, response, page, limit)
    return [item.to_dict() for item in page.items]
