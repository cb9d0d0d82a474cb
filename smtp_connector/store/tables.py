"""The tables: apps, server definitions, templates, API keys and the audit log (SQLAlchemy 2).

Columns that hold secrets end in `_enc` and only ever contain Fernet tokens (see secrets.py),
so a dump of the database, or of the SQLite file, carries no plaintext password. The schema is
changed only through the Alembic migrations in `migrations/`, which must match these classes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """Declarative base; `Base.metadata` is the migrations' target."""


class AppRow(Base):
    """An application (tenant) that owns server definitions.

    `definitions_version` grows on every change to the app's definitions; senders cache one
    connector per (app, version), so a change is picked up by the next send without polling.
    """

    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("kind", name="uq_apps_kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    test_email: Mapped[str | None] = mapped_column(String(320))
    # The app's sender and locale: a definition without its own From uses the app's.
    from_email: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    default_locale: Mapped[str | None] = mapped_column(String(35))
    # Set on the apps the service creates for a dialect ("privacyidea", "portal"): they are
    # found by this marker, never by a name a tenant could take.
    kind: Mapped[str | None] = mapped_column(String(32))
    definitions_version: Mapped[int] = mapped_column(Integer, default=1)
    # Grows on every change to the app's stored templates (templates.py): a send's template
    # snapshot is reloaded when it no longer matches, without rebuilding the connector.
    templates_version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DefinitionRow(Base):
    """One SMTP server definition of an app (the domain model of every dialect)."""

    __tablename__ = "server_definitions"
    __table_args__ = (UniqueConstraint("app_id", "name", name="uq_definition_app_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(16), default="starttls")
    auth: Mapped[bool] = mapped_column(Boolean, default=True)
    ntlm: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(320))
    password_enc: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=10)
    status: Mapped[str] = mapped_column(String(16), default="active")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    from_email: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    timeout: Mapped[int] = mapped_column(Integer, default=10)
    enqueue: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_special_use_domains: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_ca: Mapped[str | None] = mapped_column(Text)
    verify_certificate: Mapped[bool] = mapped_column(Boolean, default=True)
    smime: Mapped[bool] = mapped_column(Boolean, default=False)
    smime_certificate: Mapped[str | None] = mapped_column(Text)  # PEM text or an allowed path
    smime_private_key_enc: Mapped[str | None] = mapped_column(Text)
    # A key given as a path inside SMTP_CONNECTOR_SMIME_DIR: not a secret, returned as stored.
    smime_private_key_path: Mapped[str | None] = mapped_column(Text)
    smime_key_password_enc: Mapped[str | None] = mapped_column(Text)
    smime_dont_send_on_error: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    debug: Mapped[bool] = mapped_column(Boolean, default=False)
    integration_id: Mapped[str | None] = mapped_column(String(200))
    num_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


SECRET_COLUMNS = ("password_enc", "smime_private_key_enc", "smime_key_password_enc")


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of the key is kept (keys are 256-bit random, so a plain
    hash is enough; a slow KDF would only add latency to every request)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(200))
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who changed what, when. `details` holds field names and non-secret facts only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IdempotentSendRow(Base):
    """A direct send made with an `Idempotency-Key`: the request's fingerprint and, once it
    finished, the answer it got, replayed for a repeat until `expires_at` (epoch seconds, like
    the outbox's times). Queued sends keep theirs on the outbox row."""

    __tablename__ = "idempotent_sends"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AppTemplateRow(Base):
    """An app's template for one usage type and language tag (Logto's template details plus an
    optional plain-text part). `locale` is the tag as given; `locale_key` its lower-case form
    with `-`, which is what is unique and what a send matches (tags are case-insensitive)."""

    __tablename__ = "app_templates"
    __table_args__ = (
        UniqueConstraint("app_id", "usage_type", "locale_key", name="uq_app_template"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    usage_type: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(35))
    locale_key: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(16), default="text/html")
    reply_to: Mapped[str | None] = mapped_column(String(400))
    send_from: Mapped[str | None] = mapped_column(String(400))
    text_content: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class AppTemplateHistoryRow(Base):
    """One saved version of an app's template (the last `HISTORY_KEPT` per usage type and
    locale are kept; deleting the template deletes its history)."""

    __tablename__ = "app_template_history"
    __table_args__ = (
        Index("ix_app_template_history_key", "app_id", "usage_type", "locale_key", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    usage_type: Mapped[str] = mapped_column(String(100))
    locale_key: Mapped[str] = mapped_column(String(35))
    locale: Mapped[str] = mapped_column(String(35))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[str | None] = mapped_column(String(400))
    send_from: Mapped[str | None] = mapped_column(String(400))
    text_content: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # saved | reverted
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(200))
