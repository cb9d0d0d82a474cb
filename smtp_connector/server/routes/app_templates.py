"""`/v1/apps/{app_id}/templates`: the app's own templates, per usage type and language tag.

Thin over the domain layer (store/templates.py holds every rule, store/template_render.py the
preview, store/template_send.py the test send): each route reads its parameters, calls one
function and shapes the answer. Reading (lists, a template, its history, the preview, the
levels) needs the read scope; saving, deleting and reverting need write; a test send, send.
A key bound to another app is refused (403) as on the app's other routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smtp_connector import UsageType
from smtp_connector.compose.shipped import shipped_locales
from smtp_connector.store.pages import DEFAULT_LIMIT
from smtp_connector.store.template_models import (
    LOCALE_PATTERN,
    USAGE_PATTERN,
    HistoryEntry,
    TemplateInput,
    TemplateView,
    check_key,
)
from smtp_connector.store.template_render import Preview, PreviewRequest
from smtp_connector.store.template_send import TemplateTest

from ..deps import Reader, Sender, ServiceDep, Writer
from ..errors import NATIVE_ERRORS
from .paging import LINKED, Cursor, Limit, link_next

router = APIRouter(
    prefix="/v1/apps/{app_id}/templates", tags=["app templates"], responses=NATIVE_ERRORS
)

UsagePath = Annotated[
    str, Path(pattern=USAGE_PATTERN, description="SignIn, Register, ForgotPassword, Generic …")
]
LocalePath = Annotated[
    str, Path(pattern=LOCALE_PATTERN, max_length=35, description="a language tag: en, pt-BR")
]
_SAVED: dict[int | str, dict[str, Any]] = {
    200: {"description": "replaced (a new version)"},
    201: {"model": TemplateView, "description": "created"},
}


class Revert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="a kept version, from …/history")


class TestSent(BaseModel):
    """The SMTP server's acceptance of the test mail; a failure is the usual error body."""

    ok: bool
    to: str
    messageId: str
    server: str
    response: str


class LevelCell(BaseModel):
    """Where a send's template for (usageType, locale) comes from."""

    usageType: str
    locale: str
    level: str
    templateUsageType: str
    templateLocale: str | None


@router.get("", response_model=list[TemplateView], responses=LINKED)
async def list_templates(
    app_id: str, request: Request, response: Response, actor: Reader, service: ServiceDep,
    usage_type: Annotated[str | None, Query(alias="usageType", pattern=USAGE_PATTERN)] = None,
    locale: Annotated[str | None, Query(pattern=LOCALE_PATTERN, max_length=35)] = None,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> list[TemplateView]:  # fmt: skip
    """The app's templates by usage type and tag; more than `limit`: see the `Link` header."""
    page = await service.templates.page(
        actor, app_id, usage_type=usage_type, locale=locale, limit=limit, cursor=cursor
    )
    link_next(request, response, page, limit)
    return page.items


@router.post("/preview", response_model=Preview, response_model_by_alias=True)
async def preview_template(
    app_id: str, body: PreviewRequest, actor: Reader, service: ServiceDep
) -> Preview:
    """Render as a send would — the stored chain's template, or `template` as if stored — with
    `payload` or a sample one; `level` says where the template came from."""
    return await service.template_render.preview(actor, app_id, body)


@router.post(
    "/test",
    response_model=TestSent,
    responses={
        409: NATIVE_ERRORS[400] | {"description": "the app has no active server definition"},
        502: NATIVE_ERRORS[400] | {"description": "the SMTP server refused or failed"},
        504: NATIVE_ERRORS[400] | {"description": "the SMTP server did not answer in time"},
    },
)
async def test_template(
    app_id: str, body: TemplateTest, actor: Sender, service: ServiceDep
) -> TestSent:
    """Send the mail a send of (usageType, locale) would make — with `template`, an unsaved
    edit, in place of the stored one — to `to`, through the app's active definitions, once."""
    result = await service.template_tests.send(actor, app_id, body)
    return TestSent(ok=True, to=body.to, messageId=result.message_id, server=result.server,
                    response=result.response)  # fmt: skip


@router.get("/levels", response_model=list[LevelCell])
async def template_levels(
    app_id: str, actor: Reader, service: ServiceDep,
    usage_type: Annotated[
        list[str] | None, Query(alias="usageType", max_length=50)
    ] = None,
    locale: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """For each usage type × locale (default: the known usage types × the shipped locales),
    the level a send's template comes from: app, defaultLocale, config or shipped."""
    usages = usage_type or [usage.value for usage in UsageType]
    locales = locale or list(shipped_locales())
    for usage in usages:
        for tag in locales:
            check_key(usage, tag)
    return await service.template_render.levels(actor, app_id, usages, locales)


@router.get("/{usage_type}/{locale}", response_model=TemplateView)
async def get_template(
    app_id: str, usage_type: UsagePath, locale: LocalePath, actor: Reader, service: ServiceDep
) -> TemplateView:
    return await service.templates.get(actor, app_id, usage_type, locale)


@router.put("/{usage_type}/{locale}", response_model=TemplateView, responses=_SAVED)
async def put_template(
    app_id: str, usage_type: UsagePath, locale: LocalePath, body: TemplateInput,
    actor: Writer, service: ServiceDep,
) -> Any:  # fmt: skip
    """Create (201) or replace (200) — checked first: a syntax error, a template the sandbox
    stops, or a bad sendFrom/replyTo is 422; a missing code placeholder only a warning."""
    saved = await service.templates.put(actor, app_id, usage_type, locale, body)
    return _saved(saved.template, 201 if saved.created else 200)


@router.delete("/{usage_type}/{locale}", status_code=204, response_class=Response)
async def delete_template(
    app_id: str, usage_type: UsagePath, locale: LocalePath, actor: Writer, service: ServiceDep
) -> Response:
    """Delete it and its history: the app's sends fall back along the chain."""
    await service.templates.delete(actor, app_id, usage_type, locale)
    return Response(status_code=204)


@router.get("/{usage_type}/{locale}/history", response_model=list[HistoryEntry])
async def template_history(
    app_id: str, usage_type: UsagePath, locale: LocalePath, actor: Reader, service: ServiceDep
) -> list[HistoryEntry]:
    """The kept versions (the last 20), newest first, with who saved each and when."""
    return await service.templates.history(actor, app_id, usage_type, locale)


@router.post("/{usage_type}/{locale}/revert", response_model=TemplateView)
async def revert_template(
    app_id: str, usage_type: UsagePath, locale: LocalePath, body: Revert,
    actor: Writer, service: ServiceDep,
) -> Any:  # fmt: skip
    """Save kept `version` again, as the newest version (checked as a save is)."""
    saved = await service.templates.revert(actor, app_id, usage_type, locale, body.version)
    return _saved(saved.template, 200)


def _saved(view: TemplateView, status: int) -> JSONResponse:
    return JSONResponse(view.model_dump(mode="json", by_alias=True), status_code=status)
