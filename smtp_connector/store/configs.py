"""A stored definition becomes the library's config: Logto-style camelCase JSON, validated by
`SmtpConfig.model_validate`, so stored servers get the very same TLS rules, failover by
priority, health and error codes as a config file would.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from smtp_connector.errors import Cause, ConnectorError, ErrorCode

from .policy import ServicePolicy
from .secrets import SecretBox
from .smime_material import is_path, resolve_inside
from .validated_servers import ValidatedServers

if TYPE_CHECKING:  # the connector (Jinja, the SMTP client) loads with the first build, not at start
    from smtp_connector import SmtpConfig, SmtpConnector, TemplateProvider
    from smtp_connector.config import ServerConfig

    from .tables import AppRow


@dataclass(frozen=True)
class AppSender:
    """What a send takes from the app (read inside the transaction, used after it)."""

    from_email: str | None = None
    from_name: str | None = None
    default_locale: str | None = None

    @classmethod
    def of(cls, row: AppRow | None) -> AppSender | None:
        if row is None:
            return None
        return cls(row.from_email, row.from_name, row.default_locale)


class DefinitionFields(Protocol):
    """The columns of a definition a connector is built from: a `DefinitionRow`, or the
    lighter `build_rows.ServerRow` a rebuild reads without the ORM."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def security(self) -> str: ...
    @property
    def auth(self) -> bool: ...
    @property
    def ntlm(self) -> bool: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password_enc(self) -> str | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def from_email(self) -> str | None: ...
    @property
    def from_name(self) -> str | None: ...
    @property
    def timeout(self) -> int: ...
    @property
    def enqueue(self) -> bool: ...  # not in the config, but a column: part of `entry_key`
    @property
    def allow_special_use_domains(self) -> bool: ...
    @property
    def tls_ca(self) -> str | None: ...
    @property
    def verify_certificate(self) -> bool: ...
    @property
    def smime(self) -> bool: ...
    @property
    def smime_certificate(self) -> str | None: ...
    @property
    def smime_private_key_enc(self) -> str | None: ...
    @property
    def smime_private_key_path(self) -> str | None: ...
    @property
    def smime_key_password_enc(self) -> str | None: ...
    @property
    def smime_dont_send_on_error(self) -> bool: ...


_SERVERS = ValidatedServers()  # one per process: apps with equal entries share theirs
# Every column a definition's failover entry may be built from (all of DefinitionFields).
_COLUMNS = attrgetter(
    *(name for name, v in vars(DefinitionFields).items() if isinstance(v, property))
)

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


def server_settings(row: DefinitionFields, box: SecretBox) -> dict[str, Any]:
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
    row: DefinitionFields, box: SecretBox, smime_dir: Path | None
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


def _reads_files(rows: Sequence[DefinitionFields]) -> bool:
    """True when a definition's S/MIME material is a path (allowed, and checked, above)."""
    return any(
        row.smime and (row.smime_private_key_path or is_path(row.smime_certificate)) for row in rows
    )


def mail_sender(
    rows: Sequence[DefinitionFields], app: AppSender | None
) -> tuple[str, str | None] | None:
    """(address, name) the mail comes from: the primary definition's own fromEmail, else its
    app's, else the definition's username when that is an address; None when there is none
    (without definitions: the app's own sender)."""
    if not rows:
        return (app.from_email, app.from_name) if app is not None and app.from_email else None
    primary = rows[0]
    name = primary.from_name or (app.from_name if app is not None else None)
    if primary.from_email:
        return primary.from_email, name
    if app is not None and app.from_email:
        return app.from_email, name
    if primary.username and "@" in primary.username:
        return primary.username, name
    return None


def connector_config(
    rows: Sequence[DefinitionFields],
    box: SecretBox,
    *,
    retry: dict[str, Any] | None = None,
    validation_only: bool = False,
    smime_dir: Path | None = None,
    templates: list[dict[str, Any]] | None = None,
    app: AppSender | None = None,
    known: Sequence[ServerConfig | None] = (),
) -> dict[str, Any]:
    """The Logto-style config for `rows` in priority order: the first is the top-level server,
    the others `servers[]` with their priority and their own From (else the app's); a
    failover entry validated before for the same columns, given in `known` (one per failover
    row, see `build_config`), is put there as it is, its secrets not decrypted again."""
    if not rows:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, "No server definition to send with.")
    primary, rest = rows[0], rows[1:]
    sender = mail_sender(rows, app) or ((_VALIDATION_FROM, None) if validation_only else None)
    if sender is None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Server definition {primary.name or primary.id!r} has no sender: set `fromEmail`, "
            "the address the mail comes from, on the definition or on its app (a `username` "
            "that is an address also serves).",
            cause=Cause.NO_SENDER,
            reason=repr(primary.name or primary.id) if primary.name or primary.id else None,
        )
    config = server_settings(primary, box) | {
        "fromEmail": sender[0],
        "allowSpecialUseDomains": primary.allow_special_use_domains,
    }
    if sender[1]:
        config["fromName"] = sender[1]
    if app is not None and app.default_locale:
        config["defaultLocale"] = app.default_locale
    done = list(known) or [None] * len(rest)
    config["servers"] = [
        _failover_entry(row, box, app) if old is None else old
        for row, old in zip(rest, done, strict=True)
    ]
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


def _failover_entry(row: DefinitionFields, box: SecretBox, app: AppSender | None) -> dict[str, Any]:
    """A failover server sends with its own From, else the app's (else the primary's)."""
    entry = server_settings(row, box) | {"priority": row.priority, "label": row.id}
    own = row.from_email or (app.from_email if app is not None else None)
    if own:
        entry["defaultFromEmail"] = own
        name = row.from_name or (app.from_name if app is not None else None)
        if name:
            entry["defaultFromName"] = name
    return entry


def build_config(
    rows: Sequence[DefinitionFields],
    box: SecretBox,
    *,
    retry: dict[str, Any] | None = None,
    smime_dir: Path | None = None,
    templates: list[dict[str, Any]] | None = None,
    app: AppSender | None = None,
) -> SmtpConfig:
    """The validated config; failover definitions unchanged since an earlier build are not
    decrypted or validated again (validated_servers.py, `entry_key`), nor is the whole config
    when nothing it is made of changed (`config_key`)."""
    keys = [entry_key(row, box, app) for row in rows[1:]]
    whole = config_key(rows, box, app, keys, smime_dir) if retry is None and not templates else None
    found = None if whole is None else _SERVERS.validated(whole)
    if found is not None:
        found.warn_tls_flags()  # the notes a validation gives, as validating it again would
        return found
    data = connector_config(rows, box, retry=retry, smime_dir=smime_dir, templates=templates,
                            app=app, known=_SERVERS.known(keys))  # fmt: skip
    return _SERVERS.config(data, keys, whole)


def config_key(
    rows: Sequence[DefinitionFields], box: SecretBox, app: AppSender | None,
    keys: Sequence[Hashable], smime_dir: Path | None,
) -> Hashable | None:  # fmt: skip
    """What a connector's config is made of (without retry or templates): the primary's columns
    (secrets as their tokens), the app's sender and locale, the failover entries' keys, the
    box and the S/MIME directory. None (not remembered) without definitions or with S/MIME on
    the primary, whose material may be files that change under the same columns."""
    if not rows or rows[0].smime:
        return None
    sender = (app.from_email, app.from_name, app.default_locale) if app is not None else None
    return (_COLUMNS(rows[0]), sender, tuple(keys), box, smime_dir)


def entry_key(row: DefinitionFields, box: SecretBox, app: AppSender | None) -> Hashable:
    """What `row`'s failover entry is made of: all its columns (secrets as their Fernet
    tokens: equal tokens decrypt to equal secrets, and a changed secret is a new token), the
    app's sender (a From the row lacks) and the box that decrypts the tokens. Cheaper than
    building the entry and hashing it, and no decrypted secret is kept as a key."""
    sender = (app.from_email, app.from_name) if app is not None else None
    return (_COLUMNS(row), sender, box)


def build_connector(
    rows: Sequence[DefinitionFields],
    box: SecretBox,
    policy: ServicePolicy,
    *,
    retry: dict[str, Any] | None = None,
    templates: list[dict[str, Any]] | None = None,
    app: AppSender | None = None,
    compose_from: SmtpConnector | None = None,
    template_provider: TemplateProvider | None = None,
) -> SmtpConnector:
    """A connector for `rows` (of `app`, whose sender and locale they may use) that connects
    only where the network policy allows (reusing `compose_from`'s compiled templates when it
    renders alike), its templates first from `template_provider` (the app's stored ones)."""
    from smtp_connector.connector import SmtpConnector

    config = build_config(
        rows, box, retry=retry, smime_dir=policy.smime_dir, templates=templates, app=app
    )
    return SmtpConnector(
        config, address_policy=policy.network.refusal, compose_from=compose_from,
        template_provider=template_provider,
    )  # fmt: skip


# Definitions that validated, by their columns (secrets as Fernet tokens) and box: a save that
# changes none of them (a description, a flag) is not validated again (definitions.py).
_VALID: OrderedDict[Hashable, None] = OrderedDict()
_VALID_HELD = 256  # the most recently saved definitions; older ones are validated again
_VALID_LOCK = threading.Lock()  # services on more than one loop share it


def validate_definition(row: DefinitionFields, box: SecretBox, smime_dir: Path | None) -> None:
    """Refuse a definition the library would refuse at send time (bad host, TLS flags, S/MIME
    material, fromEmail …), with the library's own `invalid_config` message. One whose every
    column validated before passes at once (not with S/MIME: its material may be files)."""
    from smtp_connector.config.models import SmtpConfig

    key = None if row.smime else (_COLUMNS(row), box)
    with _VALID_LOCK:
        if key is not None and key in _VALID:
            _VALID.move_to_end(key)
            return
    SmtpConfig.model_validate(
        connector_config([row], box, validation_only=True, smime_dir=smime_dir)
    )
    if key is not None:
        with _VALID_LOCK:
            _VALID[key] = None
            if len(_VALID) > _VALID_HELD:
                _VALID.popitem(last=False)
