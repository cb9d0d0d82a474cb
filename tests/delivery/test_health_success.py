"""A delivered message closes the circuit breaker as `mark_healthy` does (wire-11 wrote that
call out in `record_success`): counters, cool-down and the probe flag all reset, so a server
that fails again later is probed again after its next cool-down, not skipped for good."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from smtp_connector.delivery.health import ServerHealth

OPTIONS = SimpleNamespace(max_errors=2, cooldown=0)  # cool-down over at once: half-open


def _state(health: ServerHealth) -> tuple[object, ...]:
    return (health.num_sent, health.consecutive_errors, health.disabled_until, health._probing)


@given(st.lists(st.sampled_from(["fail", "claim", "success", "healthy"]), max_size=12))
def test_a_success_resets_what_mark_healthy_resets(steps: list[str]) -> None:
    health = ServerHealth("127.0.0.1:25", OPTIONS)  # type: ignore[arg-type]
    for step in steps:
        if step == "fail":
            health.record_failure("421 busy")
        elif step == "claim":
            health.claim()
        elif step == "healthy":
            health.mark_healthy()
        else:
            expected = ServerHealth("127.0.0.1:25", OPTIONS)  # type: ignore[arg-type]
            expected.num_sent = health.num_sent + 1
            health.record_success()
            assert _state(health) == _state(expected)


def test_a_server_that_fails_again_is_probed_again() -> None:
    health = ServerHealth("127.0.0.1:25", OPTIONS)  # type: ignore[arg-type]
    for _ in range(2):
        health.record_failure("421 busy")
        health.record_failure("421 busy")
        assert health.state == "half_open"
        assert health.claim()  # the one probe
        assert not health.claim()  # and no second one meanwhile
        health.record_success()
        assert health.state == "active"
