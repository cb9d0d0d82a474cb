"""privacyIDEA's SMTP server API (seed 003) over the store.

Routes, parameter names and the JSON-RPC-style envelope are privacyIDEA's
(`api/smtpserver.py`): `POST /smtpserver/<identifier>` creates or updates,
`GET /smtpserver/` lists (keyed by identifier), `DELETE /smtpserver/<identifier>`,
`POST /smtpserver/send_test_email`. Parameters come as JSON, form or query, with strings for
numbers and booleans, as privacyIDEA's web UI sends them. The key is sent as
`Authorization: KEY` (privacyIDEA's JWT header) or `Bearer KEY`. Definitions belong to the
app the service keeps for privacyIDEA (created on first write, named `privacyidea`, found by
its marker, never by name).

`server` may be `smtps://host[:port]` (implicit TLS) or `smtp://host[:port]`, as privacyIDEA
reads it; a sender on a special-use domain (`privacyidea@local`, `otp@corp.local`) is allowed.
`private_key` and `certificate` are PEM text, or paths where the operator has set
`SMTP_CONNECTOR_SMIME_DIR` (operator keys only, inside that directory; see
store/smime_material.py); a path is returned as stored. `send_test_email` sends privacyIDEA's
plain-text "Test Email from privacyIDEA"; with `dont_send_on_error` and unusable S/MIME
material it answers `value: false` and sends nothing.

Differences, on purpose: `password`, `private_key_password` and a PEM `private_key` are
`__CENSORED__` in responses; omitted parameters on update keep their stored values; a failed
test mail answers `value: false` with the connector's error in `detail`; a key path outside
the S/MIME directory is refused; S/MIME signatures are `application/pkcs7-signature` (RFC
8551; privacyIDEA writes the older `x-pkcs7-signature`) and an expired certificate is refused.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from smtp_connector import ConnectorError, ErrorCode, __version__
from smtp_connector.store import (
    CENSORED,
    READ_SCOPE,
    SEND_SCOPE,
    WRITE_SCOPE,
    Actor,
    Definition,
    DefinitionCreate,
    DefinitionPatch,
    ServiceError,
    TestMessage,
)

from ..deps import ServiceDep, api_key_actor, require
from ..errors import ApiFailure, Failure, connector_failure, error_responses, register_format
from . import common
from .common import bad, body_doc, parse, read_params, rename_fields

PREFIX = "/smtpserver"
APP_KIND = "privacyidea"
VERSION = f"smtp-connector {__version__}"
_ERROR_IDS = {400: 905, 401: 4033, 403: 303, 404: 601, 409: 302, 413: 905, 422: 905, 429: 4031}

authorization = APIKeyHeader(
    name="Authorization", auto_error=False, description="`KEY` or `Bearer KEY`"
)


async def privacyidea_actor(
    request: Request, header: Annotated[str | None, Depends(authorization)]
) -> Actor:
    raw = header.removeprefix("Bearer ").strip() if header else None
    return await api_key_actor(request, raw, "`Authorization: KEY`")


Reader = Annotated[Actor, Depends(require(READ_SCOPE, privacyidea_actor))]
Writer = Annotated[Actor, Depends(require(WRITE_SCOPE, privacyidea_actor))]
Tester = Annotated[Actor, Depends(require(SEND_SCOPE, privacyidea_actor))]


class Params(BaseModel):
    """privacyIDEA's parameters; lax types (form strings "25", "1", "True" are accepted)."""

    model_config = ConfigDict(extra="ignore")

    server: str = Field(min_length=1, max_length=255)
    port: int = Field(default=25, ge=1, le=65535)
    username: str = Field(default="", max_length=320)
    password: str | None = Field(default=None, max_length=1024)
    sender: str = Field(default="", max_length=320)
    tls: bool = False
    timeout: int = Field(default=10, ge=1, le=600)
    enqueue_job: bool = False
    description: str = Field(default="", max_length=2000)
    smime: bool = False
    dont_send_on_error: bool = False
    private_key: str | None = Field(default=None, max_length=65536)
    private_key_password: str | None = Field(default=None, max_length=1024)
    certificate: str = Field(default="", max_length=65536)


class TestParams(Params):
    identifier: str = Field(min_length=1, max_length=200)
    recipient: str = Field(min_length=3, max_length=320)


class Result(BaseModel):
    status: bool
    value: Any = None
    error: dict[str, Any] | None = None


class Envelope(BaseModel):
    jsonrpc: str
    result: Result
    id: int
    time: float
    version: str
    detail: dict[str, Any] | None = None


_SIMPLE = {
    "server": "host",
    "port": "port",
    "username": "username",
    "password": "password",
    "timeout": "timeout",
    "enqueue_job": "enqueue",
    "description": "description",
}
_SMIME = {
    "smime": "enabled",
    "certificate": "certificate",
    "private_key": "private_key",
    "private_key_password": "private_key_password",
    "dont_send_on_error": "dont_send_on_error",
}


def split_server(server: str) -> tuple[str, bool, int | None]:
    """privacyIDEA's `server`: a host, or `smtp://host[:port]` / `smtps://host[:port]`
    (implicit TLS), as its `urlparse(..., scheme="smtp")` reads it: (host, implicit TLS, port)."""
    scheme, separator, _ = server.partition("://")
    if not separator:
        return server, False, None
    if scheme.lower() not in ("smtp", "smtps"):
        raise bad("`server` is a host name, or smtp://host or smtps://host (implicit TLS).")
    try:
        parsed = urlsplit(server)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = port = None
    if not host:
        raise bad("`server`: no host after the scheme (smtps://mail.example.com).")
    return host, scheme.lower() == "smtps", port


def to_domain(params: Params, given: set[str]) -> dict[str, Any]:
    """privacyIDEA's names onto the domain model, for the parameters in `given`."""
    data = {ours: getattr(params, pi) for pi, ours in _SIMPLE.items() if pi in given}
    implicit_tls = False
    if "server" in given:
        data["host"], implicit_tls, url_port = split_server(params.server)
        if url_port is not None:
            data["port"] = url_port  # privacyIDEA: the URL's port wins over `port`
    if "username" in given:
        data["auth"] = bool(params.username)
    if "sender" in given:
        data["from_email"] = params.sender or None
        # privacyIDEA runs inside company networks: `otp@corp.local` is a sender it allows.
        data["allow_special_use_domains"] = True
    if implicit_tls:
        data["security"] = "tls"
    elif "tls" in given:
        data["security"] = "starttls" if params.tls else "none"
    smime = {ours: getattr(params, pi) for pi, ours in _SMIME.items() if pi in given}
    if smime:
        data["smime"] = smime
    return data


_OURS_TO_PI = {ours: pi for pi, ours in (_SIMPLE | _SMIME).items()} | {
    "from_email": "sender",
    "security": "tls",
    "auth": "username",
}
D = TypeVar("D", DefinitionCreate, DefinitionPatch)


def domain_model(model: type[D], data: dict[str, Any]) -> D:
    """Build the domain model; its refusals name privacyIDEA's parameters (400)."""
    return common.domain_model(model, data, _OURS_TO_PI)


def from_domain(definition: Definition) -> dict[str, Any]:
    smime = definition.smime
    implicit = definition.security == "tls"
    return {
        "server": f"smtps://{definition.host}" if implicit else definition.host,
        "port": definition.port,
        "username": definition.username or "",
        "password": definition.password,
        "sender": definition.from_email or "",
        "tls": definition.security != "none",
        "timeout": definition.timeout,
        "enqueue_job": definition.enqueue,
        "description": definition.description or "",
        "smime": smime.enabled,
        "dont_send_on_error": smime.dont_send_on_error,
        "private_key": smime.private_key,
        "private_key_password": smime.private_key_password,
        "certificate": smime.certificate or "",
    }


def envelope(value: Any, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "result": {"status": True, "value": value},
                            "id": 1, "time": time.time(), "version": VERSION}  # fmt: skip
    if detail is not None:
        body["detail"] = detail
    return body


def error_envelope(request: Request, failure: Failure) -> JSONResponse:
    """privacyIDEA's `send_error` shape; our code (an ErrorCode value where one applies) is in
    `detail.error_code`. Parameter errors are 400, as privacyIDEA's ParameterError."""
    status = 400 if failure.status == 422 else failure.status
    message = rename_fields(failure.message, _OURS_TO_PI)
    body = {
        "jsonrpc": "2.0",
        "detail": {"error_code": failure.code, "smtp_code": failure.smtp_code},
        "result": {"status": False, "error": {"code": _ERROR_IDS.get(status, -status),
                                              "message": message}},
        "id": 1,
        "time": time.time(),
        "version": VERSION,
    }  # fmt: skip
    return JSONResponse(body, status_code=status, headers=failure.headers)


_SECRET_PARAMS = frozenset({"password", "private_key", "private_key_password"})


_ERRORS = error_responses(
    Envelope, [(code, "privacyIDEA error envelope") for code in (400, 401, 403, 404, 409, 413, 429)]
)
_ENVELOPE: dict[str, Any] = {"response_model": Envelope, "response_model_exclude_none": True}
router = APIRouter(prefix=PREFIX, tags=["privacyIDEA (seed 003)"], responses=_ERRORS)


@router.get("/", **_ENVELOPE)
async def list_smtpservers(actor: Reader, service: ServiceDep) -> dict[str, Any]:
    app = await service.apps.find_dialect(actor, APP_KIND)
    definitions = await service.definitions.list(actor, app.id) if app else []
    return envelope({d.name or d.id: from_domain(d) for d in definitions})


@router.post("/send_test_email", **_ENVELOPE, openapi_extra=body_doc(TestParams))
async def send_test_email(request: Request, actor: Tester, service: ServiceDep) -> dict[str, Any]:
    data = await read_params(request, _SECRET_PARAMS)
    params = parse(TestParams, data)
    app = await service.apps.ensure_dialect(actor, APP_KIND)
    candidate = domain_model(DefinitionCreate, to_domain(params, set(Params.model_fields)))
    message = TestMessage(
        subject="Test Email from privacyIDEA",
        text="This is a test email from privacyIDEA. The configuration {{ identifier }} is "
        "working.",
        payload={"identifier": params.identifier},
    )
    try:
        await service.checks.test_send(
            actor, app.id, candidate, params.recipient, stored_name=params.identifier,
            message=message,
        )  # fmt: skip
    except ConnectorError as error:
        if isinstance(error, ServiceError) or error.code in _INPUT_ERRORS:
            raise
        return envelope(False, {"error": connector_failure(error).body()["error"]})
    return envelope(True)


_INPUT_ERRORS = {ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_RECIPIENT}


@router.post("/{identifier}", **_ENVELOPE, openapi_extra=body_doc(Params))
async def create_or_update(
    identifier: str, request: Request, actor: Writer, service: ServiceDep
) -> dict[str, Any]:
    if len(identifier) > 200 or identifier != identifier.strip() or not identifier:
        raise bad("identifier must be 1-200 characters without surrounding spaces")
    data = await read_params(request, _SECRET_PARAMS)
    app = await service.apps.ensure_dialect(actor, APP_KIND)
    existing = await service.definitions.find_by_name(actor, app.id, identifier)
    if existing is None:
        params = parse(Params, data)
        fields = to_domain(params, set(Params.model_fields))
        if params.password == CENSORED:
            fields["password"] = None  # nothing stored to keep
        definition = domain_model(DefinitionCreate, fields | {"name": identifier})
        await service.definitions.create(actor, app.id, definition)
    else:
        params = parse(Params, {"server": existing.host} | data)
        given = set(data) & set(Params.model_fields)
        patch = domain_model(DefinitionPatch, to_domain(params, given))
        await service.definitions.update(actor, app.id, existing.id, patch)
    return envelope(True)


@router.delete("/{identifier}", **_ENVELOPE)
async def delete_smtpserver(identifier: str, actor: Writer, service: ServiceDep) -> dict[str, Any]:
    app = await service.apps.find_dialect(actor, APP_KIND)
    existing = await service.definitions.find_by_name(actor, app.id, identifier) if app else None
    if app is None or existing is None:
        message = f"The SMTP server definition {identifier!r} does not exist."
        raise ApiFailure(Failure(404, "not_found", message))
    await service.definitions.delete(actor, app.id, existing.id)
    return envelope(True)


def install(app: FastAPI) -> None:
    app.include_router(router)
    register_format(app, PREFIX, error_envelope)
