"""The ORM classes of the tables (SQLAlchemy 2), mapped onto `schema.py`'s Core tables.

The admin services, the CLI and the migrations work with these rows; what an idle or sending
`serve` runs uses `schema.py`'s tables with Core statements and never imports this module,
nor with it SQLAlchemy's ORM (issue 26 §5). Each class's columns, their meaning and their
defaults are those of its table in `schema.py`; the annotations here only type them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from . import schema
from .schema import SECRET_COLUMNS, aware, new_id, utcnow

__all__ = ["SECRET_COLUMNS", "aware", "new_id", "utcnow"]


class Base(DeclarativeBase):
    """Declarative base over `schema.METADATA` (the migrations' target)."""

    metadata = schema.METADATA


class AppRow(Base):
    """An application (tenant) that owns server definitions (schema.apps)."""

    __table__ = schema.apps

    id: Mapped[str]
    name: Mapped[str]
    test_email: Mapped[str | None]
    from_email: Mapped[str | None]
    from_name: Mapped[str | None]
    default_locale: Mapped[str | None]
    kind: Mapped[str | None]
    definitions_version: Mapped[int]
    templates_version: Mapped[int]
    created: Mapped[datetime]
    modified: Mapped[datetime]


class DefinitionRow(Base):
    """One SMTP server definition of an app (schema.server_definitions)."""

    __table__ = schema.server_definitions

    id: Mapped[str]
    app_id: Mapped[str]
    name: Mapped[str | None]
    host: Mapped[str]
    port: Mapped[int]
    security: Mapped[str]
    auth: Mapped[bool]
    ntlm: Mapped[bool]
    username: Mapped[str | None]
    password_enc: Mapped[str | None]
    priority: Mapped[int]
    status: Mapped[str]
    is_default: Mapped[bool]
    from_email: Mapped[str | None]
    from_name: Mapped[str | None]
    timeout: Mapped[int]
    enqueue: Mapped[bool]
    allow_special_use_domains: Mapped[bool]
    tls_ca: Mapped[str | None]
    verify_certificate: Mapped[bool]
    smime: Mapped[bool]
    smime_certificate: Mapped[str | None]
    smime_private_key_enc: Mapped[str | None]
    smime_private_key_path: Mapped[str | None]
    smime_key_password_enc: Mapped[str | None]
    smime_dont_send_on_error: Mapped[bool]
    description: Mapped[str | None]
    debug: Mapped[bool]
    integration_id: Mapped[str | None]
    num_errors: Mapped[int]
    last_error: Mapped[dict[str, Any] | None]
    created: Mapped[datetime]
    modified: Mapped[datetime]


class ApiKeyRow(Base):
    """An API key, kept as the SHA-256 of the key (schema.api_keys)."""

    __table__ = schema.api_keys

    id: Mapped[str]
    name: Mapped[str | None]
    key_hash: Mapped[str]
    prefix: Mapped[str]
    scopes: Mapped[str]
    app_id: Mapped[str | None]
    created: Mapped[datetime]
    revoked: Mapped[datetime | None]


class AuditRow(Base):
    """Who changed what, when (schema.audit_log)."""

    __table__ = schema.audit_log

    id: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    app_id: Mapped[str | None]
    target: Mapped[str | None]
    success: Mapped[bool]
    details: Mapped[dict[str, Any] | None]


class IdempotentSendRow(Base):
    """A direct send made with an `Idempotency-Key` (schema.idempotent_sends)."""

    __table__ = schema.idempotent_sends

    app_id: Mapped[str]
    idempotency_key: Mapped[str]
    request_hash: Mapped[str]
    state: Mapped[str]
    response: Mapped[dict[str, Any] | None]
    created: Mapped[float]
    expires_at: Mapped[float]


class AppTemplateRow(Base):
    """An app's template for one usage type and language tag (schema.app_templates)."""

    __table__ = schema.app_templates

    id: Mapped[str]
    app_id: Mapped[str]
    usage_type: Mapped[str]
    locale: Mapped[str]
    locale_key: Mapped[str]
    subject: Mapped[str]
    content: Mapped[str]
    content_type: Mapped[str]
    reply_to: Mapped[str | None]
    send_from: Mapped[str | None]
    text_content: Mapped[str | None]
    version: Mapped[int]
    created: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str]


class AppTemplateHistoryRow(Base):
    """One saved version of an app's template (schema.app_template_history)."""

    __table__ = schema.app_template_history

    id: Mapped[int]
    app_id: Mapped[str]
    usage_type: Mapped[str]
    locale_key: Mapped[str]
    locale: Mapped[str]
    version: Mapped[int]
    subject: Mapped[str]
    content: Mapped[str]
    content_type: Mapped[str]
    reply_to: Mapped[str | None]
    send_from: Mapped[str | None]
    text_content: Mapped[str | None]
    action: Mapped[str]
    changed_at: Mapped[datetime]
    changed_by: Mapped[str]
