"""The retry policy as data: what the outbox does after each kind of failure (pure: the
failures are the library's own `ConnectorError`s as delivery raises them)."""

from __future__ import annotations

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)

from smtp_connector import ConnectorError, ErrorCode
from smtp_connector.queue import RetryPolicy

NOW = 1_000_000.0
POLICY = RetryPolicy(max_attempts=5, initial_delay=2.0, multiplier=2.0, max_delay=30.0)


def error(code: ErrorCode, smtp: int | None = None, **kw: object) -> ConnectorError:
    return ConnectorError(code, "x", smtp_code=smtp, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (error(ErrorCode.MESSAGE_REJECTED, 451, stage="data"), "retry"),
        (error(ErrorCode.CONNECTION_FAILED, stage="connect"), "retry"),
        (error(ErrorCode.TIMEOUT, stage="greeting"), "retry"),
        (error(ErrorCode.RECIPIENT_REJECTED, 550, stage="rcpt"), "failed"),
        (error(ErrorCode.AUTH_FAILED, 535, stage="auth"), "failed"),
        (error(ErrorCode.INVALID_RECIPIENT), "failed"),
        (error(ErrorCode.CONNECTION_FAILED, stage="after_data"), "unknown"),
    ],
)
def test_what_each_failure_leads_to(failure: ConnectorError, expected: str) -> None:
    assert POLICY.decide(failure, 1, 5, NOW, NOW + 600).next == expected


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempt, base in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 30.0), (20, 30.0)]:
        delays = [POLICY.delay(attempt) for _ in range(200)]
        assert all(base / 2 <= d <= base for d in delays)
        assert len(set(delays)) > 100  # jittered, so a burst of failures spreads out


def test_out_of_attempts_or_past_expiry_is_abandoned() -> None:
    transient = error(ErrorCode.CONNECTION_FAILED)
    assert POLICY.decide(transient, 5, 5, NOW, NOW + 600).next == "abandoned"
    assert POLICY.decide(transient, 1, 5, NOW, NOW + 0.5).next == "abandoned"
    retry = POLICY.decide(transient, 1, 5, NOW, NOW + 600)
    assert retry.next == "retry" and NOW + 1.0 <= retry.at <= NOW + 2.0


def test_a_server_retry_after_is_respected() -> None:
    limited = error(ErrorCode.RATE_LIMITED, retry_after=45.0)
    decision = POLICY.decide(limited, 1, 5, NOW, NOW + 600)
    assert decision.next == "retry" and decision.at >= NOW + 45.0
