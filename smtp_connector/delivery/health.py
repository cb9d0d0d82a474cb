"""Per-server health: error counters and a circuit breaker.

A dead server should cost one failed attempt, not one per sign-up: after `maxErrors`
consecutive failures it is disabled for `cooldown`, then one send probes it (half-open); success
re-enables it, failure disables it again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..config.views import HealthView


State = Literal["active", "disabled", "half_open"]


class ServerHealth:
    """Counters and breaker state of one server (what `connector.health()` reports). A plain
    class, not a dataclass: declaring one execs its generated methods at import, a cost every
    process that sends pays (docs/performance.md, cold start)."""

    __slots__ = (
        "_probing",
        "consecutive_errors",
        "disabled_until",
        "last_error",
        "num_errors",
        "num_sent",
        "options",
        "server",
    )

    def __init__(self, server: str, options: HealthView) -> None:
        self.server = server
        self.options = options
        self.num_errors = 0
        self.consecutive_errors = 0
        self.num_sent = 0
        self.last_error: str | None = None
        self.disabled_until = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        if self.disabled_until == 0.0:
            return "active"
        return "half_open" if time.monotonic() >= self.disabled_until else "disabled"

    def available(self) -> bool:
        """Worth considering now (active, or half-open after the cool-down); no side effect."""
        return self.state != "disabled"

    def claim(self) -> bool:
        """Take the right to try this server now. Half-open admits one probe at a time, so a
        server that is still dead costs one failed attempt, not one per concurrent send."""
        state = self.state
        if state == "active":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def mark_healthy(self) -> None:
        """The server answered properly (a check, or a rejection of one message): close the
        breaker without counting a sent message."""
        self.consecutive_errors = 0
        self.disabled_until = 0.0
        self._probing = False

    def record_success(self) -> None:
        self.num_sent += 1
        self.mark_healthy()  # one place says what a healthy server resets

    def record_failure(self, error: str) -> None:
        self.num_errors += 1
        self.consecutive_errors += 1
        self.last_error = error
        self._probing = False
        if self.consecutive_errors >= self.options.max_errors or self.state != "active":
            self.disable()

    def disable(self) -> None:
        self.disabled_until = time.monotonic() + self.options.cooldown / 1000

    def as_dict(self) -> dict[str, object]:
        return {
            "server": self.server,
            "status": self.state,
            "numErrors": self.num_errors,
            "consecutiveErrors": self.consecutive_errors,
            "numSent": self.num_sent,
            "lastError": self.last_error,
        }
