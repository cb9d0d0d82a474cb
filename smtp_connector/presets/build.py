"""Provider presets: what each SMTP provider expects, and a config built from it.

Most failed verification emails are configuration mistakes the provider documents but nobody
reads: SendGrid's username is the literal `apikey`, Aliyun rejects a From that is not the login,
port 587 with implicit TLS says "wrong version number", Outlook.com no longer takes passwords.
So every provider is one TOML file in `provider_presets/` (schema: `model`, lookup: `catalog`),
this module turns a preset into a Logto-style config (`preset_config`, behind
`SmtpConfig.from_preset`), and `rules` checks any config against the preset of its host.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Mapping
from email.utils import parseaddr
from typing import Any, cast, get_args

from pydantic import BaseModel

from ..errors import ConnectorError, ErrorCode
from ..ports import IMPLICIT_TLS_PORTS
from .catalog import require_preset
from .model import TLS_MODES, PortSpec, Preset, PresetConfigWarning, tls_fields
from .rules import ConfigView, preset_warnings

# OAuth2 keyword arguments of `preset_config`, mapped onto Logto's `auth` keys.
_OAUTH_KEYS = {
    "access_token": "accessToken",
    "refresh_token": "refreshToken",
    "client_id": "clientId",
    "client_secret": "clientSecret",
    "expires": "expires",
    "access_url": "accessUrl",
}


def preset_config(
    name: str,
    *,
    model: type[BaseModel],
    user: str | None = None,
    password: str | None = None,
    from_email: str | None = None,
    region: str | None = None,
    port: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A camelCase Logto-style config for provider `name`, ready for `SmtpConfig.model_validate`.

    `model` is the config model (`SmtpConfig`, whose `from_preset` calls this): it names the wire
    keys of snake_case overrides and validates the result for the guard rails, so presets need
    not import config.

    Fills the host (per region), port and TLS flags, and the username convention. `overrides`
    are any SmtpConfig keys (snake_case or camelCase) and win; also accepted: `tls_mode`
    ("implicit" | "starttls" | "plain", or `tls=` as that string) and OAuth2 tokens
    (`access_token`, `refresh_token`, `client_id`, `client_secret`, `expires`, `access_url`).
    A `host` override that is not one of the provider's servers (e.g. a local test server)
    switches the provider's port/TLS guard off. Raises `ConnectorError(invalid_config)` for an
    unknown preset, a missing/unknown region, or a port/TLS combination the provider does not
    serve; softer guard rails are issued as `PresetConfigWarning`s.
    """
    preset, alias_region = require_preset(name)
    if "@" in name and not (user or from_email):
        user = name.strip()  # from_preset("me@gmail.com", password=...)
    extra = dict(overrides)
    tls_mode = _pop_tls_mode(extra)
    oauth = _pop_oauth(extra)
    extra = camelize(extra, model)
    from_email = from_email or extra.pop("fromEmail", None)
    host_override = extra.pop("host", None)
    hint = from_email or user or (name if "@" in name else None)
    region_id = _choose_region(preset, region, alias_region, host_override, hint)
    on_provider = host_override is None or preset.match_host(host_override)[0]
    host = host_override or preset.host_for(region_id)
    spec, port = _choose_port(preset, port, tls_mode, extra.get("secure"), on_provider)
    login = _login_user(preset, user, password, from_email, oauth)
    data: dict[str, Any] = {
        "host": host,
        "port": port,
        **_tls_defaults(tls_mode or _mode_of(spec, port, extra.get("secure")), extra),
        "auth": _auth_block(preset, login, password, oauth),
        "fromEmail": _sender(preset, from_email, login),
    }
    data = deep_merge(deep_merge(data, copy.deepcopy(preset.config)), extra)
    _issue_warnings(model, preset, data)
    return data


def _pop_tls_mode(extra: dict[str, Any]) -> str | None:
    """Take the preset-level TLS mode out of the overrides (`tls="starttls"` included)."""
    modes = [extra.pop(key) for key in ("tls_mode", "tlsMode") if key in extra]
    if isinstance(extra.get("tls"), str):
        modes.append(extra.pop("tls"))
    mode = next((m for m in modes if m is not None), None)
    if mode is None:
        return None
    mode = str(mode).strip().lower()
    if mode not in TLS_MODES:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Unknown TLS mode {mode!r}: use one of {', '.join(TLS_MODES)}.",
        )
    return mode


def _pop_oauth(extra: dict[str, Any]) -> dict[str, Any]:
    """OAuth2 token keywords (snake_case or camelCase) → Logto `auth` keys."""
    found: dict[str, Any] = {}
    for snake, camel in _OAUTH_KEYS.items():
        for key in {snake, camel}:
            if key in extra:
                found[camel] = extra.pop(key)
    return {k: v for k, v in found.items() if v is not None}


def _choose_region(
    preset: Preset,
    region: str | None,
    alias_region: str | None,
    host_override: str | None,
    address_hint: str | None,
) -> str | None:
    """Explicit region > region of an overriding provider host > alias > mailbox domain >
    default; a regional provider without any of these (SES) is an error listing the regions."""
    if region is not None:
        if not preset.regions and "{region}" not in preset.host:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"{preset.display_name} has a single host ({preset.host}); drop `region`.",
            )
        return preset.resolve_region(region)
    if host_override is not None:
        matched, host_region = preset.match_host(host_override)
        if matched:
            return host_region
    if alias_region is not None:
        return alias_region
    domain = parseaddr(address_hint or "")[1].rpartition("@")[2]
    domain_region = preset.region_for_domain(domain) if domain else None
    if domain_region is not None:
        return domain_region
    if preset.default_region is not None:
        return preset.default_region
    if preset.region_required and host_override is None:
        raise preset.region_error(None)
    return None


def _choose_port(
    preset: Preset,
    port: int | None,
    tls_mode: str | None,
    secure: Any,
    on_provider: bool,
) -> tuple[PortSpec | None, int]:
    """Pick the port (default, or the one matching the wanted TLS mode) and refuse, on the
    provider's own host, a port it does not serve or a TLS mode that port does not speak."""
    wants_implicit = _wants_implicit(tls_mode, secure)
    if port is None:
        spec = _port_for(preset, tls_mode, wants_implicit)
        if spec is None and on_provider:
            raise _invalid(preset.mismatch_text(None, wants_implicit))
        spec = spec or preset.default_port
        return spec, spec.port
    spec = preset.port_spec(port)
    if on_provider:
        if spec is None:
            raise _invalid(preset.unsupported_port_text(port))
        if wants_implicit is not None and wants_implicit != (spec.tls == "implicit"):
            raise _invalid(preset.mismatch_text(spec, wants_implicit))
    return spec, port


def _wants_implicit(tls_mode: str | None, secure: Any) -> bool | None:
    if tls_mode is not None:
        return tls_mode == "implicit"
    return secure if isinstance(secure, bool) else None


def _port_for(preset: Preset, tls_mode: str | None, wants_implicit: bool | None) -> PortSpec | None:
    """The default port if it fits the wanted mode, else the first port that does."""

    def fits(spec: PortSpec) -> bool:
        if tls_mode is not None and tls_mode != "plain":
            return spec.tls == tls_mode
        return wants_implicit is None or wants_implicit == (spec.tls == "implicit")

    ordered = sorted(preset.ports, key=lambda p: not p.default)
    return next((p for p in ordered if fits(p)), None)


def _invalid(message: str) -> ConnectorError:
    return ConnectorError(ErrorCode.INVALID_CONFIG, message, retryable=False)


def _mode_of(spec: PortSpec | None, port: int, secure: Any) -> str:
    """The TLS mode of the chosen port; for a port the preset does not list (an overriding
    host, a local relay) TLS is still required: implicit on a TLS port or with `secure`,
    STARTTLS with `requireTLS` otherwise. A preset never yields a config that would fall back
    to plain text silently."""
    if spec is not None:
        return spec.tls
    return "implicit" if secure is True or port in IMPLICIT_TLS_PORTS else "starttls"


def _tls_defaults(mode: str | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    """TLS flags for the mode, minus the ones the caller set (an explicit choice wins, and
    `ignoreTLS` must not meet `requireTLS`)."""
    fields = tls_fields(mode)
    if extra.get("ignoreTLS"):
        fields.pop("requireTLS", None)
    return {k: v for k, v in fields.items() if k not in extra}


def _login_user(
    preset: Preset,
    user: str | None,
    password: str | None,
    from_email: str | None,
    oauth: Mapping[str, Any],
) -> str | None:
    """The SMTP username by the provider's rule; an explicit `user` wins except over a literal."""
    rule = preset.username
    if rule.rule == "literal":
        if user is not None and user != rule.value:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"{preset.display_name}'s SMTP username is always the literal {rule.value!r}; "
                f"leave `user` unset and pass the {_kind_text(preset)} as `password`.",
            )
        return rule.value
    if user:
        return user
    if not rule.required and password is None and not oauth:
        return None  # IP-authorised relay: no AUTH at all
    if rule.rule == "email" and from_email:
        return parseaddr(from_email)[1] or from_email
    if rule.rule == "same_as_password":
        if password is None and not oauth:
            raise _invalid(_missing_secret_text(preset))
        return password
    if rule.rule == "account" and rule.default and from_email:
        domain = parseaddr(from_email)[1].rpartition("@")[2]
        return rule.default.replace("{domain}", domain) if domain else None
    if rule.required:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{preset.display_name} needs `user`: {rule.description}",
        )
    return None


def _auth_block(
    preset: Preset, login: str | None, password: str | None, oauth: Mapping[str, Any]
) -> dict[str, Any]:
    """Logto's `auth` object: login (user/pass) or oauth2 (tokens + the provider's token URL)."""
    if oauth:
        return _oauth_block(preset, login, password, oauth)
    if login is None:
        return {}
    if password is None:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, _missing_secret_text(preset))
    return {"user": login, "pass": password}


def _oauth_block(
    preset: Preset, login: str | None, password: str | None, oauth: Mapping[str, Any]
) -> dict[str, Any]:
    spec = preset.auth.oauth2
    if spec is None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{preset.display_name} does not support OAuth2 (XOAUTH2); pass `password` instead.",
        )
    if password is not None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, "Give either `password` or OAuth2 tokens, not both."
        )
    block: dict[str, Any] = {"type": "oauth2", "user": login, **oauth}
    if "refreshToken" in oauth or "clientId" in oauth:
        block.setdefault("accessUrl", spec.token_url)
    return block


def _missing_secret_text(preset: Preset) -> str:
    if not preset.auth.password:
        oauth = preset.auth.oauth2
        scopes = " ".join(oauth.scopes) if oauth else ""
        return (
            f"{preset.display_name} needs OAuth2: pass `access_token`, or `refresh_token` with "
            f"`client_id`/`client_secret` (scopes: {scopes})."
        )
    return f"{preset.display_name} needs `password`: {preset.password.description}"


def _kind_text(preset: Preset) -> str:
    return preset.password.kind.replace("_", " ")


def _sender(preset: Preset, from_email: str | None, login: str | None) -> str:
    """From defaults to the login when the login is an address (mailbox providers)."""
    if from_email:
        return from_email
    if login and preset.username.rule in ("email", "account") and "@" in login:
        return login
    raise ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"{preset.display_name} needs `from_email` (the sender address): "
        "the SMTP username is not an address.",
    )


def camelize(data: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Rename snake_case keys to the model's wire aliases, recursively into nested models, so
    overrides in either style merge with the camelCase preset config. Unknown keys pass through
    (the model's own validation names them)."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        alias, nested = _field_alias(model, key)
        if nested is not None and isinstance(value, Mapping):
            value = camelize(value, nested)
        elif nested is not None and isinstance(value, list):
            value = [camelize(v, nested) if isinstance(v, Mapping) else v for v in value]
        result[alias] = value
    return result


def _field_alias(model: type[BaseModel], key: str) -> tuple[str, type[BaseModel] | None]:
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if key in (name, alias):
            return alias, _nested_model(field.annotation)
    return key, None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The single pydantic model inside an annotation like `X | list[X] | None`, if any."""
    found = {a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)}
    return found.pop() if len(found) == 1 else None


def _flatten(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        yield from _flatten(arg)


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` over `base`; nested objects merge (an `auth` override keeps the filled user)."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _issue_warnings(model: type[BaseModel], preset: Preset, data: dict[str, Any]) -> None:
    """Validate the built config and surface guard rails as `PresetConfigWarning`s."""
    config = cast(ConfigView, model.model_validate(data))  # the caller hands in SmtpConfig
    for finding in preset_warnings(config, preset):
        warnings.warn(PresetConfigWarning(finding), stacklevel=4)
