"""`/v1/apps`: the apps (tenants) that own server definitions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from smtp_connector.store import App, AppCreate, AppPatch
from smtp_connector.store.pages import DEFAULT_LIMIT

from ..deps import Reader, ServiceDep, Writer
from ..errors import NATIVE_ERRORS
from .paging import LINKED, Cursor, Limit, link_next

router = APIRouter(prefix="/v1/apps", tags=["apps"], responses=NATIVE_ERRORS)


@router.post("", status_code=201, response_model=App)
async def create_app(body: AppCreate, actor: Writer, service: ServiceDep) -> App:
    return await service.apps.create(actor, body)


@router.get("", response_model=list[App], responses=LINKED)
async def list_apps(
    request: Request, response: Response, actor: Reader, service: ServiceDep,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> list[App]:  # fmt: skip
    """The apps the key may see, by name; more than `limit`: see the `Link` header."""
    page = await service.apps.page(actor, limit, cursor)
    link_next(request, response, page, limit)
    return page.items


@router.get("/{app_id}", response_model=App)
async def get_app(app_id: str, actor: Reader, service: ServiceDep) -> App:
    return await service.apps.get(actor, app_id)


@router.patch("/{app_id}", response_model=App)
async def update_app(app_id: str, body: AppPatch, actor: Writer, service: ServiceDep) -> App:
    return await service.apps.update(actor, app_id, body)


@router.delete("/{app_id}", status_code=204, response_class=Response)
async def delete_app(app_id: str, actor: Writer, service: ServiceDep) -> Response:
    await service.apps.delete(actor, app_id)
    return Response(status_code=204)
