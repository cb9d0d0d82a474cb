"""The retry policy, as data: how often, how long apart, and when to give up.

The library decides what a failure means (its `ConnectorError` carries `retryable` and the
`stage` the SMTP exchange had reached); this policy only decides what the outbox does next:

- the reply to the message's content was lost (`stage == "after_data"`): the server may hold
  the message, so it is never retried automatically (`failed`, "delivery unknown");
- a permanent failure (5xx, auth, invalid recipient, bad config): `failed` at once;
- a retryable failure (4xx, connection drop, timeout, rate limit): another attempt after an
  exponential backoff with jitter, at least the server's `retry_after`;
- out of attempts, or the next attempt would come after `expiresAt`: `abandoned` — a
  verification code that arrives after it expired is worse than none.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from smtp_connector import ConnectorError

Next = Literal["retry", "failed", "abandoned", "unknown"]


@dataclass(frozen=True)
class Decision:
    next: Next
    at: float = 0.0  # epoch seconds of the next attempt, for "retry"
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Defaults suit verification codes: 5 attempts within the default 10-minute expiry."""

    max_attempts: int = 5
    initial_delay: float = 2.0  # seconds before the second attempt (before jitter)
    multiplier: float = 2.0
    max_delay: float = 120.0
    default_ttl: float = 600.0  # expiresAt when the request gives none
    lease: float = 90.0  # a claim older than this belongs to a dead worker (a send's deadline
    # is 60 s by default, so a live worker always finishes first)

    def delay(self, attempt: int) -> float:
        """Backoff after `attempt` failed attempts: exponential, "equal jitter" (half fixed,
        half random) so retries of a burst of failures spread out."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(attempt - 1, 0))
        return base / 2 + random.uniform(0, base / 2)

    def decide(
        self, error: ConnectorError, attempts: int, max_attempts: int, now: float, expires: float
    ) -> Decision:
        """What to do after attempt number `attempts` failed with `error`."""
        if error.stage == "after_data":
            return Decision(
                "unknown",
                reason="the connection dropped after the message was handed to the server; it "
                "may have been delivered, so it is not sent again automatically",
            )
        if not error.retryable:
            return Decision("failed", reason="permanent failure")
        if attempts >= max_attempts:
            return Decision("abandoned", reason=f"no attempt left after {attempts}")
        at = now + max(self.delay(attempts), error.retry_after or 0.0)
        if at >= expires:
            return Decision("abandoned", reason="the code would expire before the next attempt")
        return Decision("retry", at=at)
