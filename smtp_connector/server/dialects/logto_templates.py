"""Logto's email-templates Management API (`/api/email-templates`) over the store's templates.

Routes, field names and status codes are Logto's (`packages/core/src/routes/email-template`):
`PUT` upserts a list `{"templates": [{languageTag, templateType, details}]}` and answers the
stored templates (200); `GET` lists them (`?languageTag=&templateType=`, ordered by language,
then type); `GET /{id}`; `PATCH /{id}/details` merges the given details; `DELETE /{id}` (204);
`DELETE ?languageTag=&templateType=` answers `{"rowCount": n}`, and 422
`connector.email_connector.bulk_deletion_no_filter` without a filter. A template is
`{tenantId, id, languageTag, templateType, details, createdAt}` (`createdAt` in epoch ms,
`tenantId` our app id). Errors are Logto's `{code, message, data}` with its codes
(`guard.invalid_input` 400, `entity.not_exists_with_id` 404); our own refusals keep our code,
and `data` carries it with a hint where there is one.

The app: the key's app; for a key bound to no app (the operator's), the app the service keeps
for this API (marked `logto`, created on first write, never found by a name).

Every rule (which template reaches which app, checks at save, caps, history) is the store's
(`store/templates.py`); this module translates names. Differences, on purpose: the store checks
what Logto stores blindly (template syntax and bombs 422, `sendFrom`/`replyTo` as addresses,
the per-app caps); language tags match case-insensitively (`pt-BR` is `pt-br`); a template
stored without `contentType` reads `text/html` (what Logto's connector sends it as).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from smtp_connector import ConnectorError
from smtp_connector.store import READ_SCOPE, WRITE_SCOPE, Actor, Service
from smtp_connector.store.template_models import TemplateInput, TemplateView
from smtp_connector.usage import KNOWN_USAGE_TYPES, UsageType, suggest_usage_type

from ..deps import ServiceDep, api_key_actor, bearer, require
from ..errors import ApiFailure, Failure, connector_failure, error_responses, register_format
from .common import bad, body_doc, field_errors, rename_fields

PREFIX = "/api/email-templates"
APP_KIND = "logto"
MAX_ID = 64  # longer is no id of ours: not found without a query
NO_FILTER = "connector.email_connector.bulk_deletion_no_filter"
_CODES = {401: "auth.authorization_header_missing", 403: "auth.forbidden",
          404: "entity.not_exists_with_id", 429: "request.rate_limited"}  # fmt: skip
_OURS_TO_LOGTO = {"usage_type": "templateType", "locale": "languageTag",
                  "content_type": "contentType", "reply_to": "replyTo",
                  "send_from": "sendFrom"}  # fmt: skip


async def logto_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    raw = credentials.credentials if credentials else None
    return await api_key_actor(request, raw, "`Authorization: Bearer KEY`")


Reader = Annotated[Actor, Depends(require(READ_SCOPE, logto_actor))]
Writer = Annotated[Actor, Depends(require(WRITE_SCOPE, logto_actor))]
ContentType = Literal["text/html", "text/plain"]
M = TypeVar("M", bound=BaseModel)


class DetailsPatch(BaseModel):
    """Logto's template details, every field optional (PATCH); unknown keys are dropped, as
    Logto's guard drops them."""

    model_config = ConfigDict(extra="ignore")

    subject: str | None = None
    content: str | None = None
    contentType: ContentType | None = None
    replyTo: str | None = None
    sendFrom: str | None = None


class Details(DetailsPatch):
    subject: str
    content: str


def known_type(value: Any) -> Any:
    """Logto's TemplateType; a near miss (`signin`, `Regsiter`) is told the type it meant."""
    if isinstance(value, str) and value not in KNOWN_USAGE_TYPES:
        meant = suggest_usage_type(value)
        if meant:
            raise ValueError(f"{value[:40]!r} is not a template type; did you mean {meant!r}?")
    return value


TemplateType = Annotated[UsageType, BeforeValidator(known_type)]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    languageTag: str = Field(min_length=1, max_length=16)
    templateType: TemplateType
    details: Details


class PutBody(BaseModel):
    templates: list[TemplateIn] = Field(min_length=1, max_length=1000)


class Filters(BaseModel):
    """The list's and bulk delete's query (`languageTag`, `templateType`), both optional."""

    languageTag: str | None = Field(default=None, min_length=1, max_length=16)
    templateType: TemplateType | None = None


class EmailTemplate(BaseModel):
    tenantId: str
    id: str
    languageTag: str
    templateType: str
    details: dict[str, str]
    createdAt: int = Field(description="epoch milliseconds")


class RowCount(BaseModel):
    rowCount: int


class LogtoError(BaseModel):
    code: str
    message: str
    data: dict[str, Any] | None = None
    details: str | None = None


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad("The request body is invalid: it is empty (send JSON).")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("The request body is invalid: it is not JSON.") from None


def guard(model: type[M], data: Any, where: str) -> M:
    """Logto's zod guard: a refusal is 400 `guard.invalid_input` naming each bad field."""
    if model is PutBody and isinstance(data, list):
        raise bad('The request body is invalid: send {"templates": [...]}, not a bare list.')
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad(f"The request {where} is invalid: {key_paths(exc)}") from None


def key_paths(error: ValidationError) -> str:
    """Each refusal under its full key path (`templates.0.details.subject`), as Logto's guard
    names them; values are not repeated (a validator's own message may quote a type name)."""
    parts = []
    for item in error.errors(include_input=False):
        path = ".".join(str(part) for part in item["loc"]) or "body"
        parts.append(f"`{path}`: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def to_input(details: dict[str, Any]) -> TemplateInput:
    """Logto's details onto the store's template input (its checks name Logto's fields)."""
    data = {key: value for key, value in details.items() if value is not None}
    try:
        return TemplateInput.model_validate(data)
    except ValidationError as exc:
        names = field_errors(exc, _OURS_TO_LOGTO)
        raise bad(f"The request body is invalid: {names}") from None


def details_of(view: TemplateView) -> dict[str, str]:
    out = {"subject": view.subject, "content": view.content, "contentType": view.content_type}
    if view.reply_to:
        out["replyTo"] = view.reply_to
    if view.send_from:
        out["sendFrom"] = view.send_from
    return out


def to_logto(view: TemplateView) -> EmailTemplate:
    return EmailTemplate(tenantId=view.app_id, id=view.id, languageTag=view.locale,
                         templateType=view.usage_type, details=details_of(view),
                         createdAt=int(view.created_at.timestamp() * 1000))  # fmt: skip


def missing(template_id: str) -> ApiFailure:
    shown = template_id[:MAX_ID]
    message = f"The email template with ID `{shown}` does not exist."
    return ApiFailure(Failure(404, "not_found", message))


async def owner_app(actor: Actor, service: Service) -> str | None:
    """The key's app, else the service's Logto app (None before its first write: nothing
    stored yet)."""
    if actor.app_id is not None:
        return actor.app_id
    found = await service.apps.find_dialect(actor, APP_KIND)
    return found.id if found else None


async def writable_app(actor: Actor, service: Service) -> str:
    """The same app for a write, creating the service's Logto app on first use."""
    if actor.app_id is not None:
        return actor.app_id
    return (await service.apps.ensure_dialect(actor, APP_KIND)).id


async def find(actor: Actor, service: Service, template_id: str) -> TemplateView:
    """The template `template_id` of the caller's app (another app's is "not found" too)."""
    app_id = await owner_app(actor, service)
    if app_id is None or len(template_id) > MAX_ID:
        raise missing(template_id)
    try:
        view = await service.templates.get_by_id(actor, template_id)
    except ConnectorError as error:
        if getattr(error, "reason", None) == "not_found":
            raise missing(template_id) from None
        raise
    if view.app_id != app_id:
        raise missing(template_id)
    return view


async def everything(actor: Actor, service: Service, app_id: str, filters: Filters) -> list[Any]:
    """All of the app's templates matching `filters`, page after page."""
    views: list[TemplateView] = []
    cursor: str | None = None
    while True:
        page = await service.templates.page(
            actor, app_id, usage_type=filters.templateType, locale=filters.languageTag,
            limit=100, cursor=cursor,
        )  # fmt: skip
        views.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return sorted(views, key=lambda v: (v.locale, v.usage_type))


def item_failure(error: ConnectorError) -> ApiFailure:
    """The store's refusal of the list (it names the item: `templates[1] (SignIn/en): …`),
    in Logto's field names."""
    failure = connector_failure(error)
    text = rename_fields(failure.message, _OURS_TO_LOGTO)
    text = re.sub(r"\): (locale|usageType) '", lambda m: f"): {_LEAD[m.group(1)]} '", text)
    return ApiFailure(dataclasses.replace(failure, message=text, error=None))


_LEAD = {"locale": "languageTag", "usageType": "templateType"}


def batch_items(items: list[TemplateIn]) -> list[tuple[str, str, TemplateInput]]:
    """The list in the store's terms; details the store's model refuses name their item."""
    batch = []
    for index, item in enumerate(items):
        usage, tag = item.templateType.value, item.languageTag
        try:
            data = to_input(item.details.model_dump())
        except ApiFailure as refused:
            message = f"templates[{index}] ({usage}/{tag}): {refused.failure.message}"
            raise ApiFailure(dataclasses.replace(refused.failure, message=message)) from None
        batch.append((usage, tag, data))
    return batch


def logto_error(request: Request, failure: Failure) -> JSONResponse:
    """Logto's RequestError body; a malformed request is its 400 `guard.invalid_input`."""
    status, code = failure.status, _CODES.get(failure.status, failure.code)
    if failure.code == "invalid_request":
        status, code = 400, "guard.invalid_input"
    # A 404 quotes the caller's id, which must not be renamed like a field.
    message = failure.message if status == 404 else rename_fields(failure.message, _OURS_TO_LOGTO)
    data = {"code": failure.code, "hint": failure.hint, "cause": failure.cause}
    body = LogtoError(code=code, message=message,
                      data={k: v for k, v in data.items() if v is not None})  # fmt: skip
    return JSONResponse(body.model_dump(exclude_none=True), status, headers=failure.headers)


_ERRORS = error_responses(LogtoError, [
    (400, "guard.invalid_input: a field is missing or malformed"),
    (401, "no key"), (403, "unknown key, missing scope or another app"),
    (404, "entity.not_exists_with_id"), (413, "body or template too large"),
    (422, "the template cannot be stored (syntax, bounds, caps) or a bulk delete without filter"),
    (429, "too many failed authentications"),
])  # fmt: skip
router = APIRouter(prefix=PREFIX, tags=["Logto email templates"], responses=_ERRORS)


@router.put("", response_model=list[EmailTemplate], openapi_extra=body_doc(PutBody, form=False))
async def replace_templates(
    request: Request, actor: Writer, service: ServiceDep
) -> list[EmailTemplate]:
    body = guard(PutBody, parse_json(await request.body()), "body")
    most = service.templates.limits.max_per_app
    if len(body.templates) > most:  # refused before any of them is rendered
        raise bad(f"`templates`: at most {most} in one list (the most one app may hold).", 422)
    batch = batch_items(body.templates)
    app_id = await writable_app(actor, service)
    # Logto stores the list in one transaction: one refused template stores none of them.
    try:
        saved = await service.templates.put_many(actor, app_id, batch)
    except ConnectorError as error:
        raise item_failure(error) from None
    return [to_logto(one.template) for one in saved]


@router.get("", response_model=list[EmailTemplate])
async def list_templates(request: Request, actor: Reader, service: ServiceDep) -> list[Any]:
    filters = guard(Filters, dict(request.query_params), "query")
    app_id = await owner_app(actor, service)
    if app_id is None:
        return []
    return [to_logto(view) for view in await everything(actor, service, app_id, filters)]


@router.delete("", response_model=RowCount)
async def delete_templates(request: Request, actor: Writer, service: ServiceDep) -> RowCount:
    filters = guard(Filters, dict(request.query_params), "query")
    if filters.languageTag is None and filters.templateType is None:
        message = (
            "At least one filter condition must be provided to perform bulk deletion by "
            "properties. Supported properties are: languageTag and templateType."
        )
        raise ApiFailure(Failure(422, NO_FILTER, message))
    app_id = await owner_app(actor, service)
    if app_id is None:
        return RowCount(rowCount=0)
    count = await service.templates.delete_many(
        actor, app_id, usage_type=filters.templateType, locale=filters.languageTag
    )
    return RowCount(rowCount=count)


@router.get("/{template_id}", response_model=EmailTemplate)
async def get_template(template_id: str, actor: Reader, service: ServiceDep) -> EmailTemplate:
    return to_logto(await find(actor, service, template_id))


@router.patch(
    "/{template_id}/details", response_model=EmailTemplate,
    openapi_extra=body_doc(DetailsPatch, form=False),
)  # fmt: skip
async def patch_details(
    template_id: str, request: Request, actor: Writer, service: ServiceDep
) -> EmailTemplate:
    change = guard(DetailsPatch, parse_json(await request.body()), "body")
    view = await find(actor, service, template_id)
    merged = details_of(view) | change.model_dump(exclude_unset=True)
    if merged == details_of(view):
        return to_logto(view)  # nothing changes: no new version in the history
    data = to_input(merged | {"text": view.text})
    saved = await service.templates.put(actor, view.app_id, view.usage_type, view.locale, data)
    return to_logto(saved.template)


@router.delete("/{template_id}", status_code=204, response_class=Response)
async def delete_template(template_id: str, actor: Writer, service: ServiceDep) -> Response:
    view = await find(actor, service, template_id)
    await service.templates.delete(actor, view.app_id, view.usage_type, view.locale)
    return Response(status_code=204)


def install(app: FastAPI) -> None:
    app.include_router(router)
    register_format(app, PREFIX, logto_error)
