"""`/v1/apps/{app_id}/messages` (send) and `/v1/messages/{id}` (queued message status)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from smtp_connector.store import MessageRequest

from ..deps import Reader, Sender, ServiceDep
from ..errors import NATIVE_ERRORS, ApiFailure, Failure

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


class Queued(BaseModel):
    id: str
    status: Literal["queued"]


class MessageState(BaseModel):
    id: str
    status: Literal["queued", "sending", "sent", "failed", "abandoned"]
    attempts: int
    lastError: dict[str, Any] | None
    messageId: str | None
    server: str | None
    expiresAt: datetime | None = None


@router.post(
    "/v1/apps/{app_id}/messages",
    response_model=Sent,
    responses={202: {"model": Queued, "description": "queued (definition with enqueue)"}},
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
            description="queued sending: a repeated request with the same key returns the "
            "first message instead of sending a second one",
        ),
    ] = None,
) -> Any:
    """Send through the app's active definitions in priority order (failover); 202 with the
    message's id when the first definition has `enqueue`."""
    outcome = await service.messages.send(actor, app_id, body, idempotency_key=idempotency_key)
    if outcome.status == "queued":
        return JSONResponse(outcome.to_dict(), status_code=202)
    return outcome.to_dict()


@router.get("/v1/messages/{message_id}", response_model=MessageState)
async def message_status(message_id: str, actor: Reader, service: ServiceDep) -> MessageState:
    status = await service.messages.status(actor, message_id)
    if status is None:
        raise ApiFailure(Failure(404, "not_found", f"No queued message {message_id!r}."))
    return MessageState(
        id=status.id,
        status=status.status,
        attempts=status.attempts,
        lastError=status.last_error,
        messageId=status.message_id,
        server=status.server,
        expiresAt=(datetime.fromtimestamp(status.expires_at, UTC) if status.expires_at else None),
    )
