"""Failures of the service layer, as `ConnectorError`s so every caller handles one type.

A `ServiceError` adds `reason`, the kind of failure an HTTP layer maps to a status
(`invalid` 400, `forbidden` 403, `not_found` 404, `conflict` 409, `mismatch` and
`unprocessable` 422, `too_large` 413, `broken` 500: a part of the server that could not be
loaded, parts.py); `code`
stays an `ErrorCode` (`invalid_config` unless a more precise one applies), so the JSON a client
sees carries the same code as the Python exception. A refusal no library code describes (an
idempotency key reused, one still in use) carries its own short `label` for the wire instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import IntegrityError

from smtp_connector.errors import ConnectorError, ErrorCode

if TYPE_CHECKING:
    from .domain import Actor

Reason = Literal[
    "invalid",
    "forbidden",
    "not_found",
    "conflict",
    "unavailable",
    "mismatch",
    "unprocessable",
    "too_large",
    "broken",
]
APP = "App"
DEFINITION = "Server definition"


class ServiceError(ConnectorError):
    """A request the service refuses; the message says what to change."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        code: ErrorCode = ErrorCode.INVALID_CONFIG,
        subject: str | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(code, message, retryable=False)
        self.reason: Reason = reason
        self.label = label  # the wire code when no ErrorCode fits (e.g. "idempotency_key_reused")
        # What was missing ("App", "Server definition" …): a dialect whose not-found errors
        # differ by kind (seed 000's codes 1 and 2) tells them apart without parsing text.
        self.subject = subject


def not_found(what: str, ident: str) -> ServiceError:
    return ServiceError("not_found", f"{what} {ident!r} not found.", subject=what)


def forbidden(message: str) -> ServiceError:
    return ServiceError("forbidden", message)


def refuse_other_app(actor: Actor, app_id: str) -> None:
    """403 when `actor` is a key bound to another app."""
    if not actor.can_access(app_id):
        raise forbidden(f"This API key is limited to another app, not {app_id!r}.")


def invalid(message: str, code: ErrorCode = ErrorCode.INVALID_CONFIG) -> ServiceError:
    return ServiceError("invalid", message, code=code)


@contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """A unique constraint hit by a concurrent writer (after our own check passed) is the
    same conflict as the one the check reports, not a server error."""
    try:
        yield
    except IntegrityError:
        raise ServiceError("conflict", message) from None
