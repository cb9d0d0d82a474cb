"""App-integration SMTP records (seed 001) over the store: `/api/v1/app-integrations/smtp`.

`GET` lists the brand's records, `POST` creates one (201), `GET|PUT|DELETE /{id}` read,
update and delete one. The app is named by the `Brand-URL` header (its id or its name; a key
bound to one app may leave it out); the key comes as `Auth-Key: KEY` or `Authorization: Bearer
KEY`. Every answer, errors included (401, 403, 404, 409, 422, 429), is the seed's envelope
`{"success", "statusCode", "message", "data", "errors"}`; an error's `errors[].code` is the
library's `ErrorCode` (or `unauthorized`, `forbidden`, `not_found`, `invalid_request` …).

Mapping: `status` "1 - Active" / "0 - Inactive" in (the bare "Active" / "Inactive" too),
"Active" / "Inactive" out; `useTls` is implicit TLS on port 465 and required STARTTLS
elsewhere, off (the seed's default) plain SMTP; `isDefault` is the app's one default (setting
it clears the others); `appIntegrationId` is stored and returned as given. Differences, on
purpose: the password is `__CENSORED__` in answers, and sending it back (or leaving it out) on
`PUT` keeps it; `PUT` changes only the fields it is given; `username`/`password` may be left
out for a relay without AUTH.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, model_validator

from smtp_connector.store import (
    CENSORED,
    READ_SCOPE,
    WRITE_SCOPE,
    Actor,
    App,
    Definition,
    DefinitionCreate,
    DefinitionPatch,
    Service,
    ServiceError,
)
from smtp_connector.store.hints import NATIVE_ONLY_CA, Terms

from ..deps import ServiceDep, api_key_actor, bearer, require
from ..errors import ApiFailure, Failure, error_responses, register_format
from .common import domain_model, rename_fields, switch_security

PREFIX = "/api/v1/app-integrations/smtp"
OK = "The request was successful."
_STATUS_IN = {"1 - Active": "active", "Active": "active",
              "0 - Inactive": "disabled", "Inactive": "disabled"}  # fmt: skip

auth_key = APIKeyHeader(name="Auth-Key", auto_error=False, description="an API key")


async def integrations_actor(
    request: Request,
    key: Annotated[str | None, Depends(auth_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    raw = key or (credentials.credentials if credentials else None)
    return await api_key_actor(request, raw, "`Auth-Key: KEY` or `Authorization: Bearer KEY`")


Reader = Annotated[Actor, Depends(require(READ_SCOPE, integrations_actor))]
Writer = Annotated[Actor, Depends(require(WRITE_SCOPE, integrations_actor))]
Brand = Annotated[
    str | None,
    Header(alias="Brand-URL", max_length=200, description="the app: its id or its name"),
]


class IntegrationUpdate(BaseModel):
    """The seed's request body; on `PUT` every field is optional (left out = unchanged)."""

    model_config = ConfigDict(extra="forbid")

    appIntegrationId: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1024, description="write-only")
    useTls: bool | None = None
    isDefault: bool | None = None
    description: str | None = Field(default=None, max_length=2000)
    status: Literal["0 - Inactive", "1 - Active", "Inactive", "Active"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        """A client may send back what it read: `id` is the path's business, not the body's."""
        return {k: v for k, v in data.items() if k != "id"} if isinstance(data, dict) else data


class IntegrationCreate(IntegrationUpdate):
    name: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)


class Integration(BaseModel):
    id: str
    appIntegrationId: str | None
    name: str | None
    host: str
    port: int
    username: str
    password: str
    useTls: bool
    isDefault: bool
    description: str | None
    status: Literal["Active", "Inactive"]


class ErrorItem(BaseModel):
    code: str
    message: str
    hint: str | None = Field(default=None, description="what to change, in this API's fields")
    cause: str | None = None
    smtpCode: int | None = None


class ItemEnvelope(BaseModel):
    """The seed's envelope, fields in its order."""

    success: bool
    statusCode: int
    message: str
    data: Integration
    errors: list[ErrorItem]


class ListEnvelope(BaseModel):
    success: bool
    statusCode: int
    message: str
    data: list[Integration]
    errors: list[ErrorItem]


class ErrorEnvelope(BaseModel):
    success: bool
    statusCode: int
    message: str
    data: None = None
    errors: list[ErrorItem]


_PLAIN = ("name", "host", "port", "username", "password", "description")
_OURS_TO_SEED = {"is_default": "isDefault", "security": "useTls",
                 "integration_id": "appIntegrationId", "auth": "username"}  # fmt: skip


TERMS = Terms(
    names={"security": "useTls", "integration_id": "appIntegrationId", "is_default": "isDefault"},
    implicit_tls="use port 465 with `useTls` on (here TLS from the first byte is port 465 with "
    "`useTls`)",
    starttls="turn `useTls` on with a port other than 465 (STARTTLS)",
    plain="turn `useTls` off",
    no_login="leave `username` empty",
    trust_ca=NATIVE_ONLY_CA,
    sender="give the app a fromEmail (PATCH /v1/apps/{id}; this API has no sender field), or use "
    "a `username` that is an address",
    special_use="use the native API's allowSpecialUseDomains on this definition",
    timeout="",
    sender_field="the app's fromEmail (PATCH /v1/apps/{id})",
)


def to_domain(body: IntegrationUpdate, stored: Definition | None) -> dict[str, Any]:
    """The seed's names onto the domain model, for the fields the body carries."""
    given = body.model_fields_set
    data: dict[str, Any] = {name: getattr(body, name) for name in _PLAIN if name in given}
    if "appIntegrationId" in given:
        data["integration_id"] = body.appIntegrationId
    if "isDefault" in given:
        data["is_default"] = bool(body.isDefault)
    if body.status is not None:
        data["status"] = _STATUS_IN[body.status]
    if "username" in given:
        data["auth"] = bool(body.username)
    if stored is None or given & {"useTls", "port"}:
        port = body.port if body.port is not None else stored.port if stored else 0
        data["security"] = switch_security(body.useTls, port, stored)
    return data


def from_domain(definition: Definition) -> Integration:
    return Integration(
        id=definition.id,
        appIntegrationId=definition.integration_id,
        name=definition.name,
        host=definition.host,
        port=definition.port,
        username=definition.username or "",
        password=definition.password,
        useTls=definition.security != "none",
        isDefault=definition.is_default,
        description=definition.description,
        status="Active" if definition.status == "active" else "Inactive",
    )


async def owner_app(actor: Actor, service: Service, brand: str | None) -> App:
    """The app `Brand-URL` names, by id first, then by name."""
    if not brand:
        if actor.app_id is not None:
            return await service.apps.get(actor, actor.app_id)
        message = "Send the `Brand-URL` header: the id or name of the app."
        raise ApiFailure(Failure(422, "invalid_request", message))
    try:
        return await service.apps.get(actor, brand)
    except ServiceError as by_id:
        if by_id.reason not in ("not_found", "forbidden"):
            raise
        by_name = await service.apps.find_by_name(actor, brand)
        if by_name is None:
            raise by_id from None
        return by_name


def envelope(data: Any, status: int = 200) -> dict[str, Any]:
    return {"success": True, "statusCode": status, "message": OK, "data": data, "errors": []}


def error_envelope(request: Request, failure: Failure) -> JSONResponse:
    message = rename_fields(failure.message, _OURS_TO_SEED)
    item = ErrorItem(code=failure.code, message=message, hint=failure.hint, cause=failure.cause,
                     smtpCode=failure.smtp_code)  # fmt: skip
    body = ErrorEnvelope(success=False, statusCode=failure.status, message=message, errors=[item])
    return JSONResponse(body.model_dump(mode="json"), failure.status, headers=failure.headers)


_ERRORS = error_responses(ErrorEnvelope, [
    (400, "refused by a rule (e.g. a host change without the password)"),
    (401, "no Auth-Key"),
    (403, "unknown key, missing scope or another app"),
    (404, "no such app or record"),
    (409, "a record with this name exists"),
    (413, "body too large"),
    (422, "invalid body or headers"),
    (429, "too many failed authentications"),
])  # fmt: skip
router = APIRouter(prefix=PREFIX, tags=["app integrations (seed 001)"], responses=_ERRORS)


@router.get("", response_model=ListEnvelope)
async def list_integrations(actor: Reader, service: ServiceDep, brand: Brand = None) -> Any:
    app = await owner_app(actor, service, brand)
    definitions = await service.definitions.list(actor, app.id)
    return envelope([from_domain(d) for d in definitions])


@router.post("", status_code=201, response_model=ItemEnvelope)
async def create_integration(
    body: IntegrationCreate, actor: Writer, service: ServiceDep, brand: Brand = None
) -> Any:
    app = await owner_app(actor, service, brand)
    fields = to_domain(body, None)
    if fields.get("password") == CENSORED:
        fields["password"] = None  # nothing stored to keep
    created = await service.definitions.create(
        actor, app.id, domain_model(DefinitionCreate, fields, _OURS_TO_SEED)
    )
    return envelope(from_domain(created), 201)


@router.get("/{integration_id}", response_model=ItemEnvelope)
async def get_integration(
    integration_id: str, actor: Reader, service: ServiceDep, brand: Brand = None
) -> Any:
    app = await owner_app(actor, service, brand)
    return envelope(from_domain(await service.definitions.get(actor, app.id, integration_id)))


@router.put("/{integration_id}", response_model=ItemEnvelope)
async def update_integration(
    integration_id: str,
    body: IntegrationUpdate,
    actor: Writer,
    service: ServiceDep,
    brand: Brand = None,
) -> Any:
    app = await owner_app(actor, service, brand)
    stored = await service.definitions.get(actor, app.id, integration_id)
    patch = domain_model(DefinitionPatch, to_domain(body, stored), _OURS_TO_SEED)
    updated = await service.definitions.update(actor, app.id, integration_id, patch)
    return envelope(from_domain(updated))


@router.delete("/{integration_id}", response_model=ItemEnvelope)
async def delete_integration(
    integration_id: str, actor: Writer, service: ServiceDep, brand: Brand = None
) -> Any:
    """Deletes the record; `data` is the record as it was."""
    app = await owner_app(actor, service, brand)
    stored = await service.definitions.get(actor, app.id, integration_id)
    await service.definitions.delete(actor, app.id, integration_id)
    return envelope(from_domain(stored))


def install(app: FastAPI) -> None:
    app.include_router(router)
    register_format(app, PREFIX, error_envelope, TERMS)
