"""Translate aiosmtplib / OS / TLS exceptions into `ConnectorError`s a person can act on.

The same exception means different things at different steps (a 5xx at RCPT is a bad recipient,
at DATA a rejected message), so mapping takes the SMTP stage the failure happened in.
"""

from __future__ import annotations

import errno
import socket
import ssl

import aiosmtplib

from ..errors import Cause, ConnectorError, ErrorCode, redact

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
            cause=_TIMEOUT_CAUSES.get(stage, Cause.REPLY_TIMEOUT),
            reason=f"no answer during {stage}",
        )
    if isinstance(exc, socket.gaierror):
        return ConnectorError(
            ErrorCode.CONNECTION_FAILED,
            f"Cannot resolve host of {server} ({exc.strerror}); check `host`.",
            server=server,
            retryable=True,
            stage="connect",
            cause=Cause.DNS_FAILURE,
            reason=exc.strerror,
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError | OSError):
        return _connection_error(exc, stage=stage, server=server)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        smtputf8 = "SMTPUTF8" in str(exc)
        return ConnectorError(
            ErrorCode.INVALID_RECIPIENT if smtputf8 else ErrorCode.MESSAGE_REJECTED,
            f"{server} cannot take this message: {exc}.",
            server=server,
            retryable=False,
            stage=stage,
            cause=Cause.BAD_ADDRESS if smtputf8 else Cause.MESSAGE_REFUSED,
            reason=str(exc),
        )
    code = _STAGE_CODES.get(stage, ErrorCode.CONNECTION_FAILED)
    return ConnectorError(
        code,
        f"{type(exc).__name__} during {stage} with {server}: {exc}",
        server=server,
        retryable=False,
        stage=stage,
        cause=_other_cause(code, exc),
        reason=str(exc) or type(exc).__name__,
    )


_TIMEOUT_CAUSES = {"connect": Cause.CONNECT_TIMEOUT, "greeting": Cause.GREETING_TIMEOUT}
_CODE_CAUSES = {
    ErrorCode.SENDER_REJECTED: Cause.SENDER_REFUSED,
    ErrorCode.RECIPIENT_REJECTED: Cause.RECIPIENT_REFUSED,
    ErrorCode.MESSAGE_REJECTED: Cause.MESSAGE_REFUSED,
    ErrorCode.AUTH_FAILED: Cause.AUTH_REFUSED,
    ErrorCode.TLS_FAILED: Cause.TLS_HANDSHAKE_FAILED,
    ErrorCode.CONNECTION_FAILED: Cause.CONNECTION_LOST,
    ErrorCode.RATE_LIMITED: Cause.RATE_LIMITED,
}


def _other_cause(code: ErrorCode, exc: BaseException) -> Cause | None:
    """An unexpected exception at a known step: the step's cause. aiosmtplib's "No suitable
    authentication method found" means the server offers no mechanism we can use."""
    if code is ErrorCode.AUTH_FAILED and "no suitable authentication" in str(exc).lower():
        return Cause.AUTH_NOT_OFFERED
    return _CODE_CAUSES.get(code)


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
        ErrorCode.CONNECTION_FAILED,
        message,
        server=server,
        retryable=True,
        stage=stage,
        cause=Cause.NOT_SMTP,
        reason=why,
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
            cause=Cause.TLS_HANDSHAKE_FAILED,
            reason=_reason(exc),
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
        cause=Cause.REPLY_LOST if after_data else _socket_cause(exc),
        reason=_reason(exc),
    )


_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


def _socket_cause(exc: BaseException) -> Cause:
    """Refused (nothing listens), unreachable (no route), or lost (anything else)."""
    for item in (exc, exc.__cause__, exc.__context__):
        number = getattr(item, "errno", None)
        if number in _REFUSED or isinstance(item, ConnectionRefusedError):
            return Cause.CONNECTION_REFUSED
        if number in _UNREACHABLE:
            return Cause.NETWORK_UNREACHABLE
    text = str(exc).lower()
    if "connection refused" in text:
        return Cause.CONNECTION_REFUSED
    return Cause.CONNECTION_LOST


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
    cause = _CODE_CAUSES.get(error_code)
    if code == 421 and error_code is ErrorCode.CONNECTION_FAILED:
        cause = Cause.SERVER_CLOSING
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
        cause=cause,
        reason=f"{code} {text.strip()}",
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
    mapped = _from_response(first.code, first.message, stage="rcpt", server=server)
    return ConnectorError(
        mapped.code,
        f"{server} refused {who} at rcpt: {listed}",
        smtp_code=first.code,
        server=server,
        server_message=first.message.strip(),
        stage="rcpt",
        retryable=any(400 <= r.code < 500 for r in refused),
        cause=mapped.cause,
        reason=listed,
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
        cause = Cause.TLS_PORT_MISMATCH
        message = (
            f"TLS handshake with {server} failed ({reason}): port {port} speaks plain SMTP "
            "(STARTTLS), not implicit TLS. Set `secure: false` for this port, or use port 465 "
            "with `secure: true`."
        )
    elif isinstance(exc, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
        reason = getattr(exc, "verify_message", None) or reason
        cause = _certificate_cause(getattr(exc, "verify_code", None), reason)
        message = (
            f"The certificate of {server} is not trusted ({reason}). Give the issuing CA in "
            "`tls.ca`, fix `servername`, or (test only) set `tls.rejectUnauthorized: false`."
        )
    else:
        cause = Cause.TLS_HANDSHAKE_FAILED
        mode = "implicit TLS" if implicit_tls else "STARTTLS"
        message = f"TLS ({mode}) with {server} failed: {reason}."
    return ConnectorError(
        ErrorCode.TLS_FAILED,
        message,
        server=server,
        retryable=False,
        stage="tls",
        cause=cause,
        reason=str(reason),
    )


_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def _certificate_cause(verify_code: int | None, message: str) -> Cause:
    lowered = message.lower()
    if verify_code in _NAME_MISMATCH or "mismatch" in lowered:
        return Cause.HOSTNAME_MISMATCH
    if verify_code == _EXPIRED or "expired" in lowered:
        return Cause.CERTIFICATE_EXPIRED
    return Cause.CERTIFICATE_UNTRUSTED
