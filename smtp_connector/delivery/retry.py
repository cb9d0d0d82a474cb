"""When a failed try is worth another (on the next server, or later) and how long to wait: the
retry policy's rules, apart from the delivery loop that applies them (delivery/failover.py)."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from ..errors import ConnectorError, ErrorCode, secret_safe_logger

if TYPE_CHECKING:
    from ..config.views import RetryView
    from .servers import Server

log = secret_safe_logger("smtp_connector.delivery")

# Failures that say something about the server, not the message: try the next server.
_SERVER_LEVEL = {
    ErrorCode.CONNECTION_FAILED,
    ErrorCode.TIMEOUT,
    ErrorCode.TLS_FAILED,
    ErrorCode.AUTH_FAILED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.SENDER_REJECTED,
}


def fails_over(error: ConnectorError) -> bool:
    """True when another server (or a later try) might succeed where this one failed."""
    if error.code in _SERVER_LEVEL:
        return True
    return error.smtp_code is not None and 400 <= error.smtp_code < 500


def backoff_delay(options: RetryView, round_number: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    base = min(options.max_delay, options.initial_delay * 2 ** max(round_number - 1, 0)) / 1000
    return base / 2 + random.uniform(0, base / 2)


def log_failure(
    server: str, attempt: int, message_id: str, error: ConnectorError, seconds: float
) -> None:
    # The text and the error's fields, not the error: a handler that keeps records (pytest's, a
    # MemoryHandler) would keep the error, its traceback's frames and through them the connector
    # that sent. `connector_error` lets a service reword the line in its own API's terms.
    log.warning(
        "attempt failed: %s",
        str(error),
        extra={
            "server": server,
            "attempt": attempt,
            "message_id": message_id,
            "smtp_code": error.smtp_code,
            "error_code": error.code.value,
            "duration": round(seconds, 6),
            "connector_error": error.to_dict(),
        },
    )


def final_error(
    errors: dict[str, ConnectorError], attempts: int, servers: list[Server]
) -> ConnectorError:
    """The error a send raises when its tries ran out: the one server's own error, or one
    that lists every server's (or says that the circuit breaker left none to try)."""
    if not errors:
        return _all_disabled(servers, attempts)
    if len(errors) == 1 and len(servers) == 1:
        (error,) = errors.values()
        error.attempts = attempts
        return error
    listing = "; ".join(f"{name}: {err}" for name, err in errors.items())
    error = ConnectorError(
        ErrorCode.ALL_SERVERS_FAILED,
        f"All {len(errors)} SMTP servers failed after {attempts} attempts: {listing}",
        retryable=any(e.retryable for e in errors.values()),
        details={name: err.to_dict() for name, err in errors.items()},
    )
    error.attempts = attempts
    return error


def _all_disabled(servers: list[Server], attempts: int) -> ConnectorError:
    wait = min(max(s.health.disabled_until - time.monotonic(), 0.0) for s in servers)
    error = ConnectorError(
        ErrorCode.ALL_SERVERS_FAILED,
        "Every SMTP server is disabled after repeated failures (circuit breaker); "
        f"the next probe is allowed in {wait:.0f}s. See connector.health().",
        retryable=True,
        retry_after=wait,
        details={s.name: s.health.as_dict() for s in servers},
    )
    error.attempts = attempts
    return error
