"""The domain model every API dialect maps onto: apps, server definitions, keys, audit entries.

Input models validate every field with a message naming it; output models carry
`"__CENSORED__"` where a secret is stored, so no response can leak one. camelCase on the wire
(the native API's and Logto's convention), snake_case in Python.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..addresses import check_display_name
from ..config import ConfigModel
from ..config.base import check_address
from ..errors import ConnectorError
from .network import canonical_host

CENSORED = "__CENSORED__"
READ_SCOPE = "smtpserver_read"  # list and look up
SEND_SCOPE = "smtpserver_send"  # send mail, test sends included
WRITE_SCOPE = "smtpserver_write"  # change apps, definitions and templates
SCOPES = frozenset({READ_SCOPE, SEND_SCOPE, WRITE_SCOPE})

Security = Literal["none", "starttls", "tls"]
Status = Literal["active", "disabled"]
_APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ONE_LINE = re.compile(r"^[^\r\n\x00]*$")


class Wire(ConfigModel):
    """camelCase aliases, snake_case names, unknown keys refused (a typo must not be ignored):
    the same wire conventions as the library's config."""

    # Built by `build_wire_models` when a router that takes or returns them is installed
    # (server/lazy_routers.py), not at import: an idle `serve` needs only `MessageRequest`.
    model_config = ConfigDict(defer_build=True)


def build_wire_models() -> None:
    """Build every `Wire` model declared so far that is not built yet, so that routes declared
    next get built validators and no request builds one (about 0.8 MB an idle `serve` that
    only sends does not hold)."""
    waiting = [Wire]
    while waiting:
        model = waiting.pop()
        waiting.extend(model.__subclasses__())
        if not model.__pydantic_complete__:
            model.model_rebuild()


def check_email(
    value: str | None, field_name: str, *, allow_special_use: bool = False
) -> str | None:
    """An address check that names the field; deliverability is the SMTP server's business."""
    if value in (None, ""):
        return None
    # the library's own rule: what it would refuse at send
    check_address(value, field_name, allow_special_use=allow_special_use)
    return value


# -- apps ---------------------------------------------------------------------------------


_LOCALE = r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8}){0,3}$"


class AppSettings(Wire):
    """What an app sets for every send: the test address, its sender and its locale."""

    test_email: str | None = Field(default=None, max_length=320)
    from_email: str | None = Field(
        default=None,
        max_length=320,
        description="the sender of the app's mail; a server definition without its own "
        "fromEmail uses it",
    )
    from_name: str | None = Field(
        default=None, max_length=200, description="the sender's display name"
    )
    default_locale: str | None = Field(
        default=None,
        max_length=35,
        pattern=_LOCALE,
        description="the locale a send falls back to (before English), e.g. de or pt-BR",
    )

    @field_validator("test_email")
    @classmethod
    def _test_email(cls, value: str | None) -> str | None:
        return check_email(value, "testEmail")

    @field_validator("from_email")
    @classmethod
    def _from_email(cls, value: str | None) -> str | None:
        return check_email(value, "fromEmail")

    @field_validator("from_name")
    @classmethod
    def _from_name(cls, value: str | None) -> str | None:
        return check_display_name(value, collapse=False) if value else None


class AppCreate(AppSettings):
    name: str = Field(min_length=1, max_length=200, pattern=_ONE_LINE.pattern)
    id: str | None = Field(default=None, description="optional; letters, digits, . _ -")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _APP_ID.match(value):
            raise ValueError("id must be 1-64 letters, digits, '.', '_' or '-'")
        return value


class AppPatch(AppSettings):
    """A partial update: fields left out keep their value; null clears an optional one."""

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=_ONE_LINE.pattern)


class App(Wire):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    test_email: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    default_locale: str | None = None


# -- server definitions -------------------------------------------------------------------


class SmimeInput(Wire):
    """S/MIME signing material; `privateKey` and `privateKeyPassword` are write-only."""

    enabled: bool | None = None
    certificate: str | None = Field(default=None, max_length=65536)
    private_key: str | None = Field(default=None, max_length=65536)
    private_key_password: str | None = Field(default=None, max_length=1024)
    dont_send_on_error: bool | None = None


class DefinitionPatch(Wire):
    """A partial update: fields left out keep their stored value (secrets included)."""

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=_ONE_LINE.pattern)
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=320, pattern=_ONE_LINE.pattern)
    password: str | None = Field(default=None, max_length=1024)
    security: Security | None = None
    auth: bool | None = None
    ntlm: bool | None = None
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    status: Status | None = None
    is_default: bool | None = None
    from_email: str | None = Field(default=None, max_length=320)
    from_name: str | None = Field(default=None, max_length=200, pattern=_ONE_LINE.pattern)
    timeout: int | None = Field(default=None, ge=1, le=600, description="seconds")
    enqueue: bool | None = None
    allow_special_use_domains: bool | None = Field(
        default=None,
        description="let fromEmail use a special-use domain such as corp.local (an internal "
        "relay; public providers refuse such senders)",
    )
    tls_ca: str | None = Field(
        default=None,
        max_length=65536,
        description="CA certificate(s) to trust for this server, PEM text (a private CA)",
    )
    verify_certificate: bool | None = Field(
        default=None, description="check the server's certificate (default true)"
    )
    smime: SmimeInput | None = None
    description: str | None = Field(default=None, max_length=2000)
    debug: bool | None = Field(
        default=None,
        description="kept for admin consoles that show a debug switch (seed 000); the "
        "service's own log level is set with `serve --log-level`",
    )
    integration_id: str | None = Field(
        default=None,
        max_length=200,
        pattern=_ONE_LINE.pattern,
        description="the caller's reference for the integration this definition belongs to "
        "(seed 001's appIntegrationId): stored and returned, never interpreted",
    )

    @field_validator("from_email")
    @classmethod
    def _from_email(cls, value: str | None) -> str | None:
        # Shape only: whether a special-use domain is allowed depends on the stored
        # `allowSpecialUseDomains` too, so the saved definition is checked as a whole.
        return check_email(value, "fromEmail", allow_special_use=True)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return canonical_host(value)
        except ConnectorError as error:
            raise ValueError(error.message.removeprefix("`host` ")) from None

    @field_validator("tls_ca")
    @classmethod
    def _tls_ca(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        check_ca_pem(value)
        return value


class DefinitionCreate(DefinitionPatch):
    """A new definition: `host` is required, everything else has a default."""

    host: str = Field(min_length=1, max_length=255)


def check_ca_pem(value: str) -> None:
    """CA certificates as PEM text, parsed the way the TLS layer will load them; a path or a
    URL is refused (the service never reads files or URLs on a tenant's word)."""
    if "-----BEGIN CERTIFICATE-----" not in value:
        raise ValueError(
            "must be the CA certificate(s) as PEM text (-----BEGIN CERTIFICATE----- …), "
            "not a file path or URL"
        )
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError):
        raise ValueError("holds no certificate that can be parsed as PEM") from None


DEFINITION_DEFAULTS: dict[str, Any] = {
    "port": 587,
    "security": "starttls",
    "auth": True,
    "ntlm": False,
    "priority": 10,
    "status": "active",
    "is_default": False,
    "timeout": 10,
    "enqueue": False,
    "debug": False,
    "verify_certificate": True,
    "allow_special_use_domains": False,
}


class SmimeView(Wire):
    enabled: bool
    certificate: str | None
    private_key: str
    private_key_password: str
    dont_send_on_error: bool


class LastError(Wire):
    model_config = ConfigDict(extra="ignore")

    code: str
    message: str
    hint: str | None = None
    cause: str | None = None
    smtp_code: int | None = None
    server: str | None = None
    at: str | None = None


class Definition(Wire):
    """A stored definition as every API returns it: secrets are `__CENSORED__` or `""`."""

    id: str
    app_id: str
    name: str | None
    host: str
    port: int
    username: str | None
    password: str
    security: Security
    auth: bool
    ntlm: bool
    priority: int
    status: Status
    is_default: bool
    from_email: str | None
    from_name: str | None
    timeout: int
    enqueue: bool
    allow_special_use_domains: bool
    tls_ca: str | None
    verify_certificate: bool
    smime: SmimeView
    description: str | None
    debug: bool
    integration_id: str | None
    num_errors: int
    last_error: LastError | None
    created: datetime
    modified: datetime


# -- sending, keys, audit -----------------------------------------------------------------


class MessageRequest(Wire):
    model_config = ConfigDict(defer_build=False)  # every send validates one: built at import
    # No field holds a secret, so pydantic may skip `ConfigModel.model_post_init`, the walk
    # over the fields that registers secrets: every send validates one (issue 26 §1).
    model_post_init = BaseModel.model_post_init

    to: str = Field(min_length=3, max_length=320)
    usage_type: str = Field(default="Generic", min_length=1, max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict)
    locale: str | None = Field(default=None, max_length=35)
    expires_at: datetime | None = Field(
        default=None,
        description="queued sending: abandon the message if not sent by then (ISO 8601; "
        "default 10 minutes after the request; no zone means UTC)",
    )
    max_attempts: int | None = Field(
        default=None, ge=1, le=20, description="queued sending: delivery attempts at most"
    )

    @field_validator("expires_at")
    @classmethod
    def _expires_at(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Actor:
    """Who is calling: an API key (its id, scopes, optional app) or a local CLI operator."""

    name: str
    scopes: frozenset[str] = SCOPES
    app_id: str | None = None

    def can_access(self, app_id: str) -> bool:
        return self.app_id is None or self.app_id == app_id


CLI_ACTOR = Actor("cli")


@dataclass
class ApiKeyInfo:
    id: str
    name: str | None
    prefix: str
    scopes: list[str]
    app_id: str | None
    created: datetime
    revoked: datetime | None


@dataclass
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    app_id: str | None
    target: str | None
    success: bool
    details: dict[str, Any] = field(default_factory=dict)
