"""The option groups of a config: auth, TLS, pool, rate limit, retry, health, throttle, DKIM and
S/MIME. Each validates its own shape; key material is checked by the signer that uses it, when
the connector is built, so loading a config never needs the signing code.

Annotations here are evaluated when a class is declared (no `from __future__ import
annotations`): pydantic would `compile` each string one (tests/config/test_annotations.py).
"""

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ..errors import register_secret
from .base import ConfigModel, Secret, no_items
from .plain import TlsVersion
from .rules import AuthRules, TlsRules


class AuthConfig(ConfigModel, AuthRules):
    """SMTP AUTH. Omitted or empty means no AUTH (IP-authorised relays).

    `type: login` (any case) uses PLAIN/LOGIN/CRAM-MD5 with user+pass. `type: oauth2` uses
    XOAUTH2 with `accessToken`, or fetches one with clientId/clientSecret/refreshToken/accessUrl,
    or (Logto's service account) with a JWT signed by `privateKey` for `serviceClient`.
    `type: ntlm` uses NTLM with user (`DOMAIN\\user` or `user@DOMAIN`) + pass, through pyspnego
    (extra `ntlm`).
    """

    type: Literal["login", "oauth2", "ntlm"] | None = None
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
    private_key_passphrase: Secret | None = None
    service_client: str | None = None
    domain: str | None = Field(default=None, description="NTLM domain, when `user` has none")
    workstation: str | None = Field(default=None, description="NTLM workstation name")

    # The spellings Logto allows and a round trip must give back (`to_dict` equals the input):
    # `type` as written ('OAuth2', 'LOGIN'), and `privateKey` as a `{key, passphrase}` object.
    _type_as_given: str | None = PrivateAttr(default=None)
    _key_as_object: bool = PrivateAttr(default=False)

    @field_validator("type", mode="before")
    @classmethod
    def _lower_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="wrap")
    @classmethod
    def _logto_forms(
        cls, data: Any, handler: ModelWrapValidatorHandler["AuthConfig"]
    ) -> "AuthConfig":
        """Logto allows `privateKey: {key, passphrase}` (an encrypted key): keep both, and
        remember the forms as given so that the config is written back as it was read."""
        if not isinstance(data, Mapping):
            return handler(data)
        spelling = data.get("type")
        key = data.get("privateKey", data.get("private_key"))
        if isinstance(key, Mapping):
            data = {k: v for k, v in data.items() if k not in ("privateKey", "private_key")}
            data["privateKey"] = key.get("key")
            if key.get("passphrase"):
                data["privateKeyPassphrase"] = key["passphrase"]
        model = handler(data)
        model._type_as_given = spelling if isinstance(spelling, str) else None
        model._key_as_object = isinstance(key, Mapping)
        return model

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        if self._type_as_given is not None and "type" in data:
            data["type"] = self._type_as_given
        if self._key_as_object:
            camel = "privateKey" in data
            key_name, pass_name = (
                ("privateKey", "privateKeyPassphrase")
                if camel
                else ("private_key", "private_key_passphrase")
            )
            if key_name in data:
                data[key_name] = {"key": data[key_name], "passphrase": data.pop(pass_name, "")}
        return data

    @model_validator(mode="after")
    def _check_kind(self) -> "AuthConfig":
        if self.type is None:
            # Inferred, not given: kept out of `model_fields_set`, so a dump (`to_dict`) does
            # not add a `type` the input did not have.
            self.type = "oauth2" if self._has_oauth_fields() else "login"
            self.__pydantic_fields_set__.discard("type")
        if self.type == "oauth2":
            self._check_oauth2()
        elif self.type == "ntlm":
            self._check_ntlm()
        if self.type != "ntlm" and (self.domain or self.workstation):
            raise ValueError("`auth.domain` and `auth.workstation` are NTLM settings (type ntlm)")
        return self

    def _check_oauth2(self) -> None:
        if not self.user:
            raise ValueError("`auth.user` is required for oauth2 (the mailbox to sign in as)")
        if self.pass_ is not None:
            raise ValueError("`auth.pass` is not used with type oauth2; use accessToken or refresh")
        if (self.service_client is None) != (self.private_key is None):
            raise ValueError(
                "`auth.serviceClient` and `auth.privateKey` go together (a service account: "
                "the key signs a token request for serviceClient)"
            )

    def _check_ntlm(self) -> None:
        if not self.user or not self.password:
            raise ValueError(
                "Missing credentials for NTLM: it needs `auth.user` (DOMAIN\\user or "
                "user@DOMAIN) and a non-empty `auth.pass`"
            )
        if self._has_oauth_fields():
            raise ValueError("OAuth2 fields (tokens, keys) do not go with type ntlm")

    @field_validator("access_url")
    @classmethod
    def _safe_token_url(cls, value: str | None) -> str | None:
        problem = token_url_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


def token_url_problem(url: str) -> str | None:
    """Why `url` may not be fetched for a token, or None: https anywhere, http only to a
    loopback address (a local token service), no other scheme (file:// would read a local file
    and send its content as a bearer token). The URL itself is not quoted: it may carry secrets."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return "`accessUrl` is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        return (
            f"`accessUrl` must be an https:// URL (http:// only to a loopback address such as "
            f"127.0.0.1); it has {shown}"
        )
    if scheme == "http" and not is_loopback_name(host):
        return (
            "`accessUrl` uses plain http:// to a host that is not loopback: the refresh token "
            "and client secret would cross the network in clear; use https://"
        )
    return None


def is_loopback_name(host: str) -> bool:
    """`localhost` or a loopback IP literal (127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TlsOptions(ConfigModel, TlsRules):
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
    pfx: Secret | None = Field(
        default=None,
        description="the client certificate and key as one PKCS#12 bundle (Node's `pfx`): "
        "base64 text or the path of a .p12/.pfx file, opened with `passphrase`",
    )

    @property
    def options_given(self) -> set[str]:  # `TlsRules.any_given` reads it
        return self.model_fields_set

    @model_validator(mode="after")
    def _check_pair(self) -> "TlsOptions":
        if (self.cert is None) != (self.key is None):
            raise ValueError("`tls.cert` and `tls.key` (client certificate) go together")
        if self.pfx is not None and self.cert is not None:
            raise ValueError(
                "give the client certificate either as `tls.cert` + `tls.key` or as `tls.pfx`"
            )
        return self


class PoolOptions(ConfigModel):
    """Connection pool per server (nodemailer names)."""

    max_connections: int = Field(default=5, ge=1, le=100)
    max_messages: int = Field(default=100, ge=1)
    idle_timeout: int = Field(
        default=30_000, ge=0, description="ms before an idle connection closes"
    )


class RateLimitOptions(ConfigModel):
    """At most `max_messages` per `rate_delta` ms per server, as nodemailer's pool rate limit."""

    max_messages: int = Field(ge=1)
    rate_delta: int = Field(default=1000, ge=1)


class RetryOptions(ConfigModel):
    """Retries of transient failures (4xx, connection drops) with exponential backoff + jitter."""

    attempts: int = Field(default=3, ge=1, le=20)
    initial_delay: int = Field(default=200, ge=0, description="ms")
    max_delay: int = Field(default=5_000, ge=0, description="ms")
    deadline: int = Field(default=60_000, ge=1, description="ms for all attempts together")
    resend_after_lost_reply: bool = False


class HealthOptions(ConfigModel):
    """Circuit breaker: after `max_errors` consecutive failures, skip a server for `cooldown` ms."""

    max_errors: int = Field(default=5, ge=1)
    cooldown: int = Field(default=30_000, ge=0)


class ThrottleOptions(ConfigModel):
    """Abuse limits on who gets mail how often (Supabase-style MAX_FREQUENCY / hourly caps).

    `store` says where the counts live: `memory` (default, this process) or a
    `redis://host:port/db` (`rediss://` for TLS) URL shared by every process and machine, so
    the limits hold across all of them; per-server `rateLimit`s use the same store."""

    per_recipient_interval: int | None = Field(default=None, ge=0, description="ms")
    per_recipient_hourly: int | None = Field(default=None, ge=1)
    global_hourly: int | None = Field(default=None, ge=1)
    store: str = "memory"

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        value = value.strip()
        if value == "memory":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
            raise ValueError(
                "throttle.store must be 'memory' or a redis://host:port/db URL (rediss:// for TLS)"
            )
        register_secret(parts.password)  # never in an error message or a log
        return value


Canonicalization = Literal["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]


class DkimOptions(ConfigModel):
    """One DKIM signing key. `privateKey` is PEM text or a path to a PEM file.
    `canonicalization` is `header/body` (RFC 6376 §3.4), both halves spelt out."""

    domain_name: str
    key_selector: str
    private_key: Secret
    header_field_names: list[str] | str | None = None
    hash_algo: Literal["sha256"] = "sha256"
    canonicalization: Canonicalization = "relaxed/relaxed"

    @field_validator("canonicalization", mode="before")
    @classmethod
    def _lower_canonicalization(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip().lower().replace(" ", "")
        if value in ("relaxed", "simple"):
            # RFC 6376 reads a lone `relaxed` as relaxed/simple: too easy to get wrong.
            raise ValueError(
                f"write both halves (header/body): {value!r} alone means {value}/simple in "
                f"RFC 6376; use '{value}/simple' or '{value}/{value}'"
            )
        return value


class SmimeOptions(ConfigModel):
    """S/MIME signing. Certificate/key are PEM text or paths."""

    certificate: str
    private_key: Secret
    private_key_password: Secret | None = None
    extra_certificates: list[str] = Field(default_factory=no_items)
    dont_send_on_error: bool = True
