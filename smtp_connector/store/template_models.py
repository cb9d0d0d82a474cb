"""Templates per app: the wire shapes, the operator's limits and the key rules (usage type and
language tag), shared by the native API and the Logto email-templates dialect.

A template is Logto's template details (`subject`, `content`, `contentType`, `replyTo`,
`sendFrom`) plus, for our own API, `text`: a plain-text part beside an HTML `content`. It is
stored per (app, usage type, language tag); tags match case-insensitively (`pt-BR` and `pt-br`
are one template), and the tag is kept as it was given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from ..errors import ConnectorError, ErrorCode
from .domain import Wire
from .errors import ServiceError
from .schema import aware

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from .tables import AppTemplateHistoryRow, AppTemplateRow

MAX_TEMPLATES_ENV = "SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP"
MAX_TEMPLATE_BYTES_ENV = "SMTP_CONNECTOR_MAX_TEMPLATE_BYTES"
DEFAULT_MAX_TEMPLATES = 200
DEFAULT_MAX_TEMPLATE_BYTES = 100 * 1024
HISTORY_KEPT = 20  # versions kept per (app, usage type, locale)

USAGE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"
LOCALE_PATTERN = r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8}){0,3}$"
_USAGE = re.compile(USAGE_PATTERN)
_LOCALE = re.compile(LOCALE_PATTERN)
ContentTypeName = Literal["text/html", "text/plain"]
DETAIL_FIELDS = ("subject", "content", "content_type", "reply_to", "send_from", "text_content")


@dataclass(frozen=True)
class TemplateLimits:
    """What the operator allows each app to store: templates per app and bytes per template
    (subject, bodies and addresses together, UTF-8)."""

    max_per_app: int = DEFAULT_MAX_TEMPLATES
    max_bytes: int = DEFAULT_MAX_TEMPLATE_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TemplateLimits:
        """From SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP and SMTP_CONNECTOR_MAX_TEMPLATE_BYTES;
        a bad value is `invalid_config` naming the variable (at start, not on a save)."""
        env = os.environ if environ is None else environ
        return cls(
            max_per_app=_whole(env, MAX_TEMPLATES_ENV, DEFAULT_MAX_TEMPLATES, 100_000),
            max_bytes=_whole(env, MAX_TEMPLATE_BYTES_ENV, DEFAULT_MAX_TEMPLATE_BYTES, 1 << 24),
        )


def _whole(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{name} must be a whole number from 1 to {most} (default {default}), got {raw!r}",
        )
    return int(raw)


def locale_key(locale: str) -> str:
    """The form a tag is matched by: lower case, `_` as `-` (`pt_BR` → `pt-br`)."""
    return locale.strip().replace("_", "-").lower()


def check_key(usage_type: str, locale: str) -> tuple[str, str]:
    """(usage type, tag) when both are well formed, else 422 naming the bad one (they arrive
    in a URL path or a dialect's body, so a path, a URL or a blank is refused here)."""
    if not _USAGE.match(usage_type):
        raise ServiceError(
            "unprocessable",
            f"usageType {usage_type[:100]!r} is not a usage type: letters, digits, '_' or '-' "
            "(e.g. SignIn, Register, ForgotPassword, Generic).",
            label="invalid_request",
        )
    if not _LOCALE.match(locale):
        raise ServiceError(
            "unprocessable",
            f"locale {locale[:40]!r} is not a language tag such as en, de or pt-BR.",
            label="invalid_request",
        )
    return usage_type, locale


class TemplateInput(Wire):
    """The template details a PUT stores (create or replace)."""

    subject: str = Field(min_length=1, pattern=r"^[^\r\n\x00]*$", description="one line")
    content: str = Field(min_length=1, description="the body, HTML or plain text")
    content_type: ContentTypeName = Field(
        default="text/html", description="text/html (default, as Logto) or text/plain"
    )
    reply_to: str | None = Field(default=None, max_length=400, description="Reply-To address")
    send_from: str | None = Field(
        default=None, max_length=400, description="From address of this template's mails"
    )
    text: str | None = Field(
        default=None,
        validation_alias=AliasChoices("text", "textContent"),
        description="the plain-text part beside an HTML content (one multipart mail); without "
        "it the text part is made from the HTML",
    )

    def size(self) -> int:
        """Bytes this template takes (what the per-template cap counts)."""
        parts = (self.subject, self.content, self.reply_to, self.send_from, self.text)
        return sum(len(part.encode()) for part in parts if part)

    def details(self) -> dict[str, Any]:
        """The row's columns for these details."""
        return {
            "subject": self.subject,
            "content": self.content,
            "content_type": self.content_type,
            "reply_to": self.reply_to or None,
            "send_from": self.send_from or None,
            "text_content": self.text or None,
        }


def check_input(data: TemplateInput, limits: TemplateLimits) -> None:
    """Size first (413), then the one combination the shape cannot say (422)."""
    size = data.size()
    if size > limits.max_bytes:
        raise ServiceError(
            "too_large",
            f"This template is {size:,} bytes; a template may have at most {limits.max_bytes:,} "
            f"(subject, content, text and addresses together; the operator sets "
            f"{MAX_TEMPLATE_BYTES_ENV}).",
            label="template_too_large",
        )
    if data.text and data.content_type == "text/plain":
        raise ServiceError(
            "unprocessable",
            "`text` is the plain-text part of an HTML template; with contentType text/plain "
            "the body is `content` alone: put it there, or set contentType to text/html.",
            label="invalid_request",
        )


class TemplateView(Wire):
    """A stored template as the API shows it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    app_id: str
    usage_type: str
    locale: str
    subject: str
    content: str
    content_type: ContentTypeName
    reply_to: str | None = None
    send_from: str | None = None
    text: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    warnings: list[str] = Field(
        default_factory=list, description="what the save found that does not stop it"
    )


class HistoryEntry(Wire):
    """One kept version: its details, who saved it and when (`reverted`: a revert made it)."""

    model_config = ConfigDict(extra="ignore")

    version: int
    action: str
    changed_at: datetime
    changed_by: str
    subject: str
    content: str
    content_type: ContentTypeName
    reply_to: str | None = None
    send_from: str | None = None
    text: str | None = None


def template_view(row: AppTemplateRow, warnings: list[str] | None = None) -> TemplateView:
    return TemplateView(
        id=row.id, app_id=row.app_id, usage_type=row.usage_type, locale=row.locale,
        subject=row.subject, content=row.content,
        content_type=row.content_type,  # type: ignore[arg-type]  # stored from the Literal
        reply_to=row.reply_to, send_from=row.send_from, text=row.text_content,
        version=row.version, created_at=aware(row.created), updated_at=aware(row.updated_at),
        updated_by=row.updated_by,
        warnings=warnings or [],
    )  # fmt: skip


def history_entry(row: AppTemplateHistoryRow) -> HistoryEntry:
    return HistoryEntry(
        version=row.version, action=row.action, changed_at=aware(row.changed_at),
        changed_by=row.changed_by, subject=row.subject, content=row.content,
        content_type=row.content_type,  # type: ignore[arg-type]  # stored from the Literal
        reply_to=row.reply_to, send_from=row.send_from, text=row.text_content,
    )  # fmt: skip


def template_details(row: AppTemplateRow | AppTemplateHistoryRow | Row[Any]) -> dict[str, Any]:
    """The library's template shape (`EmailTemplate` keys, camelCase) for a stored row (an ORM
    row, or a Core one of `schema.app_templates`: a send's snapshot, template_chain.py)."""
    return {"usageType": row.usage_type, "locale": row.locale} | details_mapping(
        row.subject, row.content, row.content_type,
        text=row.text_content, reply_to=row.reply_to, send_from=row.send_from,
    )  # fmt: skip


def details_mapping(
    subject: str,
    content: str,
    content_type: str,
    *,
    text: str | None,
    reply_to: str | None,
    send_from: str | None,
) -> dict[str, Any]:
    """Logto's template details in the library's keys, the optional ones only when set: the
    one shape a stored row, a posted edit and the preview all hand to the library."""
    details: dict[str, Any] = {"subject": subject, "content": content, "contentType": content_type}
    for key, value in (("textContent", text), ("replyTo", reply_to), ("sendFrom", send_from)):
        if value:
            details[key] = value
    return details


@dataclass(frozen=True)
class Saved:
    """What a save answers: the stored template (with the save's `warnings`) and whether it
    was new (201) or replaced one (200)."""

    template: TemplateView
    created: bool
