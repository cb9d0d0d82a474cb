"""The provider-preset data model: one schema for every file in `provider_presets/`.

Presets are data (as nodemailer's well-known services are), but richer: regional hosts, every
port with its TLS mode, the username convention, auth mechanisms and OAuth2 endpoints, limits
and the provider's documented quirks. Validation here is what makes a bad data file fail at
load time (and in the test suite) instead of producing a config that cannot connect. Facts
found only in secondary sources carry `verified = false`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConnectorError, ErrorCode
from ..ports import IMPLICIT_TLS_PORTS

TlsMode = Literal["implicit", "starttls", "plain"]
TLS_MODES: tuple[str, ...] = get_args(TlsMode)
Severity = Literal["info", "warning", "error"]
UsernameRule = Literal["email", "literal", "same_as_password", "account"]
PasswordKind = Literal[
    "password",
    "app_password",
    "api_key",
    "api_secret",
    "smtp_key",
    "smtp_password",
    "authorization_code",
    "server_token",
    "oauth_token",
]
Mechanism = Literal["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]
FromRule = Literal["any", "equals_user", "user_or_alias", "rewritten_to_user"]

TLS_NAMES: dict[str, str] = {
    "implicit": "implicit TLS",
    "starttls": "STARTTLS",
    "plain": "plain SMTP (STARTTLS if offered)",
}
TLS_LABELS: dict[str, str] = {
    "implicit": "implicit TLS, secure: true",
    "starttls": "STARTTLS, secure: false",
    "plain": "plain with STARTTLS if offered, secure: false",
}


class _Data(BaseModel):
    """Preset data is immutable (it is cached and shared) and strict (a typo is a data bug)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PortSpec(_Data):
    """One port the provider listens on, and how TLS works there."""

    port: int = Field(ge=1, le=65535)
    tls: TlsMode
    default: bool = False
    note: str | None = None
    verified: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> PortSpec:
        """465-style ports speak TLS from the first byte, every other port starts in plain text."""
        if (self.port in IMPLICIT_TLS_PORTS) != (self.tls == "implicit"):
            expected = "implicit" if self.port in IMPLICIT_TLS_PORTS else "starttls or plain"
            raise ValueError(f"port {self.port} must be tls = {expected!r}, not {self.tls!r}")
        return self

    @property
    def label(self) -> str:
        return f"{self.port} ({TLS_LABELS[self.tls]})"


class RegionSpec(_Data):
    """A regional endpoint (or a stream/edition with its own host) of one provider."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    name: str
    host: str | None = None
    aliases: tuple[str, ...] = ()
    preset_aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    deprecated: bool = False
    note: str | None = None
    verified: bool = True


class UsernameSpec(_Data):
    """How the SMTP username is formed; `literal` providers use a fixed word for everyone."""

    rule: UsernameRule
    value: str | None = None
    default: str | None = Field(
        default=None, description="template for `account`; {domain} = the From address's domain"
    )
    required: bool = True
    description: str
    verified: bool = True

    @model_validator(mode="after")
    def _literal_has_value(self) -> UsernameSpec:
        if (self.rule == "literal") != (self.value is not None):
            raise ValueError("`value` is required for rule 'literal' and only allowed there")
        return self

    @property
    def summary(self) -> str:
        """A one-line rule for tables, e.g. "literal `apikey`"."""
        if self.rule == "literal":
            return f"literal `{self.value}`"
        if self.rule == "email":
            return "full email address" + ("" if self.required else " (optional)")
        if self.rule == "same_as_password":
            return "same as password (token)"
        return f"account login ({self.default})" if self.default else "account login"


class PasswordSpec(_Data):
    kind: PasswordKind
    description: str
    verified: bool = True


class OAuth2Spec(_Data):
    """What an XOAUTH2 token must be issued for, and where to refresh it."""

    scopes: tuple[str, ...] = Field(min_length=1)
    token_url: str = Field(pattern=r"^https://")
    note: str | None = None
    verified: bool = True


class AuthSpec(_Data):
    mechanisms: tuple[Mechanism, ...] = Field(min_length=1)
    password: bool = Field(default=True, description="False when password (basic) auth is gone")
    oauth2: OAuth2Spec | None = None
    verified: bool = True

    @model_validator(mode="after")
    def _oauth_consistent(self) -> AuthSpec:
        if ("XOAUTH2" in self.mechanisms) != (self.oauth2 is not None):
            raise ValueError("list XOAUTH2 in `mechanisms` exactly when [auth.oauth2] is given")
        if not self.password and self.mechanisms != ("XOAUTH2",):
            raise ValueError("`password = false` means XOAUTH2 is the only mechanism")
        return self


class LimitsSpec(_Data):
    messages_per_second: float | None = None
    messages_per_minute: int | None = None
    messages_per_day: int | None = None
    recipients_per_message: int | None = None
    recipients_per_day: int | None = None
    max_message_mb: float | None = None
    messages_per_connection: int | None = None
    min_command_timeout_seconds: int | None = None
    note: str | None = None
    verified: bool = True

    def describe(self) -> list[str]:
        """Human-readable limits, in a stable order."""
        parts = [
            (self.messages_per_second, "messages/second"),
            (self.messages_per_minute, "messages/minute"),
            (self.messages_per_day, "messages/day"),
            (self.recipients_per_message, "recipients/message"),
            (self.recipients_per_day, "recipients/day"),
            (self.max_message_mb, "MB/message"),
            (self.messages_per_connection, "messages/connection"),
            (self.min_command_timeout_seconds, "s minimum command timeout"),
        ]
        lines = [f"{_number(value)} {unit}" for value, unit in parts if value is not None]
        return [*lines, self.note] if self.note else lines


class QuirkSpec(_Data):
    """A documented surprise, shown by `smtp-connector presets NAME`."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    message: str
    severity: Literal["info", "warning"] = "warning"
    verified: bool = True


class Preset(_Data):
    """Everything smtp-connector knows about one provider (one file in provider_presets/)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    display_name: str
    description: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    host: str = Field(description="host name; `{region}` is replaced by the region id")
    regions: tuple[RegionSpec, ...] = ()
    default_region: str | None = None
    region_pattern: str | None = Field(
        default=None, description="any region id matching this is valid (open-ended, e.g. AWS)"
    )
    ports: tuple[PortSpec, ...] = Field(min_length=1)
    username: UsernameSpec
    password: PasswordSpec
    auth: AuthSpec
    from_rule: FromRule = "any"
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    quirks: tuple[QuirkSpec, ...] = ()
    config: dict[str, Any] = Field(
        default_factory=dict, description="extra camelCase config keys the preset sets"
    )
    docs_url: str = Field(pattern=r"^https://")

    @model_validator(mode="after")
    def _check_ports(self) -> Preset:
        numbers = [p.port for p in self.ports]
        if len(set(numbers)) != len(numbers):
            raise ValueError("a port is listed twice")
        if sum(p.default for p in self.ports) != 1:
            raise ValueError("exactly one port must have `default = true`")
        return self

    @model_validator(mode="after")
    def _check_regions(self) -> Preset:
        ids = [r.id for r in self.regions]
        if len(set(ids)) != len(ids):
            raise ValueError("a region id is listed twice")
        if "{region}" in self.host and not (self.regions or self.region_pattern):
            raise ValueError("a `{region}` host needs `regions` or `region_pattern`")
        if self.default_region is not None and self.default_region not in ids:
            raise ValueError(f"default_region {self.default_region!r} is not in `regions`")
        if self.region_pattern is not None:
            pattern = re.compile(self.region_pattern)
            bad = [r.id for r in self.regions if r.host is None and not pattern.match(r.id)]
            if bad:
                raise ValueError(f"regions {bad} do not match region_pattern")
        return self

    @model_validator(mode="after")
    def _check_rules(self) -> Preset:
        if self.from_rule == "equals_user" and self.username.rule != "email":
            raise ValueError("from_rule 'equals_user' needs username rule 'email'")
        if not self.auth.password and self.password.kind != "oauth_token":
            raise ValueError("an OAuth2-only provider takes password kind 'oauth_token'")
        return self

    # -- derived facts ---------------------------------------------------------------------

    @property
    def default_port(self) -> PortSpec:
        return next(p for p in self.ports if p.default)

    def port_spec(self, port: int | None) -> PortSpec | None:
        return next((p for p in self.ports if p.port == port), None)

    @property
    def username_summary(self) -> str:
        """The username rule in a few words; "sender address" where it must equal From."""
        if self.from_rule == "equals_user":
            return "sender address (= From)"
        return self.username.summary

    @property
    def region_required(self) -> bool:
        """True when no host can be formed without the caller naming a region (e.g. SES)."""
        return "{region}" in self.host and self.default_region is None

    @property
    def display_host(self) -> str:
        """The host to show in a table: the default region's host, else the template."""
        return self.host_for(self.default_region) if self.default_region else self.host

    def host_for(self, region: str | None) -> str:
        """The SMTP host for `region` (an id from `resolve_region`), or the single host."""
        spec = self.find_region(region) if region else None
        if spec is not None and spec.host:
            return spec.host
        if "{region}" in self.host:
            if not region:
                raise self.region_error(None)
            return self.host.replace("{region}", region)
        return self.host

    def find_region(self, value: str | None) -> RegionSpec | None:
        """A listed region by id or alias, case- and separator-insensitive."""
        if not value:
            return None
        key = lookup_key(value)
        for region in self.regions:
            if key in {lookup_key(region.id), *(lookup_key(a) for a in region.aliases)}:
                return region
        return None

    def resolve_region(self, value: str) -> str:
        """The canonical region id for `value`, or `invalid_config` listing the valid ones."""
        region = self.find_region(value)
        if region is not None:
            return region.id
        candidate = value.strip().lower()
        if self.region_pattern and re.match(self.region_pattern, candidate):
            return candidate
        raise self.region_error(value)

    def match_host(self, host: str | None) -> tuple[bool, str | None]:
        """Whether `host` is one of this provider's servers, and for which region."""
        if not host:
            return False, None
        wanted = host.strip().rstrip(".").lower()
        for region in self.regions:
            if region.host and region.host.lower() == wanted:
                return True, region.id
        if wanted == self.host.lower():  # also the unfilled template: flagged by the rules
            return True, None if "{region}" in self.host else self.default_region
        if "{region}" not in self.host:
            return False, None
        prefix, _, suffix = self.host.lower().partition("{region}")
        if wanted.startswith(prefix) and wanted.endswith(suffix):
            region_id = wanted[len(prefix) : len(wanted) - len(suffix)]
            if region_id and (self.find_region(region_id) or self.accepts_region_id(region_id)):
                return True, region_id
        return False, None

    def accepts_region_id(self, region_id: str) -> bool:
        """Open-ended providers (AWS) accept any well-formed region id, listed or not."""
        return bool(self.region_pattern and re.match(self.region_pattern, region_id))

    def region_for_domain(self, domain: str) -> str | None:
        domain = domain.lower()
        return next((r.id for r in self.regions if domain in r.domains), None)

    @property
    def unverified(self) -> list[str]:
        """Which facts come only from secondary sources ("(2°)" in the facts file)."""
        parts: list[tuple[str, bool]] = [
            ("username", self.username.verified),
            ("password", self.password.verified),
            ("auth", self.auth.verified),
            ("limits", self.limits.verified),
            *((f"port {p.port}", p.verified) for p in self.ports),
            *((f"region {r.id}", r.verified) for r in self.regions),
            *((f"quirk {q.code}", q.verified) for q in self.quirks),
        ]
        if self.auth.oauth2 is not None:
            parts.append(("oauth2", self.auth.oauth2.verified))
        return [label for label, verified in parts if not verified]

    def region_error(self, given: str | None) -> ConnectorError:
        """`invalid_config` for a missing (`given` None) or unknown region, listing valid ones."""
        listed = ", ".join(r.id for r in self.regions if not r.deprecated)
        if self.region_pattern:
            listed += ", or any other region id of the provider (e.g. eu-south-2)"
        if given is None:
            what = f"{self.display_name} needs a region (its host is {self.host})"
        else:
            what = f"Unknown {self.display_name} region {given.strip()[:40]!r}"
        return ConnectorError(
            ErrorCode.INVALID_CONFIG, f"{what}; valid regions: {listed}.", retryable=False
        )

    def unsupported_port_text(self, port: int) -> str:
        return (
            f"{self.display_name} does not accept SMTP on port {port}; "
            f"use {self.supported_ports_text()}."
        )

    def mismatch_text(self, spec: PortSpec | None, wants_implicit: bool | None) -> str:
        """Name both right combinations: the flag this port needs, and the port for the mode
        that was asked for (e.g. "587 is STARTTLS: set secure: false, or use 465 for ...")."""
        wanted = "implicit TLS" if wants_implicit else "STARTTLS"
        fitting = [p for p in self.ports if (p.tls == "implicit") == bool(wants_implicit)]
        if spec is None:
            return (
                f"{self.display_name} has no port with {wanted}; use {self.supported_ports_text()}."
            )
        secure = "true" if spec.tls == "implicit" else "false"
        head = (
            f"{self.display_name} port {spec.port} is {TLS_NAMES[spec.tls]}, not {wanted}: "
            f"set secure: {secure} for port {spec.port}"
        )
        return f"{head}, or for {wanted} use {ports_text(fitting)}." if fitting else f"{head}."

    def supported_ports_text(self) -> str:
        """e.g. "465 (implicit TLS, secure: true) or 587 (STARTTLS, secure: false)"."""
        return ports_text(self.ports)


class PresetWarning(_Data):
    """One guard-rail finding. `error` means the provider will refuse this config."""

    code: str
    message: str
    severity: Severity = "warning"
    preset: str | None = None
    server: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class PresetConfigWarning(UserWarning):
    """Issued (via `warnings.warn`) by `preset_config`/`SmtpConfig.from_preset` for guard rails
    that do not stop the config from loading, so callers see them without extra calls."""

    def __init__(self, warning: PresetWarning) -> None:
        self.preset_warning = warning
        super().__init__(str(warning))


def tls_fields(mode: str | None) -> dict[str, Any]:
    """Logto's flags for a TLS mode: implicit → secure; starttls → requireTLS; plain → neither."""
    if mode == "implicit":
        return {"secure": True}
    if mode == "starttls":
        return {"secure": False, "requireTLS": True}
    if mode == "plain":
        return {"secure": False}
    return {}


def ports_text(ports: Iterable[PortSpec]) -> str:
    """Ports grouped by TLS mode: "465 (implicit TLS, secure: true) or 587, 2525 (STARTTLS, …)"."""
    groups: dict[str, list[str]] = {}
    for spec in ports:
        groups.setdefault(spec.tls, []).append(str(spec.port))
    return " or ".join(f"{', '.join(nums)} ({TLS_LABELS[mode]})" for mode, nums in groups.items())


def lookup_key(text: str) -> str:
    """Lookup key: case-, space-, dot-, dash- and underscore-insensitive ("Google Mail")."""
    return re.sub(r"[\s._-]+", "", text.strip().lower())


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"
