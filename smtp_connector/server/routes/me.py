"""`GET /v1/me`: what the presented key may do, so a client (the admin page) can leave out the
controls a read-only or app-bound key could not use instead of letting each click fail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from smtp_connector.store import SEND_SCOPE, WRITE_SCOPE, Actor

from ..deps import bearer_actor
from ..errors import NATIVE_ERRORS

router = APIRouter(tags=["keys"], responses=NATIVE_ERRORS)


class Me(BaseModel):
    name: str
    scopes: list[str]
    appId: str | None
    readOnly: bool  # neither changes nor sends anything
    canWrite: bool
    canSend: bool


@router.get("/v1/me", response_model=Me)
async def me(actor: Annotated[Actor, Depends(bearer_actor)]) -> Me:
    """The key's name (never the key), its scopes and the one app it is limited to, if any;
    any valid key may ask, whatever its scopes."""
    return Me(
        name=actor.name,
        scopes=sorted(actor.scopes),
        appId=actor.app_id,
        readOnly=not actor.scopes & {WRITE_SCOPE, SEND_SCOPE},
        canWrite=WRITE_SCOPE in actor.scopes,
        canSend=SEND_SCOPE in actor.scopes,
    )
