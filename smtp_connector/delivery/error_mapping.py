"""Translate aiosmtplib / OS / TLS exceptions into `ConnectorError`s a person can act on.

The same exception means different things at different steps (a 5xx at RCPT is a bad recipient,
at DATA a rejected message), so mapping takes the SMTP stage the failure happened in.
"""

from __future__ import annotations

import socket
import ssl

import aiosmtplib

from ..errors import ConnectorError, ErrorCode, redact

_STAGE_CODES = {
    "mail": ErrorCode.SENDER_REJECTED,
    "rcpt": ErrorCode.RECIPIENT_REJECTED,
    "data": ErrorCode.MESSAGE_REJECTED,
    "after_data": ErrorCode.MESSAGE_REJECTED,
    "auth": ErrorCode.AUTH_FAILED,
    "tls": ErrorCode.TLS_FAILED,
    "greeting": ErrorCode.CONNECTION_FAILED,
    "connect": ErrorCode.CONNECTION_FAILED,
    "ehlo": ErrorCode.CONNECTION_FAILED,
}
_RATE_WORDS = (
    "rate limit",
    "too many messages",
    "too many connections",
    "throttl",
    "slow down",
    "exceeded",
)


def map_exception(
    exc: BaseException, *, stage: str, server: str, implicit_tls: bool, port: int
) -> ConnectorError:
    """One `ConnectorError` for `exc` raised during `stage` against `server`."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code < 0:
        return _not_smtp(exc.message, stage, server)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _from_response(exc.code, exc.message, stage=stage, server=server)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return _all_refused(exc.recipients, server)
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        ssl_exc = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
        return tls_error(ssl_exc, server=server, implicit_tls=implicit_tls, port=port)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return ConnectorError(
            ErrorCode.TIMEOUT,
            f"Timed out during {stage} with {server}; the server did not answer in time "
            "(see connectionTimeout / greetingTimeout / socketTimeout).",
            server=server,
            retryable=True,
            stage=stage,
        )
    if isinstance(exc, socket.gaierror):
        return ConnectorError(
            ErrorCode.CONNECTION_FAILED,
            f"Cannot resolve host of {server} ({exc.strerror}); check `host`.",
            server=server,
            retryable=True,
            stage="connect",
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError | OSError):
        return _connection_error(exc, stage=stage, server=server)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return ConnectorError(
            ErrorCode.INVALID_RECIPIENT if "SMTPUTF8" in str(exc) else ErrorCode.MESSAGE_REJECTED,
            f"{server} cannot take this message: {exc}.",
            server=server,
            retryable=False,
            stage=stage,
        )
    return ConnectorError(
        _STAGE_CODES.get(stage, ErrorCode.CONNECTION_FAILED),
        f"{type(exc).__name__} during {stage} with {server}: {exc}",
        server=server,
        retryable=False,
        stage=stage,
    )


def _not_smtp(reason: str, stage: str, server: str) -> ConnectorError:
    """A reply that is not SMTP. What the peer said is never quoted (aiosmtplib's reason is
    kept up to its colon: "Malformed SMTP response line: <the line>"): a port that speaks
    another protocol first (SSH, a database) would have its banner carried back to whoever
    pointed a definition at it, which turns a check into a port scanner."""
    why = reason.split(":", 1)[0].strip()
    if stage == "greeting":
        message = (
            f"{server} did not greet with an SMTP reply: it is not an SMTP server, or not on "
            "this port. Check the host and port."
        )
    else:
        message = (
            f"{server} sent a reply that is not SMTP during {stage} ({why}); the connection "
            "was dropped. The server (or something between us) is not speaking SMTP correctly."
        )
    return ConnectorError(
        ErrorCode.CONNECTION_FAILED, message, server=server, retryable=True, stage=stage
    )


def _connection_error(exc: BaseException, *, stage: str, server: str) -> ConnectorError:
    if stage == "tls":
        return ConnectorError(
            ErrorCode.TLS_FAILED,
            f"{server} closed the connection during the TLS handshake ({_reason(exc)}): the "
            "server refused what was offered. Check `tls.minVersion`/`tls.maxVersion`, "
            "`tls.ciphers` and the client certificate (`tls.cert`/`tls.key`).",
            server=server,
            retryable=False,
            stage=stage,
        )
    after_data = stage == "after_data"
    what = (
        "the connection dropped after the message was sent but before the server confirmed it; "
        "it may or may not have been queued"
        if after_data
        else f"the connection failed during {stage}"
    )
    return ConnectorError(
        ErrorCode.CONNECTION_FAILED,
        f"{server}: {what} ({_reason(exc)}).",
        server=server,
        retryable=True,
        stage=stage,
    )


def _reason(exc: BaseException) -> str:
    """The most specific readable cause: the OS error text, else the underlying exception."""
    for item in (exc, exc.__cause__):
        if item is None:
            continue
        text = getattr(item, "strerror", None) or str(item).rstrip(": ")
        if text and not text.endswith("on port None"):
            return text
    cause = exc.__cause__ or exc
    return type(cause).__name__


def _from_response(code: int, text: str, *, stage: str, server: str) -> ConnectorError:
    error_code = _STAGE_CODES.get(stage, ErrorCode.CONNECTION_FAILED)
    lowered = text.lower()
    if 400 <= code < 500 and any(word in lowered for word in _RATE_WORDS):
        error_code = ErrorCode.RATE_LIMITED
    elif code == 421:
        error_code = ErrorCode.CONNECTION_FAILED
    message = f"{server} refused at {stage}: {code} {text.strip()}"
    if error_code is ErrorCode.AUTH_FAILED:
        message += " (check auth.user and auth.pass; many providers need an app password)"
    if error_code is ErrorCode.SENDER_REJECTED:
        message += " (the provider may only accept a verified `fromEmail`)"
    return ConnectorError(
        error_code,
        message,
        smtp_code=code,
        server=server,
        server_message=text.strip(),
        stage=stage,
    )


MAX_NAMED_RECIPIENTS = 5  # in the message; `details` always has every one


def _all_refused(refused: list[aiosmtplib.SMTPRecipientRefused], server: str) -> ConnectorError:
    """Every recipient refused (nodemailer: "all recipients were rejected", with each one):
    the error names each refused recipient with its reply, the first few in the message and
    all of them in `details` (`[{"recipient", "smtp_code", "message"}]`). Its code and SMTP
    reply are the first refusal's; it is retryable when any refusal was temporary (4xx)."""
    first = refused[0]
    named = [f"{r.recipient} ({r.code} {r.message.strip()})" for r in refused]
    more = len(named) - MAX_NAMED_RECIPIENTS
    listed = "; ".join(named[:MAX_NAMED_RECIPIENTS]) + (f"; and {more} more" if more > 0 else "")
    who = "the recipient" if len(refused) == 1 else f"all {len(refused)} recipients"
    return ConnectorError(
        _from_response(first.code, first.message, stage="rcpt", server=server).code,
        f"{server} refused {who} at rcpt: {listed}",
        smtp_code=first.code,
        server=server,
        server_message=first.message.strip(),
        stage="rcpt",
        retryable=any(400 <= r.code < 500 for r in refused),
        details=[
            {"recipient": r.recipient, "smtp_code": r.code, "message": redact(r.message.strip())}
            for r in refused
        ],
    )


def tls_error(
    exc: BaseException | None, *, server: str, implicit_tls: bool, port: int
) -> ConnectorError:
    """TLS failures with the two classic port/mode mistakes spelled out."""
    reason = getattr(exc, "reason", None) or str(exc)
    text = str(exc).lower()
    if "wrong version number" in text or "record layer failure" in text or "packet length" in text:
        message = (
            f"TLS handshake with {server} failed ({reason}): port {port} speaks plain SMTP "
            "(STARTTLS), not implicit TLS. Set `secure: false` for this port, or use port 465 "
            "with `secure: true`."
        )
    elif isinstance(exc, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
        detail = getattr(exc, "verify_message", None) or reason
        message = (
            f"The certificate of {server} is not trusted ({detail}). Give the issuing CA in "
            "`tls.ca`, fix `servername`, or (test only) set `tls.rejectUnauthorized: false`."
        )
    else:
        mode = "implicit TLS" if implicit_tls else "STARTTLS"
        message = f"TLS ({mode}) with {server} failed: {reason}."
    return ConnectorError(
        ErrorCode.TLS_FAILED, message, server=server, retryable=False, stage="tls"
    )
