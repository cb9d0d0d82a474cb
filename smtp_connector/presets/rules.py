"""Guard rails: check any config (built from a preset or loaded from a file) against the
provider its host belongs to, so `verify` can say "Aliyun needs From = user" before the server
says "553".

Findings are `PresetWarning`s; severity `error` means the provider will refuse the config
(`check_preset_rules` raises `invalid_config` for those), `warning` means it works but surprises.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Protocol

from ..errors import ConnectorError, ErrorCode, redact
from .catalog import preset_for_host
from .model import Preset, PresetWarning, QuirkSpec, Severity, ports_text

_CLOUDS_BLOCKING_25 = "Google Cloud, AWS EC2, Aliyun ECS, DigitalOcean"


class AuthView(Protocol):
    """What the rules read of a server's `auth` (config's `AuthConfig` fits)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def type(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...


class ServerView(Protocol):
    """What the rules read of one server (config's `ServerSettings` fits). The rules take views,
    not the config classes, so presets never import config and config can build from presets."""

    @property
    def host(self) -> str | None: ...
    @property
    def effective_port(self) -> int: ...
    @property
    def implicit_tls(self) -> bool: ...
    @property
    def ignore_tls(self) -> bool: ...
    @property
    def address(self) -> str: ...
    @property
    def auth(self) -> AuthView: ...


class ConfigView(Protocol):
    """What the rules read of a whole config (config's `SmtpConfig` fits)."""

    @property
    def host(self) -> str | None: ...
    @property
    def servers(self) -> Sequence[ServerView]: ...
    @property
    def from_email(self) -> str: ...
    def server_list(self) -> Sequence[ServerView]: ...


def preset_warnings(
    config: ConfigView, preset: Preset | None = None, *, include_quirks: bool = False
) -> list[PresetWarning]:
    """Guard-rail findings for every server of `config`.

    The preset of each server is detected from its host unless `preset` is given (it then
    applies to the primary server). Port/TLS rules apply only on the provider's own hosts;
    account rules (From vs login, username convention, OAuth2-only) apply whenever the preset
    does. `include_quirks` appends the preset's documented quirks as `info`/`warning` items.
    """
    found: list[PresetWarning] = []
    for server in _servers(config):
        match = _server_preset(config, server, preset)
        found += _check_server(config, server, match)
        if include_quirks and match is not None:
            found += [_quirk_warning(match[0], q, server) for q in match[0].quirks]
    return _unique(found)


def check_preset_rules(config: ConfigView, preset: Preset | None = None) -> list[PresetWarning]:
    """For `verify`: raise `invalid_config` on error-level findings, return the rest."""
    found = preset_warnings(config, preset)
    errors = [w for w in found if w.severity == "error"]
    if errors:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            " ".join(w.message for w in errors),
            retryable=False,
            server=errors[0].server,
            details=[w.to_dict() for w in errors],
        )
    return found


def _servers(config: ConfigView) -> list[ServerView]:
    if not config.host and not config.servers:
        return []
    return list(config.server_list())


def _server_preset(
    config: ConfigView, server: ServerView, preset: Preset | None
) -> tuple[Preset, str | None] | None:
    if preset is not None and (server.host == config.host or preset.match_host(server.host)[0]):
        return preset, preset.match_host(server.host)[1]
    return preset_for_host(server.host)


def _check_server(
    config: ConfigView, server: ServerView, match: tuple[Preset, str | None] | None
) -> list[PresetWarning]:
    if match is None:
        return _port_25(server, None)
    preset, region = match
    on_provider = preset.match_host(server.host)[0]
    found: list[PresetWarning] = []
    if server.host and "{region}" in server.host:
        found.append(_warn(preset, server, "region_required", preset.region_error(None).message))
    if on_provider:
        found += _port_rules(preset, server) + _region_rules(preset, server, region)
    found += _port_25(server, preset)
    found += _auth_rules(preset, server)
    found += _from_rules(preset, server, _from_address(config, server))
    return found


def _warn(
    preset: Preset | None,
    server: ServerView,
    code: str,
    message: str,
    severity: Severity = "error",
) -> PresetWarning:
    return PresetWarning(
        code=code,
        message=redact(message),
        severity=severity,
        preset=preset.name if preset else None,
        server=server.address,
    )


def _port_rules(preset: Preset, server: ServerView) -> list[PresetWarning]:
    """Unsupported port, implicit TLS on a STARTTLS port and vice versa, TLS switched off."""
    port = server.effective_port
    spec = preset.port_spec(port)
    if spec is None:
        message = preset.unsupported_port_text(port)
        return [_warn(preset, server, "unsupported_port", message)]
    if (spec.tls == "implicit") != server.implicit_tls:
        message = preset.mismatch_text(spec, server.implicit_tls)
        return [_warn(preset, server, "tls_mismatch", message)]
    if spec.tls == "starttls" and server.ignore_tls:
        message = (
            f"{preset.display_name} requires STARTTLS on port {port}; `ignoreTLS: true` would "
            "send the password in clear text and the server refuses AUTH: remove ignoreTLS."
        )
        return [_warn(preset, server, "tls_required", message)]
    return []


def _region_rules(preset: Preset, server: ServerView, region: str | None) -> list[PresetWarning]:
    spec = preset.find_region(region)
    if spec is None or not spec.deprecated:
        return []
    current = [r.id for r in preset.regions if not r.deprecated]
    message = (
        f"{server.host} is a legacy {preset.display_name} host ({spec.name}); "
        f"move to a current region: {', '.join(current)}."
    )
    return [_warn(preset, server, "deprecated_region", message, "warning")]


def _port_25(server: ServerView, preset: Preset | None) -> list[PresetWarning]:
    """Port 25 to a remote host is blocked or throttled from most cloud VMs."""
    if server.effective_port != 25 or _is_local(server.host):
        return []
    others = [p for p in preset.ports if p.port != 25] if preset else []
    fix = ports_text(others) if others else "587 (STARTTLS) or 465 (implicit TLS)"
    message = f"Port 25 is blocked or throttled on most clouds ({_CLOUDS_BLOCKING_25}); use {fix}."
    return [_warn(preset, server, "port_25_blocked", message, "warning")]


def _is_local(host: str | None) -> bool:
    if not host:
        return True
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _auth_rules(preset: Preset, server: ServerView) -> list[PresetWarning]:
    """Missing AUTH, a password where only OAuth2 works, a wrong literal username."""
    auth = server.auth
    name = preset.display_name
    if not auth.enabled:
        if preset.username.required:
            message = f"{name} requires SMTP AUTH: set auth.user and auth.pass. " + (
                preset.username.description
            )
            return [_warn(preset, server, "auth_required", message)]
        return []
    found: list[PresetWarning] = []
    if auth.type == "login" and not preset.auth.password:
        found.append(_warn(preset, server, "oauth2_required", _oauth_required_text(preset)))
    if auth.type == "oauth2" and preset.auth.oauth2 is None:
        message = f"{name} does not support OAuth2 (XOAUTH2): use auth.user and auth.pass."
        found.append(_warn(preset, server, "oauth2_unsupported", message))
    rule = preset.username
    if rule.rule == "literal" and auth.user != rule.value:
        message = f"{name}'s SMTP username must be the literal {rule.value!r} (auth.user)."
        found.append(_warn(preset, server, "username_convention", message))
    if rule.rule == "email" and auth.user and "@" not in auth.user:
        message = f"{name} expects the full email address as auth.user, not a bare user name."
        found.append(_warn(preset, server, "username_convention", message, "warning"))
    return found


def _oauth_required_text(preset: Preset) -> str:
    oauth = preset.auth.oauth2
    detail = f" (scope {' '.join(oauth.scopes)}, token URL {oauth.token_url})" if oauth else ""
    return (
        f"{preset.display_name} no longer accepts passwords (basic auth): "
        f"use auth.type oauth2 with an access token or a refresh token{detail}."
    )


def _from_address(config: ConfigView, server: ServerView) -> str:
    default = getattr(server, "default_from_email", None)
    return parseaddr(default or config.from_email)[1].lower()


def _from_rules(preset: Preset, server: ServerView, sender: str) -> list[PresetWarning]:
    """Providers that refuse or rewrite a From that is not the signed-in mailbox."""
    login = (server.auth.user or "").strip().lower()
    if preset.from_rule == "any" or not login or not sender or sender == login:
        return []
    name = preset.display_name
    if preset.from_rule == "equals_user":
        message = (
            f"{name} requires fromEmail to be exactly the SMTP username: fromEmail is {sender}, "
            f"auth.user is {login}; set both to the verified sender address."
        )
        return [_warn(preset, server, "from_must_equal_user", message)]
    if preset.from_rule == "rewritten_to_user":
        message = (
            f"{name} will rewrite From {sender} to the signed-in account {login} unless it is a "
            'verified "Send mail as" alias of that account.'
        )
        return [_warn(preset, server, "from_rewritten", message, "warning")]
    message = (
        f"{name} only sends as the signed-in address or its aliases: fromEmail {sender} is not "
        f"{login}; make sure it is an alias, or the server will reject the message."
    )
    return [_warn(preset, server, "from_not_user", message, "warning")]


def _quirk_warning(preset: Preset, quirk: QuirkSpec, server: ServerView) -> PresetWarning:
    text = quirk.message if quirk.verified else f"{quirk.message} (unverified)"
    return _warn(preset, server, quirk.code, text, quirk.severity)


def _unique(found: list[PresetWarning]) -> list[PresetWarning]:
    seen: set[tuple[str, str]] = set()
    result = []
    for item in found:
        if (item.code, item.message) not in seen:
            seen.add((item.code, item.message))
            result.append(item)
    return result
