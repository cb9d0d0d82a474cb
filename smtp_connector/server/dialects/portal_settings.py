"""A portal's SMTP settings (seed 002) over the store: `/api/2.0/smtpsettings/smtp`.

`GET` reads the portal's settings, `POST` saves them (creating them the first time), `DELETE`
removes them (the seed's "reset": the answer is the empty settings). The portal is the API
key's app; a key bound to no app uses the service's portal app (found by its marker, named
`portal`), created on first save. Its settings are that app's first definition in send order,
so what `GET` shows is what mail goes through. The key comes as the cookie `asc_auth_key` or
`Authorization: Bearer KEY`.

Answers use the portal API's wrapper `{"response": <settings>, "count": 1, "status": 0,
"statusCode": 200}`; errors `{"error": {"message", "type", "smtpCode"}, "status": 1,
"statusCode": N}`, where `type` is the library's `ErrorCode` (or `unauthorized`, `forbidden`,
`invalid_request` …). Names match case-insensitively (`Host` and `host`), as the portal's own
binder does.

Mapping: `enableSSL` is implicit TLS on port 465 and required STARTTLS elsewhere;
`enableAuth` / `credentialsUserName` / `credentialsUserPassword` are AUTH and its login;
`useNtlm` authenticates with NTLM; `senderAddress` / `senderDisplayName` are the From;
`isDefaultSettings` is the definition's `isDefault` (and true when nothing is stored: the
portal then has no settings of its own). Differences, on purpose: the password reads
`__CENSORED__` (the portal answers ""); sending it back, or leaving it out, keeps it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

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
)
from smtp_connector.store.hints import NATIVE_ONLY_CA, Terms

from ..csrf import refuse_cross_site
from ..deps import ServiceDep, api_key_actor, bearer, require
from ..errors import Failure, error_responses, register_format
from .common import bad, body_doc, domain_model, parse, read_params, rename_fields, switch_security

PREFIX = "/api/2.0/smtpsettings"
APP_KIND = "portal"
DEFAULT_PORT = 25

auth_cookie = APIKeyCookie(name="asc_auth_key", auto_error=False, description="an API key")


async def portal_actor(
    request: Request,
    cookie: Annotated[str | None, Depends(auth_cookie)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if cookie:  # a browser sends it on any site's request: writes must prove their origin
        refuse_cross_site(request)
    raw = cookie or (credentials.credentials if credentials else None)
    return await api_key_actor(request, raw, "cookie `asc_auth_key=KEY` or `Bearer KEY`")


Reader = Annotated[Actor, Depends(require(READ_SCOPE, portal_actor))]
Writer = Annotated[Actor, Depends(require(WRITE_SCOPE, portal_actor))]


class SettingsIn(BaseModel):
    """The portal's settings as saved; every field optional (left out = unchanged)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535, description="25 when left out")
    senderAddress: str | None = Field(default=None, max_length=320)
    senderDisplayName: str | None = Field(default=None, max_length=200)
    credentialsUserName: str | None = Field(default=None, max_length=320)
    credentialsUserPassword: str | None = Field(default=None, max_length=1024)
    enableSSL: bool | None = None
    enableAuth: bool | None = None
    useNtlm: bool | None = None
    isDefaultSettings: bool | None = None


class SmtpSettings(BaseModel):
    host: str | None
    port: int | None
    senderAddress: str | None
    senderDisplayName: str | None
    credentialsUserName: str | None
    credentialsUserPassword: str
    enableSSL: bool
    enableAuth: bool
    useNtlm: bool
    isDefaultSettings: bool


class Wrapper(BaseModel):
    response: SmtpSettings
    count: int
    status: int
    statusCode: int


class ErrorInfo(BaseModel):
    message: str
    hint: str | None = Field(default=None, description="what to change, in this API's fields")
    type: str
    cause: str | None = None
    smtpCode: int | None = None


class ErrorWrapper(BaseModel):
    error: ErrorInfo
    status: int
    statusCode: int


EMPTY = SmtpSettings(host=None, port=None, senderAddress=None, senderDisplayName=None,
                     credentialsUserName=None, credentialsUserPassword="", enableSSL=False,
                     enableAuth=False, useNtlm=False, isDefaultSettings=True)  # fmt: skip
_NAMES = {name.lower(): name for name in SettingsIn.model_fields}
_SIMPLE = {
    "host": "host",
    "port": "port",
    "senderAddress": "from_email",
    "senderDisplayName": "from_name",
    "credentialsUserName": "username",
    "credentialsUserPassword": "password",
    "enableAuth": "auth",
    "useNtlm": "ntlm",
    "isDefaultSettings": "is_default",
}
_OURS_TO_SEED = {ours: seed for seed, ours in _SIMPLE.items()} | {"security": "enableSSL"}


TERMS = Terms(
    names={**{ours: seed for seed, ours in _SIMPLE.items()}, "security": "enableSSL"},
    implicit_tls="use port 465 with `enableSSL` on (here TLS from the first byte is port 465 "
    "with `enableSSL`)",
    starttls="turn `enableSSL` on with a port other than 465 (STARTTLS)",
    plain="turn `enableSSL` off",
    no_login="set `enableAuth` to false",
    trust_ca=NATIVE_ONLY_CA,
    sender="set `senderAddress`",
    special_use="use the native API's allowSpecialUseDomains on this definition",
    timeout="",
)


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """Keys matched case-insensitively onto the seed's names; unknown keys are kept so that
    validation names them."""
    return {_NAMES.get(key.lower(), key): value for key, value in data.items()}


def to_domain(body: SettingsIn, stored: Definition | None) -> dict[str, Any]:
    """The seed's names onto the domain model, for the fields the body carries."""
    given = body.model_fields_set
    data = {ours: getattr(body, seed) for seed, ours in _SIMPLE.items() if seed in given}
    for flag in ("auth", "ntlm", "is_default"):
        if flag in data and data[flag] is None:
            del data[flag]  # null: unchanged
    if stored is None or given & {"enableSSL", "port"}:
        port = body.port or (stored.port if stored else DEFAULT_PORT)
        data["security"] = switch_security(body.enableSSL, port, stored)
        data.setdefault("port", port)
    return data


def from_domain(definition: Definition) -> SmtpSettings:
    return SmtpSettings(
        host=definition.host,
        port=definition.port,
        senderAddress=definition.from_email,
        senderDisplayName=definition.from_name,
        credentialsUserName=definition.username,
        credentialsUserPassword=definition.password,
        enableSSL=definition.security != "none",
        enableAuth=definition.auth,
        useNtlm=definition.ntlm,
        isDefaultSettings=definition.is_default,
    )


async def portal_app(actor: Actor, service: Service) -> App:
    """The key's app, or the shared `portal` app, created on first use (saves)."""
    if actor.app_id is not None:
        return await service.apps.get(actor, actor.app_id)
    return await service.apps.ensure_dialect(actor, APP_KIND)


async def find_portal_app(actor: Actor, service: Service) -> App | None:
    """The same app for reads, without creating it: no app yet means no settings yet."""
    if actor.app_id is not None:
        return await service.apps.get(actor, actor.app_id)
    return await service.apps.find_dialect(actor, APP_KIND)


async def current(actor: Actor, service: Service, app: App | None) -> Definition | None:
    """The portal's settings: its app's first definition in send order."""
    definitions = await service.definitions.list(actor, app.id) if app else []
    return definitions[0] if definitions else None


def wrap(settings: SmtpSettings) -> Wrapper:
    return Wrapper(response=settings, count=1, status=0, statusCode=200)


def error_wrapper(request: Request, failure: Failure) -> JSONResponse:
    """The portal API's error shape; request validation errors are 400 there, as ours."""
    status = 400 if failure.status == 422 else failure.status
    info = ErrorInfo(
        message=rename_fields(failure.message, _OURS_TO_SEED),
        hint=failure.hint,
        type=failure.code,
        cause=failure.cause,
        smtpCode=failure.smtp_code,
    )
    body = ErrorWrapper(error=info, status=1, statusCode=status)
    return JSONResponse(body.model_dump(mode="json"), status, headers=failure.headers)


_ERRORS = error_responses(ErrorWrapper, [
    (400, "invalid settings, or refused by a rule (a host change without the password)"),
    (401, "no key"),
    (403, "unknown key or missing scope"),
    (404, "the key's app is gone"),
    (409, "conflict"),
    (413, "body too large"),
    (429, "too many failed authentications"),
])  # fmt: skip
router = APIRouter(prefix=PREFIX, tags=["portal SMTP settings (seed 002)"], responses=_ERRORS)


@router.get("/smtp", response_model=Wrapper)
async def get_settings(actor: Reader, service: ServiceDep) -> Wrapper:
    stored = await current(actor, service, await find_portal_app(actor, service))
    return wrap(from_domain(stored) if stored else EMPTY)


@router.post("/smtp", response_model=Wrapper, openapi_extra=body_doc(SettingsIn))
async def save_settings(request: Request, actor: Writer, service: ServiceDep) -> Wrapper:
    body = parse(SettingsIn, canonical(await read_params(request, frozenset())))
    app = await portal_app(actor, service)
    stored = await current(actor, service, app)
    fields = to_domain(body, stored)
    if stored is not None:
        patch = domain_model(DefinitionPatch, fields, _OURS_TO_SEED)
        return wrap(from_domain(await service.definitions.update(actor, app.id, stored.id, patch)))
    if not body.senderAddress:
        raise bad("Invalid parameter `senderAddress`: the address the portal's mail comes from.")
    if fields.get("password") == CENSORED:
        fields["password"] = None  # nothing stored to keep
    create = domain_model(DefinitionCreate, fields, _OURS_TO_SEED)
    return wrap(from_domain(await service.definitions.create(actor, app.id, create)))


@router.delete("/smtp", response_model=Wrapper)
async def reset_settings(actor: Writer, service: ServiceDep) -> Wrapper:
    """Removes the portal's settings; the answer is the empty (default) settings."""
    app = await find_portal_app(actor, service)
    stored = await current(actor, service, app)
    if app is not None and stored is not None:
        await service.definitions.delete(actor, app.id, stored.id)
    return wrap(EMPTY)


def install(app: FastAPI) -> None:
    app.include_router(router)
    register_format(app, PREFIX, error_wrapper, TERMS)
