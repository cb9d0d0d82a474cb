"""Every failure as JSON with a code: the library's `ErrorCode` value where one applies
(`invalid_config`, `auth_failed`, `rate_limited` …), else a short HTTP-level code
(`unauthorized`, `forbidden`, `not_found`, `invalid_request`, `payload_too_large`).

Routes raise `ConnectorError`/`ServiceError`/`ApiFailure`; the handlers here turn them into a
`Failure`, and the formatter registered for the request's path prefix renders it, so a
dialect answers in its own envelope while sharing one mapping of errors to statuses.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from smtp_connector import ConnectorError, ErrorCode
from smtp_connector.errors import secret_safe_logger
from smtp_connector.store import ServiceError
from smtp_connector.store.hints import NATIVE, Terms, explain

from .openapi import error_response

log = secret_safe_logger("smtp_connector.server")


@dataclass
class Failure:
    status: int
    code: str
    message: str
    smtp_code: int | None = None
    server: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hint: str | None = None  # what to change, in the called API's field names
    cause: str | None = None  # the library's `Cause`, finer than `code`
    error: ConnectorError | None = None  # the error behind it, to explain in other terms

    def body(self) -> dict[str, Any]:
        """The native error body; `hint` and `cause` only where there is one."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint is not None:
            error["hint"] = self.hint
        if self.cause is not None:
            error["cause"] = self.cause
        return {"error": error | {"smtpCode": self.smtp_code, "server": self.server}}

    def in_terms(self, terms: Terms) -> Failure:
        """This failure's message and hint in `terms` (a dialect's names); as it is when it
        did not come from a `ConnectorError`."""
        if self.error is None:
            return self
        explained = explain(self.error, terms)
        return dataclasses.replace(self, message=explained.message, hint=explained.hint)


class ApiFailure(Exception):
    """An HTTP-level refusal (auth, limits) raised from dependencies and middleware."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str | None = None
    cause: str | None = None
    smtpCode: int | None = None  # the wire name
    server: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_responses(
    model: type[BaseModel], described: Iterable[tuple[int, str]]
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a router whose every error has one body shape (ours or a
    dialect's): each status with its description, the body by reference (see `openapi`)."""
    return {status: error_response(model, text) for status, text in described}


NATIVE_ERRORS = error_responses(ErrorBody, [
    (400, "invalid input or configuration"),
    (401, "no API key"),
    (403, "unknown key, missing scope or another app"),
    (404, "not found"),
    (409, "conflict"),
    (413, "body too large"),
    (422, "malformed request"),
    (429, "too many failed authentications"),
])  # fmt: skip

_REASON_STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409,
                  "unavailable": 409, "mismatch": 422, "unprocessable": 422,
                  "too_large": 413, "broken": 500}  # fmt: skip
_CODE_STATUS = {
    ErrorCode.INVALID_CONFIG: 400,
    ErrorCode.INVALID_RECIPIENT: 400,
    # The request's usage type or payload cannot make the mail (checked before 200/202).
    ErrorCode.TEMPLATE_NOT_FOUND: 422,
    ErrorCode.TEMPLATE_ERROR: 422,
    ErrorCode.SIGNING_FAILED: 400,
    ErrorCode.RECIPIENT_REJECTED: 422,
    ErrorCode.MESSAGE_REJECTED: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TIMEOUT: 504,
}


def connector_failure(error: ConnectorError, terms: Terms = NATIVE) -> Failure:
    """Status for a domain or delivery error: SMTP-side failures are 502/504, input 4xx; the
    message and hint in `terms` (store/hints.py)."""
    if isinstance(error, ServiceError):
        status = _REASON_STATUS[error.reason]
        code = error.label or {"not_found": "not_found", "forbidden": "forbidden"}.get(
            error.reason, error.code.value
        )
        return Failure(status, code, error.message, error=error).in_terms(terms)
    status = _CODE_STATUS.get(error.code, 502)
    headers = {"Retry-After": str(int(error.retry_after))} if error.retry_after else {}
    cause = error.cause.value if error.cause else None
    failure = Failure(status, error.code.value, error.message, error.smtp_code, error.server,
                      headers, cause=cause, error=error)  # fmt: skip
    return failure.in_terms(terms)


def validation_failure(error: RequestValidationError | ValidationError) -> Failure:
    """Name each bad field, never echo its value (it may be a password)."""
    parts = []
    if isinstance(error, ValidationError):
        items = error.errors(include_input=False)
    else:
        items = list(error.errors())
    for item in items:
        if item.get("type") == "json_invalid":
            reason = item.get("ctx", {}).get("error", "not JSON")
            return Failure(422, "invalid_request", f"Malformed JSON body: {reason}.")
        loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"`{loc}`: {str(item.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return Failure(422, "invalid_request", "Invalid request: " + "; ".join(parts))


Formatter = Callable[[Request, Failure], JSONResponse]


def native_format(request: Request, failure: Failure) -> JSONResponse:
    return JSONResponse(failure.body(), status_code=failure.status, headers=failure.headers)


def register_format(app: FastAPI, prefix: str, formatter: Formatter, terms: Terms = NATIVE) -> None:
    """Make errors under `prefix` render with `formatter` (a dialect's envelope), their
    messages and hints in `terms` (the dialect's field names)."""
    app.state.error_formats.append((prefix, formatter, terms))


def in_territory(path: str, prefix: str) -> bool:
    """Whether errors at `path` are the dialect's with routes under `prefix`: the path begins
    with it (not merely contains it). Also a lazily installed dialect's trigger
    (`dialects/loader.py`), so a first request is answered as by an app that had it installed:
    `/smtpserverx` begins with `/smtpserver` and renders privacyIDEA's envelope either way."""
    return path.startswith(prefix)


def render(request: Request, failure: Failure) -> JSONResponse:
    for prefix, formatter, terms in getattr(request.app.state, "error_formats", []):
        if in_territory(request.url.path, prefix):
            return formatter(request, failure.in_terms(terms))
    return native_format(request, failure)


def database_error(exc: SQLAlchemyError) -> str:
    """The error's type and the first line of the driver's message ("database is locked",
    "connection refused"): never the statement's parameters, which SQLAlchemy puts in
    `str(exc)` and which hold the request's data."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return type(exc).__name__
    first = (str(orig).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__} ({type(orig).__name__}: {first})"


def install_handlers(app: FastAPI) -> None:
    app.state.error_formats = []

    @app.exception_handler(ConnectorError)
    async def _connector(request: Request, exc: ConnectorError) -> JSONResponse:
        return render(request, connector_failure(exc))

    @app.exception_handler(ApiFailure)
    async def _api(request: Request, exc: ApiFailure) -> JSONResponse:
        return render(request, exc.failure)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(request, validation_failure(exc))

    @app.exception_handler(ValidationError)
    async def _model(request: Request, exc: ValidationError) -> JSONResponse:
        # A domain model built inside a route (a dialect translating its names) refused a value.
        return render(request, validation_failure(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        failure = Failure(exc.status_code, codes.get(exc.status_code, "invalid_request"),
                          str(exc.detail))  # fmt: skip
        return render(request, failure)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("database error on %s %s: %s\nTraceback (most recent call last):\n%s",
                  request.method, request.url.path, database_error(exc),
                  "".join(traceback.format_tb(exc.__traceback__)))  # fmt: skip
        failure = Failure(503, "unavailable", "The database is not available; retry later.",
                          headers={"Retry-After": "5"})  # fmt: skip
        return render(request, failure)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path,
                  exc_info=exc)  # fmt: skip
        return render(request, Failure(500, "internal_error", "Internal error; see the logs."))
