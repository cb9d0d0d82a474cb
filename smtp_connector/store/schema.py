"""The tables as SQLAlchemy Core `Table`s: apps, server definitions, templates, API keys, the
audit log and the idempotent sends' answers.

What a sending or idle `serve` reads and writes (a key's check, an app's versions, a
connector's rows, its templates, an idempotency key, an audit line) goes through these with
Core statements; the ORM classes of `tables.py` are mapped onto the same objects and are
loaded only by what uses them (the admin services, the CLI, the migrations), with SQLAlchemy's
ORM (issue 26 §5: about 7 MB of an idle `serve`'s memory). `METADATA` is the migrations'
target; the schema is changed only through the Alembic migrations in `migrations/`, which must
match it.

Columns that hold secrets end in `_enc` and only ever contain Fernet tokens (see secrets.py),
so a dump of the database, or of the SQLite file, carries no plaintext password.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex


METADATA = MetaData()


def _app_id(*, index: bool | None = None) -> Column[str]:
    return Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False,
                  index=index)  # fmt: skip


def _moment(name: str, *, index: bool | None = None) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=False, default=utcnow, index=index)


def _text(name: str, length: int | None = None, *, nullable: bool = True) -> Column[str]:
    return Column(name, String(length) if length else Text(), nullable=nullable)


def _flag(name: str, default: bool) -> Column[bool]:
    return Column(name, Boolean, nullable=False, default=default)


def _number(name: str, default: int | None = None) -> Column[int]:
    return Column(name, Integer, nullable=False, default=default)


# An application (tenant) that owns server definitions. `definitions_version` grows on every
# change to the app's definitions; senders cache one connector per (app, version), so a change
# is picked up by the next send without polling. `templates_version` grows on every change to
# its stored templates (templates.py): a send's template snapshot is reloaded when it no longer
# matches, without rebuilding the connector. `kind` is set on the apps the service creates for
# a dialect ("privacyidea", "portal"): they are found by this marker, never by a name a tenant
# could take. `from_email`, `from_name`, `default_locale`: a definition without its own From
# uses the app's.
apps = Table(
    "apps",
    METADATA,
    Column("id", String(64), primary_key=True, default=new_id),
    Column("name", String(200), nullable=False, unique=True),
    _text("test_email", 320),
    _text("from_email", 320),
    _text("from_name", 200),
    _text("default_locale", 35),
    _text("kind", 32),
    _number("definitions_version", 1),
    _number("templates_version", 1),
    _moment("created"),
    _moment("modified"),
    UniqueConstraint("kind", name="uq_apps_kind"),
)

# One SMTP server definition of an app (the domain model of every dialect).
# `smime_certificate`: PEM text or an allowed path; `smime_private_key_path`: a key given as a
# path inside SMTP_CONNECTOR_SMIME_DIR, not a secret, returned as stored.
server_definitions = Table(
    "server_definitions",
    METADATA,
    Column("id", String(64), primary_key=True, default=new_id),
    _app_id(index=True),
    _text("name", 200),
    _text("host", 255, nullable=False),
    _number("port"),
    Column("security", String(16), nullable=False, default="starttls"),
    _flag("auth", True),
    _flag("ntlm", False),
    _text("username", 320),
    _text("password_enc"),
    _number("priority", 10),
    Column("status", String(16), nullable=False, default="active"),
    _flag("is_default", False),
    _text("from_email", 320),
    _text("from_name", 200),
    _number("timeout", 10),
    _flag("enqueue", False),
    _flag("allow_special_use_domains", False),
    _text("tls_ca"),
    _flag("verify_certificate", True),
    _flag("smime", False),
    _text("smime_certificate"),
    _text("smime_private_key_enc"),
    _text("smime_private_key_path"),
    _text("smime_key_password_enc"),
    _flag("smime_dont_send_on_error", True),
    _text("description"),
    _flag("debug", False),
    _text("integration_id", 200),
    _number("num_errors", 0),
    Column("last_error", JSON, nullable=True),
    _moment("created"),
    _moment("modified"),
    UniqueConstraint("app_id", "name", name="uq_definition_app_name"),
)

SECRET_COLUMNS = ("password_enc", "smime_private_key_enc", "smime_key_password_enc")

# An API key: only the SHA-256 of the key is kept (keys are 256-bit random, so a plain hash is
# enough; a slow KDF would only add latency to every request).
api_keys = Table(
    "api_keys",
    METADATA,
    Column("id", String(32), primary_key=True),
    _text("name", 200),
    Column("key_hash", String(64), nullable=False, unique=True),
    _text("prefix", 16, nullable=False),
    _text("scopes", 200, nullable=False),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=True),
    _moment("created"),
    Column("revoked", DateTime(timezone=True), nullable=True),
)

# Who changed what, when. `details` holds field names and non-secret facts only.
audit_log = Table(
    "audit_log",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _moment("at", index=True),
    _text("actor", 200, nullable=False),
    _text("action", 64, nullable=False),
    Column("app_id", String(64), nullable=True, index=True),
    _text("target", 64),
    _flag("success", True),
    Column("details", JSON, nullable=True),
)

# A direct send made with an `Idempotency-Key`: the request's fingerprint and, once it
# finished, the answer it got, replayed for a repeat until `expires_at` (epoch seconds, like
# the outbox's times). Queued sends keep theirs on the outbox row. `state`: in_flight | done.
idempotent_sends = Table(
    "idempotent_sends",
    METADATA,
    Column("app_id", String(64), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    _text("request_hash", 64, nullable=False),
    _text("state", 16, nullable=False),
    Column("response", JSON, nullable=True),
    Column("created", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# An app's template for one usage type and language tag (Logto's template details plus an
# optional plain-text part). `locale` is the tag as given; `locale_key` its lower-case form
# with `-`, which is what is unique and what a send matches (tags are case-insensitive).
app_templates = Table(
    "app_templates",
    METADATA,
    Column("id", String(64), primary_key=True, default=new_id),
    _app_id(index=True),
    _text("usage_type", 100, nullable=False),
    _text("locale", 35, nullable=False),
    _text("locale_key", 35, nullable=False),
    _text("subject", nullable=False),
    _text("content", nullable=False),
    Column("content_type", String(16), nullable=False, default="text/html"),
    _text("reply_to", 400),
    _text("send_from", 400),
    _text("text_content"),
    _number("version", 1),
    _moment("created"),
    _moment("updated_at"),
    _text("updated_by", 200, nullable=False),
    UniqueConstraint("app_id", "usage_type", "locale_key", name="uq_app_template"),
)

# One saved version of an app's template (the last `HISTORY_KEPT` per usage type and locale
# are kept; deleting the template deletes its history). `action`: saved | reverted.
app_template_history = Table(
    "app_template_history",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _app_id(),
    _text("usage_type", 100, nullable=False),
    _text("locale_key", 35, nullable=False),
    _text("locale", 35, nullable=False),
    _number("version"),
    _text("subject", nullable=False),
    _text("content", nullable=False),
    _text("content_type", 16, nullable=False),
    _text("reply_to", 400),
    _text("send_from", 400),
    _text("text_content"),
    _text("action", 16, nullable=False),
    _moment("changed_at"),
    _text("changed_by", 200, nullable=False),
    Index("ix_app_template_history_key", "app_id", "usage_type", "locale_key", "version"),
)
