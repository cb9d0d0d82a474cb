"""The per-app SMTP list (seed 000) over the store: `/private/smtps/*`.

`save` creates (no `idsmtp`) or edits (with it), `findByApp` lists an app's servers by
priority (0 first), `findById` reads one, `remove` deletes one, `check` mails the app's
`testEmail` through one server: 200 re-enables it, 406 disables it, counts `numerrors` and
carries the connector's error. Parameters come as JSON, form or query, with strings for numbers
and booleans as consoles send them; `remove` and `check` take the SMTP id as `idsmtp` or, as
the seed's table names it, `idapp`. Apps are the native API's (`POST /v1/apps`), addressed by
id. Auth: `Authorization: Bearer KEY`.

Errors: `{"code", "message", "errorCode", "smtpCode"}`. `code` is the seed's number where it
has one (406 with 1 "SMTP not found", 2 "App not found", 3 the check's test mail failed),
else the HTTP status; `errorCode` is the library's `ErrorCode` (or `invalid_request`,
`forbidden` …). The password is `__CENSORED__` in every answer (the seed returned it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smtp_connector.store import (
    APP,
    CENSORED,
    Actor,
    Definition,
    DefinitionCreate,
    DefinitionPatch,
    Service,
    ServiceError,
)
from smtp_connector.store.hints import NATIVE_ONLY_CA, Terms

from ..deps import Reader, ServiceDep, Writer
from ..errors import ApiFailure, Failure, connector_failure, error_responses, register_format
from ..openapi import error_response as error_body_doc
from .common import bad, body_doc, domain_model, parse, read_params, rename_fields

PREFIX = "/private/smtps"
SMTP_NOT_FOUND = "SMTP not found"
APP_NOT_FOUND = "App not found"
CHECK_FAILED = 3
_SEED_CODES = {SMTP_NOT_FOUND: 1, APP_NOT_FOUND: 2}
_SECRETS = frozenset({"password"})
_STATUS_IN = {"A": "active", "D": "disabled"}
_IDS = {"idsmtp", "idapp"}


class Params(BaseModel):
    """The seed's parameters, all optional (a save sends what changed); lax types, so form
    strings ("587", "true", "1") are accepted. Read-only fields sent back are ignored."""

    model_config = ConfigDict(extra="ignore")

    idsmtp: str | None = Field(default=None, min_length=1, max_length=64)
    idapp: str | None = Field(default=None, min_length=1, max_length=64)
    priority: int | None = Field(default=None, ge=0, le=1_000_000, description="0 = first")
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1024, description="write-only")
    auth: bool | None = None
    starttls: bool | None = None
    sslTls: bool | None = None
    debug: bool | None = None
    defaultfromemail: str | None = Field(default=None, max_length=320)
    defaultfromname: str | None = Field(default=None, max_length=200)
    status: Literal["A", "D"] | None = Field(default=None, description="A active, D disabled")


class Target(BaseModel):
    """Which SMTP server `findById`, `remove` and `check` act on."""

    model_config = ConfigDict(extra="ignore")

    idsmtp: str | None = Field(default=None, min_length=1, max_length=64)
    idapp: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the SMTP id, as the seed's table names it",
    )


class Smtp(BaseModel):
    """One SMTP server as the seed returns it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str = Field(alias="_id")
    idapp: str
    priority: int
    host: str
    port: int
    username: str
    password: str
    auth: bool
    starttls: bool
    sslTls: bool
    debug: bool
    defaultfromemail: str
    defaultfromname: str
    numerrors: int
    created: datetime
    modified: datetime
    status: Literal["A", "D"]


class SmtpsError(BaseModel):
    code: int
    message: str
    hint: str | None = Field(default=None, description="what to change, in this API's fields")
    errorCode: str
    cause: str | None = None
    smtpCode: int | None = None
    smtp: Smtp | None = Field(default=None, description="check failures: the disabled server")


_SIMPLE = {
    "priority": "priority",
    "host": "host",
    "port": "port",
    "username": "username",
    "password": "password",
    "auth": "auth",
    "debug": "debug",
    "defaultfromemail": "from_email",
    "defaultfromname": "from_name",
}
_OURS_TO_SEED = {ours: seed for seed, ours in _SIMPLE.items()} | {
    "security": "starttls` / `sslTls",
    "status": "status",
}


TERMS = Terms(
    names={"from_email": "defaultfromemail", "from_name": "defaultfromname"},
    implicit_tls="turn `sslTls` on (and `starttls` off)",
    starttls="turn `starttls` on (and `sslTls` off)",
    plain="turn `starttls` and `sslTls` off",
    trust_ca=NATIVE_ONLY_CA,
    sender="set `defaultfromemail`, or the app's fromEmail (PATCH /v1/apps/{idapp}), or use a "
    "`username` that is an address",
    special_use="use the native API's allowSpecialUseDomains on this definition",
    timeout="",
)


def to_domain(params: Params, given: set[str], stored: Definition | None) -> dict[str, Any]:
    """The seed's names onto the domain model, for the parameters in `given`."""
    data = {ours: getattr(params, seed) for seed, ours in _SIMPLE.items() if seed in given}
    if params.status is not None:
        data["status"] = _STATUS_IN[params.status]
    if given & {"starttls", "sslTls"}:
        data["security"] = security(params, given, stored)
    return data


def security(params: Params, given: set[str], stored: Definition | None) -> str:
    """Two switches onto one mode; a switch left out keeps its stored state, and the one
    turned on wins over the stored other. Both turned on at once is a contradiction."""
    starttls = bool(params.starttls) if "starttls" in given else _stored_is(stored, "starttls")
    ssl_tls = bool(params.sslTls) if "sslTls" in given else _stored_is(stored, "tls")
    if starttls and ssl_tls:
        if {"starttls", "sslTls"} <= given:
            raise bad(
                "`starttls` and `sslTls` exclude each other: sslTls is TLS from the first byte "
                "(port 465), starttls upgrades a plain connection (port 587). Turn one off."
            )
        starttls = "starttls" in given
        ssl_tls = not starttls
    return "tls" if ssl_tls else "starttls" if starttls else "none"


def _stored_is(stored: Definition | None, mode: str) -> bool:
    return stored is not None and stored.security == mode


def from_domain(definition: Definition) -> Smtp:
    return Smtp(
        _id=definition.id,
        idapp=definition.app_id,
        priority=definition.priority,
        host=definition.host,
        port=definition.port,
        username=definition.username or "",
        password=definition.password,
        auth=definition.auth,
        starttls=definition.security == "starttls",
        sslTls=definition.security == "tls",
        debug=definition.debug,
        defaultfromemail=definition.from_email or "",
        defaultfromname=definition.from_name or "",
        numerrors=definition.num_errors,
        created=definition.created,
        modified=definition.modified,
        status="A" if definition.status == "active" else "D",
    )


@contextmanager
def seed_not_found() -> Iterator[None]:
    """The domain's not-found errors as the seed's 406 with code 1 (SMTP) or 2 (app)."""
    try:
        yield
    except ServiceError as error:
        if error.reason != "not_found":
            raise
        message = APP_NOT_FOUND if error.subject == APP else SMTP_NOT_FOUND
        raise ApiFailure(Failure(406, "not_found", message)) from None


def error_response(request: Request, failure: Failure) -> JSONResponse:
    body = SmtpsError(
        code=_SEED_CODES.get(failure.message, failure.status),
        message=rename_fields(failure.message, _OURS_TO_SEED),
        hint=failure.hint,
        errorCode=failure.code,
        cause=failure.cause,
        smtpCode=failure.smtp_code,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=failure.status,
        headers=failure.headers,
    )


def _query_doc(name: str) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "maxLength": 64}
    return {"parameters": [{"name": name, "in": "query", "required": False, "schema": schema}]}


_ERRORS = error_responses(SmtpsError, [
    (400, "invalid parameters"),
    (401, "no API key"),
    (403, "unknown key, missing scope or another app"),
    (406, "1 SMTP not found, 2 App not found, 3 the check's test mail failed"),
    (409, "conflict"),
    (413, "body too large"),
    (429, "too many failed authentications"),
])  # fmt: skip
router = APIRouter(prefix=PREFIX, tags=["per-app SMTP list (seed 000)"], responses=_ERRORS)


@router.post("/save", response_model=Smtp, openapi_extra=body_doc(Params))
async def save(request: Request, actor: Writer, service: ServiceDep) -> Smtp:
    """Creates without `idsmtp` (in app `idapp`), edits with it."""
    params = parse(Params, await read_params(request, _SECRETS))
    with seed_not_found():
        if params.idsmtp is None:
            return from_domain(await _create(params, actor, service))
        return from_domain(await _edit(params.idsmtp, params, actor, service))


async def _create(params: Params, actor: Actor, service: Service) -> Definition:
    if params.idapp is None:
        raise bad("Send `idapp` to create an SMTP server, or `idsmtp` to edit one.")
    await service.apps.get(actor, params.idapp)  # an unknown app is code 2, before any field
    fields = to_domain(params, params.model_fields_set - _IDS, None)
    if fields.get("password") == CENSORED:
        fields["password"] = None  # nothing stored to keep
    create = domain_model(DefinitionCreate, fields, _OURS_TO_SEED)
    return await service.definitions.create(actor, params.idapp, create)


async def _edit(smtp_id: str, params: Params, actor: Actor, service: Service) -> Definition:
    stored = await service.definitions.locate(actor, smtp_id)
    if params.idapp is not None and params.idapp != stored.app_id:
        raise ApiFailure(Failure(406, "not_found", SMTP_NOT_FOUND))  # not in that app
    fields = to_domain(params, params.model_fields_set - _IDS, stored)
    patch = domain_model(DefinitionPatch, fields, _OURS_TO_SEED)
    return await service.definitions.update(actor, stored.app_id, stored.id, patch)


@router.get("/findByApp", response_model=list[Smtp], openapi_extra=_query_doc("idapp"))
async def find_by_app(request: Request, actor: Reader, service: ServiceDep) -> list[Smtp]:
    params = parse(Params, await read_params(request, _SECRETS))
    if params.idapp is None:
        raise bad("Send `idapp`: the app whose SMTP servers to list.")
    with seed_not_found():
        return [from_domain(d) for d in await service.definitions.list(actor, params.idapp)]


@router.get("/findById", response_model=Smtp, openapi_extra=_query_doc("idsmtp"))
async def find_by_id(request: Request, actor: Reader, service: ServiceDep) -> Smtp:
    with seed_not_found():
        return from_domain(await _target(request, actor, service))


@router.post("/remove", response_model=Smtp, openapi_extra=body_doc(Target))
async def remove(request: Request, actor: Writer, service: ServiceDep) -> Smtp:
    """Deletes the server; answers with it as it was."""
    with seed_not_found():
        target = await _target(request, actor, service)
        await service.definitions.delete(actor, target.app_id, target.id)
    return from_domain(target)


@router.post(
    "/check",
    response_model=Smtp,
    openapi_extra=body_doc(Target),
    responses={406: error_body_doc(SmtpsError, "not found (1, 2) or mail failed (3)")},
)
async def check(request: Request, actor: Writer, service: ServiceDep) -> Any:
    with seed_not_found():
        target = await _target(request, actor, service)
        outcome = await service.checks.check(actor, target.app_id, target.id)
    smtp = from_domain(outcome.definition)
    if outcome.ok:
        return smtp
    assert outcome.error is not None
    failure = connector_failure(outcome.error, TERMS)
    body = SmtpsError(code=CHECK_FAILED, message=failure.message, hint=failure.hint,
                      errorCode=failure.code, cause=failure.cause, smtpCode=failure.smtp_code,
                      smtp=smtp)  # fmt: skip
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=406)


async def _target(request: Request, actor: Actor, service: Service) -> Definition:
    """The SMTP named by `idsmtp` (or `idapp`, the seed's other name for it)."""
    params = parse(Target, await read_params(request, _SECRETS))
    smtp_id = params.idsmtp or params.idapp
    if smtp_id is None:
        raise bad("Send `idsmtp`: the id (`_id`) of the SMTP server.")
    return await service.definitions.locate(actor, smtp_id)


def install(app: FastAPI) -> None:
    app.include_router(router)
    register_format(app, PREFIX, error_response, TERMS)
