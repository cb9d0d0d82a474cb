"""The connector's configuration: Logto's SMTP connector JSON, accepted unchanged, plus additions.

`ServerSettings` is what reaching one server takes, `ServerConfig` a failover server, and
`SmtpConfig` the whole config. The shared machinery (camelCase aliases, secrets, error messages)
is in `base`, the option groups in `options`; docs/configuration.md lists every field.

Annotations here are evaluated when a class is declared (no `from __future__ import
annotations`): pydantic would `compile` each string one (tests/config/test_annotations.py).
"""

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import ConfigWarning, ConnectorError, ErrorCode
from ..ports import DEFAULT_SUBMISSION_PORT
from .base import ConfigModel, check_address, check_name, config_error, no_items
from .headers import validate_custom_headers
from .options import (
    AuthConfig,
    DkimOptions,
    HealthOptions,
    PoolOptions,
    RateLimitOptions,
    RetryOptions,
    SmimeOptions,
    ThrottleOptions,
    TlsOptions,
)
from .rules import (
    DEFAULT_CONNECTION_TIMEOUT_MS,
    DEFAULT_DNS_TIMEOUT_MS,
    DEFAULT_GREETING_TIMEOUT_MS,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_RENDER_TIMEOUT_MS,
    DEFAULT_SOCKET_TIMEOUT_MS,
    ServerRules,
    is_bare_host,
    is_port,
)
from .templates import EmailTemplate, literal_addresses


class ServerSettings(ConfigModel, ServerRules):
    """Everything needed to reach and log in to one SMTP server."""

    # Its validator is built on first use (4 M instructions of a cold start): the package
    # validates only its subclasses, which build theirs when declared (they set it back).
    # tests/config/test_server_settings.py holds it to `ServerConfig`'s validation. (A comment,
    # not the docstring: the docstring is the JSON schema's description.)
    model_config = ConfigDict(defer_build=True)

    host: str | None = None
    port: int | None = None
    auth: AuthConfig = Field(default_factory=AuthConfig)
    secure: bool | None = None
    require_tls: bool = Field(default=False, alias="requireTLS")
    ignore_tls: bool = Field(default=False, alias="ignoreTLS")
    # nodemailer's: a STARTTLS the server does not offer or refuses is no error, the session
    # goes on without TLS (credentials still never travel in clear: see `clear_auth_allowed`).
    opportunistic_tls: bool = Field(default=False, alias="opportunisticTLS")
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
        if value is not None and not is_port(value):
            raise ValueError(f"port must be between 1 and 65535, got {value}")
        return value

    @field_validator("host")
    @classmethod
    def _host_shape(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            if not is_bare_host(value):
                raise ValueError(
                    "host must be a bare hostname or IP address, e.g. smtp.example.com"
                )
        return value

    @field_validator("name")
    @classmethod
    def _ehlo_name(cls, value: str | None) -> str | None:
        """What aiosmtplib would refuse on every send (whitespace, control characters; it
        fails as a *retryable* connection error) is refused here, by name, once; non-ASCII too.
        nodemailer strips CR/LF from `name` instead; a name that needed it is a mistake."""
        if value is None:
            return value
        if not value or not value.isascii():
            raise ValueError(
                "`name` (the EHLO hostname) must be a non-empty ASCII hostname; punycode an "
                "internationalised name (xn--…)"
            )
        bad = next((c for c in value if c.isspace() or ord(c) < 32 or ord(c) == 127), None)
        if bad is not None:
            kind = "a space" if bad == " " else f"a control character (U+{ord(bad):04X})"
            raise ValueError(
                f"`name` (the EHLO hostname) must be one ASCII word, but it contains {kind} at "
                f"position {value.index(bad)}; line breaks would let it add SMTP commands"
            )
        return value


class ServerConfig(ServerSettings):
    """An additional server for failover; lower `priority` is tried first (0 = highest)."""

    model_config = ConfigDict(defer_build=False)  # validated by the package: built now

    host: str
    priority: int = Field(default=1, ge=0)
    default_from_email: str | None = None
    default_from_name: str | None = None
    label: str | None = None
    rate_limit: RateLimitOptions | None = None

    @field_validator("default_from_email")
    @classmethod
    def _valid_from(cls, value: str | None) -> str | None:
        # Special-use domains are checked by SmtpConfig, which knows allowSpecialUseDomains.
        if value is not None:
            check_address(value, "defaultFromEmail", allow_special_use=True)
        return value

    @field_validator("default_from_name")
    @classmethod
    def _one_line_name(cls, value: str | None) -> str | None:
        return check_name(value)


HeaderValue = str | list[str]


def _special_use_allowed(info: ValidationInfo) -> bool:
    return bool(info.data.get("allow_special_use_domains", False))


class SmtpConfig(ServerSettings):
    """The whole connector config; see docs/configuration.md for every field."""

    model_config = ConfigDict(defer_build=False)  # validated by the package: built now

    # First, so that the address validators below see it (pydantic validates in field order).
    allow_special_use_domains: bool = False
    from_email: str
    from_name: str | None = None
    reply_to: str | None = None
    templates: list[EmailTemplate] = Field(default_factory=no_items)
    default_locale: str = "en"
    use_shipped_templates: bool = True
    custom_headers: dict[str, HeaderValue] = Field(default_factory=dict)
    logger: bool = False
    debug: bool = False
    disable_file_access: bool = False
    disable_url_access: bool = False
    servers: list[ServerConfig] = Field(default_factory=no_items)
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
    max_output_bytes: int = Field(default=DEFAULT_MAX_OUTPUT_BYTES, ge=1024)
    render_timeout: int = Field(default=DEFAULT_RENDER_TIMEOUT_MS, ge=1, description="ms")
    compose_cache: bool = True  # compose once per template shape (compose/shapes.py)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc) from None
        self.warn_tls_flags()

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> "SmtpConfig":
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
    def model_validate_json(cls, data: str | bytes, *args: Any, **kwargs: Any) -> "SmtpConfig":  # type: ignore[override]
        try:
            return super().model_validate_json(data, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "SmtpConfig":
        """Load JSON or TOML, expanding `${ENV_VAR}` (and `${VAR:-default}`) in string values."""
        from .loading import load_config_file

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
    ) -> "SmtpConfig":
        """Build a config from a provider preset (see `list_presets()`), filling host, port, TLS
        mode and the provider's username convention."""
        # Presets sit below config (they never import it), so the model is handed to them; the
        # import waits for the first call to keep `import smtp_connector.config` light.
        from ..presets.build import preset_config

        data = preset_config(
            preset,
            model=cls,
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
    def _valid_from(cls, value: str, info: ValidationInfo) -> str:
        check_address(value, "fromEmail", allow_special_use=_special_use_allowed(info))
        return value

    @field_validator("from_name")
    @classmethod
    def _one_line_name(cls, value: str | None) -> str | None:
        return check_name(value)

    @field_validator("reply_to")
    @classmethod
    def _valid_reply_to(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value:
            check_address(value, "replyTo", allow_special_use=_special_use_allowed(info))
        return value or None

    @field_validator("servers")
    @classmethod
    def _servers_special_use(
        cls, value: list[ServerConfig], info: ValidationInfo
    ) -> list[ServerConfig]:
        if not _special_use_allowed(info):
            passed: set[str] = set()  # failover servers mostly send as their app: check it once
            for index, server in enumerate(value):
                address = server.default_from_email
                if address is not None and address not in passed:
                    check_address(address, f"servers[{index}].defaultFromEmail")
                    passed.add(address)
        return value

    @field_validator("templates")
    @classmethod
    def _templates_special_use(
        cls, value: list[EmailTemplate], info: ValidationInfo
    ) -> list[EmailTemplate]:
        """A template's literal `sendFrom`/`replyTo` is held to the same special-use rule as
        `fromEmail` (the template checked the rest; templated ones are checked when rendered)."""
        if not _special_use_allowed(info):
            for index, template in enumerate(value):
                for key, address in literal_addresses(template):
                    check_address(address, f"templates[{index}].{key}")
        return value

    @field_validator("custom_headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
        validate_custom_headers(value)
        return value

    @model_validator(mode="after")
    def _needs_a_server(self) -> "SmtpConfig":
        if self.transport == "smtp" and not self.host and not self.servers:
            raise ValueError("`host` is required (or give `servers`)")
        if self.host and self.port is None and self.secure is None:
            self.port = DEFAULT_SUBMISSION_PORT
            self.__pydantic_fields_set__.discard("port")  # a default: not written back
        return self

    def warn_tls_flags(self) -> None:
        """Logto accepts `ignoreTLS` with `requireTLS` or `secure`; so do we, saying what it
        does (`ServerSettings.tls_flag_notes`) for each server. Called from `__init__`, which
        every validation path goes through once (after-validators may run twice), and by a
        holder of an already validated config that hands it out again in place of a new
        validation (the store's `build_config`), so its caller is warned as validating it
        would. The warning points at the caller's caller, as from `__init__`."""
        notes = self.tls_flag_notes()
        for index, server in enumerate(self.servers):
            notes += server.tls_flag_notes(f"servers[{index}].")
        for note in notes:
            warnings.warn(ConfigWarning(note), stacklevel=3)

    @model_validator(mode="after")
    def _url_access_allowed(self) -> "SmtpConfig":
        """`disableUrlAccess` forbids every fetch, so a config that needs one cannot load."""
        if not self.disable_url_access:
            return self
        for where, server in [("auth", self), *self._extra_servers("auth")]:
            if server.auth.fetches_tokens:
                raise ValueError(
                    f"`{where}` fetches its access token from `accessUrl`, but "
                    "`disableUrlAccess` is set, which forbids every URL fetch; give "
                    "`accessToken` (or a token_provider) instead, or drop `disableUrlAccess`"
                )
        return self

    def _extra_servers(self, suffix: str) -> list[tuple[str, ServerSettings]]:
        return [(f"servers.{i}.{suffix}", server) for i, server in enumerate(self.servers)]

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
