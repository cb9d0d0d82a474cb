"""`GET /v1/me`: what the presented key may do, so a client (the admin page) can leave out the
controls a read-only or app-bound key could not use instead of letting each click fail."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from smtp_connector.store import WRITE_SCOPE

from ..deps import Reader
from ..errors import NATIVE_ERRORS

router = APIRouter(tags=["keys"], responses=NATIVE_ERRORS)


class Me(BaseModel):
    name: str
    scopes: list[str]
    appId: str | None
    readOnly: bool


@router.get("/v1/me", response_model=Me)
async def me(actor: Reader) -> Me:
    """The key's name (never the key), its scopes and the one app it is limited to, if any."""
    return Me(
        name=actor.name,
        scopes=sorted(actor.scopes),
        appId=actor.app_id,
        readOnly=WRITE_SCOPE not in actor.scopes,
    )
