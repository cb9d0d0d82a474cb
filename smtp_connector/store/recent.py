"""An app's recent queued messages, newest first, a page at a time (`GET /v1/apps/{id}/messages`).

The rules live here, once: which statuses may be asked for, how big a page may be, what a
cursor holds (the last row's `created` and id: keyset paging, see pages.py), and what a row
shows of its recipient. The admin page lists these rows for anyone holding a read key, so the
recipient is masked (`a***@example.org`): enough to recognise a message a user asks about,
not a list of the app's users' addresses. The queue (`smtp_connector.queue`) runs the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ServiceError
from .pages import Page, check_limit, decode_cursor, encode_cursor

STATUSES = ("queued", "sending", "sent", "failed", "abandoned")
MASK = "***"


def mask_recipient(address: str) -> str:
    """`ana@example.org` → `a***@example.org`: the first character of the local part, then
    stars; the domain stays (it says which provider the message went to)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address[:1] + MASK
    return f"{local[:1]}{MASK}@{domain}"


@dataclass(frozen=True)
class RecentQuery:
    """One page's worth of the question: whose, which status, how many, after which row."""

    app_id: str
    status: str | None
    size: int
    after: tuple[float, str] | None  # (created, id) of the previous page's last row

    @classmethod
    def parse(
        cls, app_id: str, status: str | None, limit: int | None, cursor: str | None
    ) -> RecentQuery:
        """The query for these parameters; 422 for an unknown status, a limit out of range or
        a cursor this list did not give out (another app's, or another status filter's): a
        malformed query, as the HTTP layer's own validation answers it."""
        if status is not None and status not in STATUSES:
            raise _malformed(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
        try:
            size = check_limit(limit)
            key = decode_cursor(_kind(app_id, status), cursor) if cursor is not None else None
        except ServiceError as error:
            raise _malformed(error.message) from None
        if key is None:
            return cls(app_id, status, size, None)
        if len(key) != 2 or type(key[0]) not in (int, float) or type(key[1]) is not str:
            raise _malformed("cursor is not one this list gave out.")
        return cls(app_id, status, size, (float(key[0]), key[1]))

    def page(self, rows: list[Any]) -> Page[RecentMessage]:
        """`rows` (up to size + 1 outbox rows, newest first) as a page and the next cursor."""
        items = [RecentMessage.of(row) for row in rows[: self.size]]
        if len(rows) <= self.size:
            return Page(items, None)
        last = rows[self.size - 1]
        return Page(items, encode_cursor(_kind(self.app_id, self.status), [last.created, last.id]))


def _malformed(message: str) -> ServiceError:
    return ServiceError("mismatch", message, label="invalid_request")


def _kind(app_id: str, status: str | None) -> str:
    """A cursor names its list: another app's or another filter's cursor is refused."""
    return f"messages:{app_id}:{status or '*'}"


@dataclass(frozen=True)
class RecentMessage:
    id: str
    status: str
    recipient: str  # masked
    usage_type: str
    locale: str | None
    attempts: int
    created: float
    updated: float
    last_error: dict[str, Any] | None
    server: str | None

    @classmethod
    def of(cls, row: Any) -> RecentMessage:
        return cls(
            id=row.id,
            status=row.status,
            recipient=mask_recipient(row.recipient),
            usage_type=row.usage_type,
            locale=row.locale,
            attempts=row.attempts,
            created=row.created,
            updated=row.updated,
            last_error=_error_summary(row.last_error, row.recipient),
            server=row.server,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "to": self.recipient,
            "usageType": self.usage_type,
            "locale": self.locale,
            "attempts": self.attempts,
            "created": _iso(self.created),
            "updated": _iso(self.updated),
            "lastError": self.last_error,
            "server": self.server,
        }


def _error_summary(error: Any, recipient: str) -> dict[str, Any] | None:
    """The stored error's code, cause, message and hint (nothing else a row might carry), the
    recipient masked in its texts as in the row (a refusal often quotes the address)."""
    if not isinstance(error, dict):
        return None
    keep = ("code", "cause", "message", "hint", "smtpCode", "server")
    summary = {key: error.get(key) for key in keep if key in error}
    quoted = re.compile(re.escape(recipient), re.IGNORECASE)
    for key in ("message", "hint"):
        text = summary.get(key)
        if isinstance(text, str) and recipient:
            summary[key] = quoted.sub(mask_recipient(recipient), text)
    return summary


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
