"""One error type for every failure, so callers branch on a code instead of on exception classes.

Auth systems need to decide three things when a code email fails: tell the user to retry,
tell the operator to fix the config, or fail over. `ConnectorError` carries exactly the facts
for that decision (code, SMTP reply, retryable, server) and never a secret.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from .lazy import LazyPattern


class ErrorCode(StrEnum):
    """Stable, string-valued error codes (part of the public API)."""

    INVALID_CONFIG = "invalid_config"
    TEMPLATE_NOT_FOUND = "template_not_found"
    TEMPLATE_ERROR = "template_error"
    INVALID_RECIPIENT = "invalid_recipient"
    CONNECTION_FAILED = "connection_failed"
    TLS_FAILED = "tls_failed"
    AUTH_FAILED = "auth_failed"
    SENDER_REJECTED = "sender_rejected"
    RECIPIENT_REJECTED = "recipient_rejected"
    MESSAGE_REJECTED = "message_rejected"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    ALL_SERVERS_FAILED = "all_servers_failed"
    SIGNING_FAILED = "signing_failed"


_ENHANCED_STATUS = LazyPattern(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")

# Secrets registered here are scrubbed from every error message, log record and CLI line: the
# config registers every secret-bearing field when it is validated (passwords, tokens, client
# secrets, TLS/DKIM/S/MIME keys and passphrases), AUTH registers the encoded forms it puts on the
# wire, and the token fetcher the tokens it receives. A server echoing credentials back (some do
# on AUTH failures, even base64-encoded) or an exception quoting them never reaches a reader.
_SECRETS: set[str] = set()
_ORDERED: list[str] = []  # _SECRETS, longest first (a secret containing another goes first)
_MIN_SECRET_CHARS = 4
_REGISTRY_LOCK = threading.Lock()
_MIN_KEY_LINE_CHARS = 16


def register_secret(value: str | None) -> None:
    """Remember a secret so that any later error or log text containing it is redacted.

    Multi-line values (PEM keys) also register each long line, so an error quoting one line of
    a key is scrubbed too. Safe from any thread (a service builds connectors in worker threads):
    writers take a lock, and readers see `_ORDERED` replaced in one step, only ever growing."""
    if not value or len(value) < _MIN_SECRET_CHARS or value in _SECRETS:
        return
    with _REGISTRY_LOCK:
        _SECRETS.add(value)
        if "\n" in value:
            stripped = (line.strip() for line in value.splitlines())
            _SECRETS.update(
                line
                for line in stripped
                if len(line) >= _MIN_KEY_LINE_CHARS and "-----" not in line
            )
        _ORDERED[:] = sorted(_SECRETS, key=len, reverse=True)


def register_credentials(user: str, secret: str) -> None:
    """Register a login secret in every form AUTH sends it: raw, base64 alone (LOGIN), the PLAIN
    blob and the XOAUTH2 string, so a reply echoing what it received is scrubbed as well."""
    register_secret(secret)
    blobs = (
        secret.encode(),
        b"\0" + user.encode() + b"\0" + secret.encode(),
        user.encode() + b"\0" + user.encode() + b"\0" + secret.encode(),
        b"user=" + user.encode() + b"\x01auth=Bearer " + secret.encode() + b"\x01\x01",
    )
    for blob in blobs:
        register_secret(base64.b64encode(blob).decode("ascii"))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Replace every known secret in `text` with `***` (longest first, so a secret that contains
    another is replaced whole)."""
    extra = [s for s in extra if s]
    secrets = sorted({*_ORDERED, *extra}, key=len, reverse=True) if extra else _ORDERED
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Scrubs registered secrets from log records of the `smtp_connector` loggers, whatever
    a caller passes as message or arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
        return True


def secret_safe_logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)` with the redacting filter attached (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


class Cause(StrEnum):
    """Why an error happened, finer than its `ErrorCode` and just as stable (part of the public
    API): callers that write their own message or hint (the service, in the field names of the
    API that was called) choose it by cause, so an untrusted certificate and a port/TLS mismatch,
    both `tls_failed`, get different advice. `ConnectorError.reason` carries the facts in a few
    words, without advice."""

    # connecting
    DNS_FAILURE = "dns_failure"  # the host name does not resolve
    CONNECTION_REFUSED = "connection_refused"  # nothing listens on the port
    NETWORK_UNREACHABLE = "network_unreachable"  # no route to the host
    CONNECTION_LOST = "connection_lost"  # the connection dropped (before the message was sent)
    REPLY_LOST = "reply_lost"  # dropped after the message, before the server confirmed it
    ADDRESS_REFUSED = "address_refused"  # a network policy refuses the address resolved
    CONNECT_TIMEOUT = "connect_timeout"
    GREETING_TIMEOUT = "greeting_timeout"  # connected, but no SMTP greeting in time
    REPLY_TIMEOUT = "reply_timeout"  # a later reply did not come in time
    NOT_SMTP = "not_smtp"  # what answered is not an SMTP server (or not on this port)
    SERVER_CLOSING = "server_closing"  # 421: the server is shutting the session
    # TLS
    TLS_PORT_MISMATCH = "tls_port_mismatch"  # implicit TLS on a port that speaks plain SMTP
    IMPLICIT_TLS_REQUIRED = "implicit_tls_required"  # plain SMTP on an implicit-TLS port
    STARTTLS_MISSING = "starttls_missing"  # STARTTLS required (or needed for AUTH), not offered
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"  # no trusted CA vouches for it
    CERTIFICATE_EXPIRED = "certificate_expired"
    HOSTNAME_MISMATCH = "hostname_mismatch"  # valid certificate, for another name
    TLS_HANDSHAKE_FAILED = "tls_handshake_failed"  # versions, ciphers, client certificate
    # AUTH
    AUTH_NOT_OFFERED = "auth_not_offered"  # credentials set, the server offers no (such) AUTH
    AUTH_REFUSED = "auth_refused"  # the server refused the credentials
    # the transaction
    SENDER_REFUSED = "sender_refused"
    RECIPIENT_REFUSED = "recipient_refused"
    MESSAGE_REFUSED = "message_refused"
    RATE_LIMITED = "rate_limited"
    # input (before anything is sent)
    NO_SENDER = "no_sender"  # no From address is configured
    BAD_ADDRESS = "bad_address"  # not an address, or one that cannot be sent to
    SPECIAL_USE_DOMAIN = "special_use_domain"  # .local, .test, localhost …
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSAFE_LINK = "unsafe_link"  # payload.link is not an absolute http(s) URL
    MISSING_VALUE = "missing_value"  # the template shows a payload value that was not given
    UNKNOWN_USAGE_TYPE = "unknown_usage_type"  # no such usage type and no template for it


class TemplateWarning(UserWarning):
    """A template (or usage type) that works but probably does not do what was meant: a
    misspelt usage type, a code-bearing template without the code, a shadowed template."""


class ConfigWarning(UserWarning):
    """A config that loads but whose settings say less than they seem to: flags that cancel
    each other (`ignoreTLS` with `requireTLS`, or with `secure`). Loading goes on, so a config
    that works in Logto keeps working; the warning says what the connector will actually do."""


class ConnectorError(Exception):
    attempts: int | None = None  # delivery attempts made before giving up, when known
    # The Message-ID of the message being delivered when the failure happened, when it had
    # been composed: after a lost reply (`stage == "after_data"`) the one to look for.
    message_id: str | None = None

    """The single exception type raised by smtp-connector.

    Attributes are the contract: `code` (ErrorCode), `message` (actionable text),
    `smtp_code` (int reply code or None), `enhanced_status` ("5.7.8" …) when the server gave one,
    `retryable`, `server` ("host:port"), `retry_after` (seconds, for rate limits), `stage` (the
    SMTP step that failed: connect, greeting, tls, auth, mail, rcpt, data, after_data) and
    `details` (per-server or per-recipient facts, e.g. for `all_servers_failed`), `cause` (a
    `Cause`, finer than the code, where the failure is known) and `reason` (the facts in a few
    words, without advice: "self-signed certificate", "Connection refused").
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        smtp_code: int | None = None,
        server: str | None = None,
        retryable: bool | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
        details: Any = None,
        stage: str | None = None,
        cause: Cause | str | None = None,
        reason: str | None = None,
    ) -> None:
        self.code = ErrorCode(code)
        self.cause = Cause(cause) if cause is not None else None
        self.reason = redact(reason) if reason else None
        self.message = redact(message)
        self.smtp_code = smtp_code
        self.server = server
        self.server_message = redact(server_message) if server_message else None
        self.enhanced_status = _enhanced_status(server_message)
        self.retryable = (
            _default_retryable(self.code, smtp_code) if retryable is None else retryable
        )
        self.retry_after = retry_after
        self.details = details
        self.stage = stage
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [f"[{self.code.value}]"]
        if self.smtp_code is not None and str(self.smtp_code) not in self.message:
            parts.append(str(self.smtp_code))
        parts.append(self.message)
        if self.server and self.server not in self.message:
            parts.append(f"(server {self.server})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"ConnectorError(code={self.code.value!r}, message={self.message!r}, "
            f"smtp_code={self.smtp_code!r}, retryable={self.retryable!r}, server={self.server!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, used by the CLI's `--json` output and by log records."""
        return {
            "code": self.code.value,
            "message": self.message,
            "smtp_code": self.smtp_code,
            "enhanced_status": self.enhanced_status,
            "retryable": self.retryable,
            "server": self.server,
            "server_message": self.server_message,
            "retry_after": self.retry_after,
            "stage": self.stage,
            "cause": self.cause.value if self.cause else None,
            "reason": self.reason,
        }


def _enhanced_status(server_message: str | None) -> str | None:
    if not server_message:
        return None
    match = _ENHANCED_STATUS.match(server_message)
    return match.group(1) if match else None


_RETRYABLE_CODES = {
    ErrorCode.CONNECTION_FAILED,
    ErrorCode.TIMEOUT,
    ErrorCode.RATE_LIMITED,
    ErrorCode.ALL_SERVERS_FAILED,
}


def _default_retryable(code: ErrorCode, smtp_code: int | None) -> bool:
    """4xx replies and connection-level failures are transient; 5xx and config errors are not."""
    if smtp_code is not None:
        return 400 <= smtp_code < 500
    return code in _RETRYABLE_CODES


# "dkimpy<2,>=1.1; extra == 'dkim'" -> ("dkimpy", "dkim")
_REQUIREMENT = LazyPattern(r"^\s*([A-Za-z0-9][\w.-]*)[^;]*;.*\bextra\s*==\s*['\"]([^'\"]+)")


def install_hint(extra: str) -> str:
    """How to add an optional extra, in the forms that work where the user stands: from the
    package index, from a source checkout (`pip install '.[dkim]'`; the index form fails
    when the package is not published there) and, always, the packages themselves."""
    hint = (
        f"pip install 'smtp-connector[{extra}]' (from a source checkout: pip install '.[{extra}]')"
    )
    packages = _extra_packages(extra)
    return hint + (f", or pip install {' '.join(packages)}" if packages else "")


def _extra_packages(extra: str) -> list[str]:
    """The extra's packages, read from the installed metadata so they never drift from
    pyproject.toml; empty when the metadata is not there (e.g. running from a bare source tree).
    Imported here: `importlib.metadata` is about 10 M instructions of a first send otherwise."""
    from importlib import metadata

    try:
        requirements = metadata.requires("smtp-connector") or []
    except metadata.PackageNotFoundError:
        return []
    found = (_REQUIREMENT.match(line) for line in requirements)
    return sorted({m.group(1) for m in found if m and m.group(2) == extra})
