"""The connector's configuration: Logto's SMTP connector JSON, accepted unchanged, plus additions.

Logto stores its config as camelCase JSON shaped after nodemailer's options; auth systems that
migrate must be able to paste that JSON here. So every model accepts camelCase on the wire and
snake_case in Python, rejects unknown keys by name (a typo must not silently disable TLS), keeps
secrets in `SecretStr`, and turns every validation failure into `ConnectorError(invalid_config)`
whose message names the field and never echoes the value.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .addresses import parse_address
from .errors import ConnectorError, ErrorCode, register_secret
from .usage import ContentType

# Defaults are Logto's (and nodemailer's), in milliseconds.
DEFAULT_CONNECTION_TIMEOUT_MS = 2 * 60 * 1000
DEFAULT_GREETING_TIMEOUT_MS = 30 * 1000
DEFAULT_SOCKET_TIMEOUT_MS = 10 * 60 * 1000
DEFAULT_DNS_TIMEOUT_MS = 30 * 1000
IMPLICIT_TLS_PORTS = frozenset({465, 2465})


def _dump_secret(value: SecretStr | None, info: SerializationInfo) -> str | None:
    """Secrets serialise masked unless the caller explicitly asks to reveal them (saving config)."""
    if value is None:
        return None
    reveal = bool(info.context and info.context.get("reveal_secrets"))
    return value.get_secret_value() if reveal else "**********"


Secret = Annotated[SecretStr, PlainSerializer(_dump_secret, when_used="always")]


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        str_strip_whitespace=False,
    )


class AuthConfig(_Model):
    """SMTP AUTH. Omitted or empty means no AUTH (IP-authorised relays).

    `type: login` (any case) uses PLAIN/LOGIN/CRAM-MD5 with user+pass; `type: oauth2` uses XOAUTH2
    with `accessToken`, or fetches one with clientId/clientSecret/refreshToken/accessUrl.
    """

    type: Literal["login", "oauth2"] | None = None
    user: str | None = None
    pass_: Secret | None = Field(default=None, alias="pass")
    method: Literal["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"] | None = None
    access_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    expires: int | None = Field(default=None, description="access token expiry, epoch ms")
    access_url: str | None = None
    scope: str | None = None
    private_key: Secret | None = None
    service_client: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _lower_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("private_key", mode="before")
    @classmethod
    def _flatten_private_key(cls, value: Any) -> Any:
        """Logto allows `privateKey: {key, passphrase}`; keep the key, passphrase is unsupported."""
        if isinstance(value, Mapping):
            return value.get("key")
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> AuthConfig:
        if self.type is None:
            self.type = "oauth2" if self._has_oauth_fields() else "login"
        if self.type == "oauth2" and self.enabled and not self.user:
            raise ValueError("`auth.user` is required for oauth2 (the mailbox to sign in as)")
        if self.type == "oauth2" and self.pass_ is not None:
            raise ValueError("`auth.pass` is not used with type oauth2; use accessToken or refresh")
        for secret in (self.pass_, self.access_token, self.client_secret, self.refresh_token):
            if secret is not None:
                register_secret(secret.get_secret_value())
        return self

    def _has_oauth_fields(self) -> bool:
        return any(
            v is not None
            for v in (self.access_token, self.refresh_token, self.client_id, self.private_key)
        )

    @property
    def enabled(self) -> bool:
        """True when AUTH should be attempted at all."""
        return bool(self.user) or self._has_oauth_fields()

    @property
    def password(self) -> str | None:
        return self.pass_.get_secret_value() if self.pass_ is not None else None

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.access_url)


TlsVersion = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


class TlsOptions(_Model):
    """Node's `tls` options as Logto passes them. Unknown Node options are kept but unused."""

    model_config = ConfigDict(extra="allow")

    reject_unauthorized: bool = True
    ca: str | list[str] | None = None
    servername: str | None = None
    min_version: TlsVersion | None = None
    max_version: TlsVersion | None = None
    ciphers: str | None = None
    cert: str | None = None
    key: Secret | None = None
    passphrase: Secret | None = None

    @model_validator(mode="after")
    def _check_pair(self) -> TlsOptions:
        if (self.cert is None) != (self.key is None):
            raise ValueError("`tls.cert` and `tls.key` (client certificate) go together")
        return self


class PoolOptions(_Model):
    """Connection pool per server (nodemailer names)."""

    max_connections: int = Field(default=5, ge=1, le=100)
    max_messages: int = Field(default=100, ge=1)
    idle_timeout: int = Field(
        default=30_000, ge=0, description="ms before an idle connection closes"
    )


class RateLimitOptions(_Model):
    """At most `max_messages` per `rate_delta` ms per server, as nodemailer's pool rate limit."""

    max_messages: int = Field(ge=1)
    rate_delta: int = Field(default=1000, ge=1)


class RetryOptions(_Model):
    """Retries of transient failures (4xx, connection drops) with exponential backoff + jitter."""

    attempts: int = Field(default=3, ge=1, le=20)
    initial_delay: int = Field(default=200, ge=0, description="ms")
    max_delay: int = Field(default=5_000, ge=0, description="ms")
    deadline: int = Field(default=60_000, ge=1, description="ms for all attempts together")
    resend_after_lost_reply: bool = False


class HealthOptions(_Model):
    """Circuit breaker: after `max_errors` consecutive failures, skip a server for `cooldown` ms."""

    max_errors: int = Field(default=5, ge=1)
    cooldown: int = Field(default=30_000, ge=0)


class ThrottleOptions(_Model):
    """Abuse limits on who gets mail how often (Supabase-style MAX_FREQUENCY / hourly caps)."""

    per_recipient_interval: int | None = Field(default=None, ge=0, description="ms")
    per_recipient_hourly: int | None = Field(default=None, ge=1)
    global_hourly: int | None = Field(default=None, ge=1)


class DkimOptions(_Model):
    """One DKIM signing key. `privateKey` is PEM text or a path to a PEM file."""

    domain_name: str
    key_selector: str
    private_key: Secret
    header_field_names: list[str] | str | None = None
    hash_algo: Literal["sha256"] = "sha256"


class SmimeOptions(_Model):
    """S/MIME signing. Certificate/key are PEM text or paths."""

    certificate: str
    private_key: Secret
    private_key_password: Secret | None = None
    extra_certificates: list[str] = Field(default_factory=list)
    dont_send_on_error: bool = True


class EmailTemplate(_Model):
    """One template, keyed by usage type (and optionally locale).

    Logto's shape is `{usageType, contentType, subject, content}`. Additions: `locale`, and
    `textContent`/`htmlContent` so one template yields a multipart/alternative message.
    """

    usage_type: str = Field(min_length=1)
    content_type: ContentType = ContentType.TEXT
    subject: str
    content: str | None = None
    text_content: str | None = None
    html_content: str | None = None
    locale: str | None = None

    @model_validator(mode="after")
    def _has_body(self) -> EmailTemplate:
        if not (self.content or self.text_content or self.html_content):
            raise ValueError(
                f"template {self.usage_type!r} has no body: set `content` "
                "(with contentType) or `textContent`/`htmlContent`"
            )
        return self

    @property
    def text_source(self) -> str | None:
        """The plain-text body source, from `textContent` or a text/plain `content`."""
        if self.text_content is not None:
            return self.text_content
        return self.content if self.content_type is ContentType.TEXT else None

    @property
    def html_source(self) -> str | None:
        if self.html_content is not None:
            return self.html_content
        return self.content if self.content_type is ContentType.HTML else None

    @property
    def label(self) -> str:
        return f"{self.usage_type}/{self.locale}" if self.locale else self.usage_type


class ServerSettings(_Model):
    """Everything needed to reach and log in to one SMTP server."""

    host: str | None = None
    port: int | None = None
    auth: AuthConfig = Field(default_factory=AuthConfig)
    secure: bool | None = None
    require_tls: bool = Field(default=False, alias="requireTLS")
    ignore_tls: bool = Field(default=False, alias="ignoreTLS")
    tls: TlsOptions = Field(default_factory=TlsOptions)
    servername: str | None = None
    name: str | None = None
    local_address: str | None = None
    connection_timeout: int = Field(default=DEFAULT_CONNECTION_TIMEOUT_MS, ge=1)
    greeting_timeout: int = Field(default=DEFAULT_GREETING_TIMEOUT_MS, ge=1)
    socket_timeout: int = Field(default=DEFAULT_SOCKET_TIMEOUT_MS, ge=1)
    dns_timeout: int = Field(default=DEFAULT_DNS_TIMEOUT_MS, ge=1)

    @field_validator("auth", mode="before")
    @classmethod
    def _empty_auth(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("tls", mode="before")
    @classmethod
    def _empty_tls(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("port")
    @classmethod
    def _port_range(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 65535:
            raise ValueError(f"port must be between 1 and 65535, got {value}")
        return value

    @field_validator("host")
    @classmethod
    def _host_shape(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            if not value or any(c in value for c in " \r\n\t/"):
                raise ValueError(
                    "host must be a bare hostname or IP address, e.g. smtp.example.com"
                )
        return value

    @field_validator("name")
    @classmethod
    def _ascii_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.isascii() or not value or " " in value):
            raise ValueError(
                "`name` (the EHLO hostname) must be ASCII without spaces; "
                "punycode an internationalised name (xn--…)"
            )
        return value

    @model_validator(mode="after")
    def _tls_flags(self) -> ServerSettings:
        if self.ignore_tls and (self.secure or self.require_tls):
            raise ValueError(
                "`ignoreTLS` cannot be combined with `secure` or `requireTLS`: "
                "choose plain SMTP (ignoreTLS) or TLS, not both"
            )
        return self

    @property
    def implicit_tls(self) -> bool:
        """Implicit TLS from the first byte: `secure: true`, or port 465 when `secure` is unset."""
        if self.secure is not None:
            return self.secure
        return self.port in IMPLICIT_TLS_PORTS

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.secure else 587

    @property
    def tls_server_name(self) -> str | None:
        return self.tls.servername or self.servername or self.host

    @property
    def address(self) -> str:
        """`host:port`, the server's name in results and errors."""
        return f"{self.host}:{self.effective_port}"


class ServerConfig(ServerSettings):
    """An additional server for failover; lower `priority` is tried first (0 = highest)."""

    host: str  # type: ignore[assignment]
    priority: int = Field(default=1, ge=0)
    default_from_email: str | None = None
    default_from_name: str | None = None
    label: str | None = None
    rate_limit: RateLimitOptions | None = None

    @field_validator("default_from_email")
    @classmethod
    def _valid_from(cls, value: str | None) -> str | None:
        if value is not None:
            _check_address(value, "defaultFromEmail")
        return value


def _check_address(value: str, field: str) -> None:
    try:
        parse_address(value, what=field)
    except ConnectorError as exc:
        raise ValueError(exc.message) from None


HeaderValue = str | list[str]


class SmtpConfig(ServerSettings):
    """The whole connector config; see README "Configuration reference" for every field."""

    from_email: str
    from_name: str | None = None
    reply_to: str | None = None
    templates: list[EmailTemplate] = Field(default_factory=list)
    default_locale: str = "en"
    use_shipped_templates: bool = True
    custom_headers: dict[str, HeaderValue] = Field(default_factory=dict)
    logger: bool = False
    debug: bool = False
    disable_file_access: bool = False
    disable_url_access: bool = False
    servers: list[ServerConfig] = Field(default_factory=list)
    pool: PoolOptions = Field(default_factory=PoolOptions)
    rate_limit: RateLimitOptions | None = None
    retry: RetryOptions = Field(default_factory=RetryOptions)
    health: HealthOptions = Field(default_factory=HealthOptions)
    throttle: ThrottleOptions = Field(default_factory=ThrottleOptions)
    dkim: DkimOptions | list[DkimOptions] | None = None
    smime: SmimeOptions | None = None
    transport: Literal["smtp", "memory", "console", "file"] = "smtp"
    outbox_dir: str | None = None
    pipelining: bool = True
    refuse_private_hosts: bool = False
    max_payload_bytes: int = Field(default=64 * 1024, ge=1)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> SmtpConfig:  # type: ignore[override]
        """Validate a config dict (Logto JSON unchanged); failures are `invalid_config` errors."""
        if not isinstance(obj, Mapping) and not isinstance(obj, cls):
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"The config must be a JSON object (a dict), got {type(obj).__name__}.",
            )
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def model_validate_json(cls, data: str | bytes, *args: Any, **kwargs: Any) -> SmtpConfig:  # type: ignore[override]
        try:
            return super().model_validate_json(data, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SmtpConfig:
        """Load JSON or TOML, expanding `${ENV_VAR}` (and `${VAR:-default}`) in string values."""
        from .config_file import load_config_file

        return cls.model_validate(load_config_file(Path(path)))

    @classmethod
    def from_preset(
        cls,
        preset: str,
        *,
        user: str | None = None,
        password: str | None = None,
        from_email: str | None = None,
        region: str | None = None,
        port: int | None = None,
        **overrides: Any,
    ) -> SmtpConfig:
        """Build a config from a provider preset (see `list_presets()`), filling host, port, TLS
        mode and the provider's username convention."""
        from .presets import preset_config

        data = preset_config(
            preset,
            user=user,
            password=password,
            from_email=from_email,
            region=region,
            port=port,
            **overrides,
        )
        return cls.model_validate(data)

    @field_validator("from_email")
    @classmethod
    def _valid_from(cls, value: str) -> str:
        _check_address(value, "fromEmail")
        return value

    @field_validator("from_name")
    @classmethod
    def _one_line_name(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n\x00"):
            raise ValueError("`fromName` must be a single line (no CR, LF or NUL)")
        return value

    @field_validator("reply_to")
    @classmethod
    def _valid_reply_to(cls, value: str | None) -> str | None:
        if value:
            _check_address(value, "replyTo")
        return value or None

    @field_validator("custom_headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
        from .message import validate_custom_headers

        validate_custom_headers(value)
        return value

    @field_validator("dkim")
    @classmethod
    def _valid_dkim(
        cls, value: DkimOptions | list[DkimOptions] | None
    ) -> DkimOptions | list[DkimOptions] | None:
        """Bad key material fails at load time, not on the first sign-up email."""
        if value is not None:
            from .dkim import check_dkim_options

            for options in value if isinstance(value, list) else [value]:
                check_dkim_options(options)
        return value

    @field_validator("smime")
    @classmethod
    def _valid_smime(cls, value: SmimeOptions | None) -> SmimeOptions | None:
        if value is not None:
            from .smime import check_smime_options

            check_smime_options(value)
        return value

    @model_validator(mode="after")
    def _needs_a_server(self) -> SmtpConfig:
        if self.transport == "smtp" and not self.host and not self.servers:
            raise ValueError("`host` is required (or give `servers`)")
        if self.host and self.port is None and self.secure is None:
            self.port = 587
        return self

    def server_list(self) -> list[ServerConfig]:
        """All servers in priority order; the top-level host is priority 0."""
        servers = sorted(self.servers, key=lambda s: s.priority)
        if not self.host:
            return servers
        fields = set(ServerSettings.model_fields)
        primary = ServerConfig.model_validate(
            {name: getattr(self, name) for name in fields}
            | {"priority": 0, "rate_limit": self.rate_limit}
        )
        return [primary, *servers]

    def to_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """camelCase JSON-ready dict; secrets masked unless `reveal_secrets` (for writing files)."""
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude_unset=True,
            context={"reveal_secrets": reveal_secrets},
        )

    def __repr_args__(self) -> Any:
        # Keep reprs short and safe: the important identity, never secrets.
        yield "host", self.host
        yield "port", self.port
        yield "from_email", self.from_email
        yield "templates", len(self.templates)


def config_error(exc: ValidationError) -> ConnectorError:
    """Turn pydantic's errors into one actionable message naming each field, without input values
    (which could be secrets)."""
    lines = [_describe(err) for err in exc.errors(include_input=False, include_url=False)]
    summary = "; ".join(lines)
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Invalid SMTP config: {summary}",
        retryable=False,
        details=lines,
    )


def _describe(err: Any) -> str:
    loc = ".".join(str(part) for part in err["loc"]) or "(config)"
    if err["type"] == "extra_forbidden":
        return f"`{loc}`: unknown key (not a Logto or smtp-connector setting; check the spelling)"
    if err["type"] == "missing":
        return f"`{loc}`: required field is missing"
    message = err["msg"].removeprefix("Value error, ")
    return f"`{loc}`: {message}"


def tls_version(name: str | None) -> ssl.TLSVersion | None:
    """Map Node's `minVersion` names onto `ssl.TLSVersion`."""
    mapping = {
        "TLSv1": ssl.TLSVersion.TLSv1,
        "TLSv1.1": ssl.TLSVersion.TLSv1_1,
        "TLSv1.2": ssl.TLSVersion.TLSv1_2,
        "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    }
    return mapping.get(name) if name else None
