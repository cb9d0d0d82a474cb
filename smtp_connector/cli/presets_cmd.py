"""`smtp-connector presets` and `smtp-connector init`: set up a provider without reading its docs.

`presets` lists what smtp-connector knows about each provider (or one provider in full, quirks
included); `init` turns a preset plus the few values only the user knows into a config file
that `send` and `verify` accept. Secrets never go into the file: it references environment
variables (`"pass": "${SMTP_PASSWORD}"`), which `SmtpConfig.from_file` expands.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..config import SmtpConfig
from ..errors import ConnectorError, ErrorCode
from ..presets import (
    TLS_LABELS,
    TLS_MODES,
    TLS_NAMES,
    Preset,
    PresetConfigWarning,
    PresetWarning,
    list_presets,
    preset_config,
    require_preset,
)
from .app import echo_json, format_table, handles_errors, json_option, main
from .listen import port_option

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TLS_SHORT = {"implicit": "TLS", "starttls": "STARTTLS", "plain": "plain/STARTTLS"}
_FROM_RULES = {
    "any": "any address the account is allowed to send as",
    "equals_user": "must be exactly the SMTP username",
    "user_or_alias": "the signed-in address or one of its aliases",
    "rewritten_to_user": "rewritten to the signed-in account unless a verified alias",
}


# --------------------------------------------------------------------------------------------
# smtp-connector presets [NAME]
# --------------------------------------------------------------------------------------------


@main.command("presets")
@click.argument("name", required=False)
@json_option
@handles_errors
def presets(name: str | None, as_json: bool) -> None:
    """List provider presets, or show one in full (NAME, an alias, or your email address)."""
    if name is None:
        _print_list(as_json)
        return
    preset, region = require_preset(name)
    if as_json:
        echo_json(_preset_json(preset, region))
    else:
        click.echo(_preset_text(preset))


def _summary_row(preset: Preset) -> dict[str, str]:
    port = preset.default_port
    return {
        "name": preset.name,
        "host": preset.display_host,
        "port": str(port.port),
        "tls": _TLS_SHORT[port.tls],
        "username": preset.username_summary,
    }


def _print_list(as_json: bool) -> None:
    rows = [_summary_row(require_preset(name)[0]) for name in list_presets()]
    if as_json:
        echo_json(rows)
        return
    headers = {"name": "NAME", "host": "HOST", "port": "PORT", "tls": "TLS", "username": "USERNAME"}
    click.echo(format_table([headers, *rows]))
    click.echo("\nDetails: smtp-connector presets NAME")
    click.echo("Config file: smtp-connector init --preset NAME")


def _preset_json(preset: Preset, region: str | None) -> dict[str, Any]:
    data = preset.model_dump(mode="json")
    data["unverified"] = preset.unverified
    data["implied_region"] = region
    return data


def _preset_text(preset: Preset) -> str:
    """The full card: connection, credentials, limits, quirks and what is unverified."""
    lines = [f"{preset.display_name} ({preset.name}) - {preset.description}", ""]
    fields = [
        ("aliases", ", ".join(preset.aliases)),
        ("domains", ", ".join(preset.domains)),
        ("host", preset.host),
        ("ports", _ports_text(preset)),
        ("username", f"{preset.username.summary}: {preset.username.description}"),
        ("password", f"{preset.password.kind.replace('_', ' ')}: {preset.password.description}"),
        ("auth", ", ".join(preset.auth.mechanisms)),
        ("oauth2", _oauth_text(preset)),
        ("from", _FROM_RULES[preset.from_rule]),
        ("limits", "; ".join(preset.limits.describe())),
        ("docs", preset.docs_url),
    ]
    lines += [f"  {label:<9} {value}" for label, value in fields if value]
    lines += _regions_text(preset) + _quirks_text(preset)
    if preset.unverified:
        lines += ["", "Unverified (secondary sources only): " + ", ".join(preset.unverified)]
    lines += ["", f"Create a config: smtp-connector init --preset {preset.name}"]
    return "\n".join(lines)


def _ports_text(preset: Preset) -> str:
    parts = []
    for spec in preset.ports:
        text = f"{spec.port} {TLS_LABELS[spec.tls]}"
        text += " (default)" if spec.default else ""
        text += "" if spec.verified else " (unverified)"
        parts.append(text + (f" - {spec.note}" if spec.note else ""))
    return "\n            ".join(parts)


def _oauth_text(preset: Preset) -> str:
    oauth = preset.auth.oauth2
    if oauth is None:
        return ""
    text = f"scopes {' '.join(oauth.scopes)}; token URL {oauth.token_url}"
    return text + (f" ({oauth.note})" if oauth.note else "")


def _regions_text(preset: Preset) -> list[str]:
    if not preset.regions:
        return []
    rows = [{"id": "REGION", "host": "HOST", "name": "NAME"}]
    for region in preset.regions:
        name = region.name + (" [default]" if region.id == preset.default_region else "")
        name += " [deprecated]" if region.deprecated else ""
        rows.append({"id": region.id, "host": preset.host_for(region.id), "name": name})
    table = format_table(rows).splitlines()
    extra = ["  any other region id is accepted too"] if preset.region_pattern else []
    return ["", "Regions (--region):", *(f"  {line}" for line in table), *extra]


def _quirks_text(preset: Preset) -> list[str]:
    if not preset.quirks:
        return []
    marks = {"warning": "!", "info": "-"}
    lines = ["", "Quirks:"]
    for quirk in preset.quirks:
        suffix = "" if quirk.verified else " (unverified)"
        lines.append(f"  {marks[quirk.severity]} {quirk.code}: {quirk.message}{suffix}")
    return lines


# --------------------------------------------------------------------------------------------
# smtp-connector init --preset NAME
# --------------------------------------------------------------------------------------------


@dataclass
class InitAnswers:
    """What `init` needs beyond the preset; collected from flags, prompts or defaults."""

    user: str | None
    from_email: str | None
    region: str | None


@main.command("init")
@click.option("--preset", "preset_name", help="Provider: preset name, alias or your address.")
@click.option("--user", help="SMTP username, when the provider's rule needs one.")
@click.option("--from", "from_email", help="Sender address (From).")
@click.option("--from-name", help="Sender display name.")
@click.option("--region", help="Provider region (see `smtp-connector presets NAME`).")
@port_option(default=None, help="SMTP port [default: the provider's recommended one].")
@click.option("--tls", "tls_mode", type=click.Choice(TLS_MODES), help="TLS mode; picks the port.")
@click.option("--host", help="Another host with the preset's settings (e.g. a local relay).")
@click.option(
    "--password-env",
    default=None,
    help="Environment variable holding the password or API key [default: SMTP_PASSWORD], "
    "or with OAuth2 the refresh token [default: SMTP_REFRESH_TOKEN].",
)
@click.option("--oauth2", is_flag=True, help="Use OAuth2 (XOAUTH2) instead of a password.")
@click.option(
    "--client-id-env",
    default="SMTP_CLIENT_ID",
    show_default=True,
    help="Environment variable holding the OAuth2 client id (with --oauth2).",
)
@click.option(
    "--client-secret-env",
    default="SMTP_CLIENT_SECRET",
    show_default=True,
    help="Environment variable holding the OAuth2 client secret (with --oauth2).",
)
@click.option(
    "-o",
    "--output",
    default="smtp.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Config file to write (JSON).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--no-input",
    is_flag=True,
    help="Never prompt (also implied by --json or a stdin that is not a terminal); "
    "fail naming the flag if a needed value is missing.",
)
@json_option
@handles_errors
def init(
    preset_name: str | None,
    user: str | None,
    from_email: str | None,
    from_name: str | None,
    region: str | None,
    port: int | None,
    tls_mode: str | None,
    host: str | None,
    password_env: str | None,
    oauth2: bool,
    client_id_env: str,
    client_secret_env: str,
    output: str,
    force: bool,
    no_input: bool,
    as_json: bool,
) -> None:
    """Write a config file for a provider preset; the password stays in an env variable."""
    interactive = not no_input and not as_json and _can_prompt()
    if not preset_name:
        preset_name = _ask("Provider (e.g. gmail, sendgrid, aliyun)", None, interactive, "--preset")
    preset, implied_region = require_preset(preset_name)
    path = _target(output, force)
    answers = _collect(preset, preset_name, user, from_email, region or implied_region, interactive)
    use_oauth = oauth2 or not preset.auth.password
    secret_env = password_env or ("SMTP_REFRESH_TOKEN" if use_oauth else "SMTP_PASSWORD")
    env_names = [secret_env, *([client_id_env, client_secret_env] if use_oauth else [])]
    for name in env_names:
        _check_env_name(name)
    secrets = _secret_refs(preset, answers, use_oauth, env_names)
    overrides = {"host": host, "tls_mode": tls_mode, "from_name": from_name}
    data, found = _build(preset_name, answers, port, secrets, overrides)
    _refuse_errors(found)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _report(preset, path, data, env_names if secrets else [], found, as_json)


def _ask(prompt: str, default: str | None, interactive: bool, flag: str) -> str:
    """Prompt when allowed; otherwise fall back to the default or fail naming the flag."""
    if interactive:
        return str(click.prompt(prompt, default=default)).strip()
    if default is not None:
        return default
    raise ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Missing {flag}: pass it as a flag (init never prompts with --no-input, with --json "
        "or without a terminal).",
    )


def _can_prompt() -> bool:
    """Only a person at a terminal can answer; in CI, a pipe or a container, prompting would
    block or abort, so `init` then behaves as with --no-input."""
    return sys.stdin is not None and sys.stdin.isatty()


def _target(output: str, force: bool) -> Path:
    path = Path(output)
    if path.exists() and not force:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"{output} already exists; pass --force to overwrite it."
        )
    return path


def _check_env_name(name: str) -> None:
    if not _ENV_NAME.match(name):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{name!r} is not a valid environment variable name (letters, digits, _).",
        )


def _collect(
    preset: Preset,
    preset_name: str,
    user: str | None,
    from_email: str | None,
    region: str | None,
    interactive: bool,
) -> InitAnswers:
    """Ask only what the provider's username rule and regions make necessary."""
    rule = preset.username
    typed_address = preset_name.strip() if "@" in preset_name else None
    if rule.rule == "email" and rule.required and not user:
        label = f"Your {preset.display_name} address (the SMTP username)"
        user = _ask(label, typed_address or from_email, interactive, "--user")
    if not from_email:
        from_email = _ask("Sender address (From)", user or typed_address, interactive, "--from")
    if rule.rule == "account" and not user:
        suggestion = _account_suggestion(preset, from_email)
        user = _ask(f"SMTP username ({rule.description})", suggestion, interactive, "--user")
    if region is None and interactive and (preset.regions or preset.region_required):
        region = _ask_region(preset, user or from_email)
    return InitAnswers(user=user or None, from_email=from_email or None, region=region)


def _ask_region(preset: Preset, address: str | None) -> str:
    """Offer the region the mailbox domain implies (zohomail.eu → eu), else the default."""
    domain = (address or "").rpartition("@")[2].rstrip(">")
    default = preset.region_for_domain(domain) or preset.default_region
    choices = ", ".join(r.id for r in preset.regions if not r.deprecated)
    return str(click.prompt(f"Region ({choices})", default=default)).strip()


def _account_suggestion(preset: Preset, from_email: str | None) -> str | None:
    template = preset.username.default
    if not template or not from_email or "@" not in from_email:
        return None
    return template.replace("{domain}", from_email.rpartition("@")[2].rstrip(">"))


def _secret_refs(
    preset: Preset, answers: InitAnswers, use_oauth: bool, env_names: list[str]
) -> dict[str, str]:
    """`${VAR}` references for the secrets; none for an IP-authorised relay without a user."""
    if not preset.username.required and not answers.user:
        return {}
    refs = [f"${{{name}}}" for name in env_names]
    if use_oauth:
        return {"refresh_token": refs[0], "client_id": refs[1], "client_secret": refs[2]}
    return {"password": refs[0]}


def _build(
    preset_name: str,
    answers: InitAnswers,
    port: int | None,
    secrets: dict[str, str],
    overrides: dict[str, str | None],
) -> tuple[dict[str, Any], list[PresetWarning]]:
    """`preset_config` with the answers, collecting its guard-rail warnings for the report."""
    given = {k: v for k, v in overrides.items() if v is not None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PresetConfigWarning)
        data = preset_config(
            preset_name,
            model=SmtpConfig,
            user=answers.user,
            from_email=answers.from_email,
            region=answers.region,
            port=port,
            **secrets,
            **given,
        )
    found = [w.message.preset_warning for w in caught if isinstance(w.message, PresetConfigWarning)]
    return data, found


def _refuse_errors(found: list[PresetWarning]) -> None:
    """Do not write a config the provider is known to refuse (e.g. Aliyun From != user)."""
    errors = [w for w in found if w.severity == "error"]
    if errors:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            " ".join(w.message for w in errors),
            details=[w.to_dict() for w in errors],
        )


def _report(
    preset: Preset,
    path: Path,
    data: dict[str, Any],
    env_names: list[str],
    found: list[PresetWarning],
    as_json: bool,
) -> None:
    if as_json:
        echo_json(
            {
                "ok": True,
                "path": str(path),
                "preset": preset.name,
                "config": data,
                "env": env_names,
                "warnings": [w.to_dict() for w in found],
            }
        )
        return
    mode = "implicit" if data.get("secure") else ("starttls" if data.get("requireTLS") else "plain")
    click.echo(
        f"Wrote {path} ({preset.display_name}: {data['host']}:{data['port']}, {TLS_NAMES[mode]})."
    )
    for name in env_names:
        click.echo(
            f"Not stored in the file: export {name}=...  ({_env_hint(preset, name, env_names)})"
        )
    for warning in found:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    click.echo(f"Check it: smtp-connector verify --config {path}")


def _env_hint(preset: Preset, name: str, env_names: list[str]) -> str:
    if len(env_names) == 1:
        return preset.password.description
    return {0: "OAuth2 refresh token", 1: "OAuth2 client id", 2: "OAuth2 client secret"}[
        env_names.index(name)
    ]
