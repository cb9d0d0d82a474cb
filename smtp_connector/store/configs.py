"""A stored definition becomes the library's config: Logto-style camelCase JSON, validated by
`SmtpConfig.model_validate`, so stored servers get the very same TLS rules, failover by
priority, health and error codes as a config file would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smtp_connector import SmtpConfig, SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode

from .policy import ServicePolicy
from .secrets import SecretBox
from .smime_material import is_path, resolve_inside
from .tables import DefinitionRow

# Only used to validate a definition that has no fromEmail yet (e.g. privacyIDEA's optional
# `sender`); a send without any fromEmail is refused in `connector_config`.
_VALIDATION_FROM = "validation@example.com"

SECURITY: dict[str, dict[str, bool]] = {
    # "none": no TLS even if offered (and AUTH allowed in clear, as the admin chose).
    "none": {"secure": False, "ignoreTLS": True},
    # "starttls": STARTTLS required; a server that does not offer it is a tls_failed error.
    "starttls": {"secure": False, "requireTLS": True},
    "tls": {"secure": True},
}


def _secret(box: SecretBox, token: str | None) -> str | None:
    return box.decrypt(token) if token else None


def server_settings(row: DefinitionRow, box: SecretBox) -> dict[str, Any]:
    """The connection part (host, port, TLS, auth, timeouts) of one definition."""
    timeout_ms = row.timeout * 1000
    settings: dict[str, Any] = {
        "host": row.host,
        "port": row.port,
        "connectionTimeout": timeout_ms,
        "greetingTimeout": timeout_ms,
        "socketTimeout": timeout_ms,
        **SECURITY[row.security],
    }
    tls: dict[str, Any] = {"rejectUnauthorized": row.verify_certificate}
    if row.tls_ca:
        tls["ca"] = row.tls_ca  # PEM text (checked at save): never a path
    settings["tls"] = tls
    if row.auth and row.username:
        auth: dict[str, Any] = {"user": row.username}
        password = _secret(box, row.password_enc)
        if password is not None:
            auth["pass"] = password
        if row.ntlm:
            auth["type"] = "ntlm"  # the library's NTLM (extra `ntlm`) for Exchange-style relays
        settings["auth"] = auth
    return settings


def smime_options(
    row: DefinitionRow, box: SecretBox, smime_dir: Path | None
) -> dict[str, Any] | None:
    """The S/MIME options; a path (allowed at save) is resolved again inside the S/MIME
    directory now, so a symlink swapped in since, or an unset directory, is refused."""
    if not row.smime:
        return None
    certificate = row.smime_certificate or ""
    if is_path(certificate):
        certificate = str(resolve_inside(certificate, "smime.certificate", smime_dir))
    if row.smime_private_key_path:
        key = str(resolve_inside(row.smime_private_key_path, "smime.privateKey", smime_dir))
    else:
        key = _secret(box, row.smime_private_key_enc) or ""
    options: dict[str, Any] = {
        "certificate": certificate,
        "privateKey": key,
        "dontSendOnError": row.smime_dont_send_on_error,
    }
    key_password = _secret(box, row.smime_key_password_enc)
    if key_password:
        options["privateKeyPassword"] = key_password
    return options


def _reads_files(rows: Sequence[DefinitionRow]) -> bool:
    """True when a definition's S/MIME material is a path (allowed, and checked, above)."""
    return any(
        row.smime and (row.smime_private_key_path or is_path(row.smime_certificate)) for row in rows
    )


def _sender(rows: Sequence[DefinitionRow]) -> str | None:
    """fromEmail of the primary definition, else its username when that is an address."""
    primary = rows[0]
    if primary.from_email:
        return primary.from_email
    if primary.username and "@" in primary.username:
        return primary.username
    return None


def connector_config(
    rows: Sequence[DefinitionRow],
    box: SecretBox,
    *,
    retry: dict[str, Any] | None = None,
    validation_only: bool = False,
    smime_dir: Path | None = None,
    templates: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Logto-style config for `rows` in priority order: the first is the top-level server,
    the others `servers[]` with their priority and their own From."""
    if not rows:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, "No server definition to send with.")
    primary, rest = rows[0], rows[1:]
    from_email = _sender(rows) or (_VALIDATION_FROM if validation_only else None)
    if from_email is None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Server definition {primary.name or primary.id!r} has no sender: set `fromEmail`, "
            "the address the mail comes from (a `username` that is an address also serves).",
        )
    config = server_settings(primary, box) | {
        "fromEmail": from_email,
        "allowSpecialUseDomains": primary.allow_special_use_domains,
    }
    if primary.from_name:
        config["fromName"] = primary.from_name
    config["servers"] = [_failover_entry(row, box) for row in rest]
    # A tenant's text is never read as a file name or fetched as a URL: only S/MIME paths the
    # operator allowed (smime_material.py) open files, and nothing here needs a URL.
    config["disableFileAccess"] = not _reads_files(rows[:1])
    config["disableUrlAccess"] = True
    smime = smime_options(primary, box, smime_dir)
    if smime is not None:
        config["smime"] = smime
    if retry is not None:
        config["retry"] = retry
    if templates:
        config["templates"] = templates
    return config


def _failover_entry(row: DefinitionRow, box: SecretBox) -> dict[str, Any]:
    entry = server_settings(row, box) | {"priority": row.priority, "label": row.id}
    if row.from_email:
        entry["defaultFromEmail"] = row.from_email
        if row.from_name:
            entry["defaultFromName"] = row.from_name
    return entry


def build_config(
    rows: Sequence[DefinitionRow],
    box: SecretBox,
    *,
    retry: dict[str, Any] | None = None,
    smime_dir: Path | None = None,
    templates: list[dict[str, Any]] | None = None,
) -> SmtpConfig:
    return SmtpConfig.model_validate(
        connector_config(rows, box, retry=retry, smime_dir=smime_dir, templates=templates)
    )


def build_connector(
    rows: Sequence[DefinitionRow],
    box: SecretBox,
    policy: ServicePolicy,
    *,
    retry: dict[str, Any] | None = None,
    templates: list[dict[str, Any]] | None = None,
    compose_from: SmtpConnector | None = None,
) -> SmtpConnector:
    """A connector for `rows` that connects only where the network policy allows (reusing
    `compose_from`'s compiled templates when it renders alike)."""
    config = build_config(rows, box, retry=retry, smime_dir=policy.smime_dir, templates=templates)
    return SmtpConnector(config, address_policy=policy.network.refusal, compose_from=compose_from)


def validate_definition(row: DefinitionRow, box: SecretBox, smime_dir: Path | None) -> None:
    """Refuse a definition the library would refuse at send time (bad host, TLS flags, S/MIME
    material, fromEmail …), with the library's own `invalid_config` message."""
    SmtpConfig.model_validate(
        connector_config([row], box, validation_only=True, smime_dir=smime_dir)
    )
