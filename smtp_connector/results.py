"""What a send and a verify return: enough for the caller to log, audit and reconcile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    """One step of opening a session and how long it took (for `verify` output)."""

    name: str
    seconds: float
    detail: str = ""


@dataclass
class AttemptRecord:
    """One delivery attempt, successful or not (the per-attempt log of `SendResult`)."""

    server: str
    ok: bool
    seconds: float
    error_code: str | None = None
    smtp_code: int | None = None
    message: str | None = None


_new = object.__new__


def succeeded_attempt(server: str, seconds: float, smtp_code: int | None) -> AttemptRecord:
    """`AttemptRecord(server, True, seconds, smtp_code=smtp_code)`, the record of a try that
    delivered (one a message), without the dataclass's `__init__`: calling a class runs it
    through `slot_tp_init`, ~650 instructions more than these stores. The same fields, in
    `__init__`'s order; so `SendResult`s built the same way in delivery/failover.py
    (tests/delivery/test_plain_builds.py)."""
    record = _new(AttemptRecord)
    record.server, record.ok, record.seconds = server, True, seconds
    record.error_code, record.smtp_code, record.message = None, smtp_code, None
    return record


@dataclass
class SendResult:
    """A delivered message.

    `server` is the `host:port` that accepted it, `attempts` counts tries (1 = first try),
    `rejected` maps recipients the server refused to (code, text) when others were accepted.
    """

    message_id: str
    accepted: list[str]
    server: str
    response: str
    attempts: int = 1
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    smtp_code: int | None = 250
    pipelined: bool = False
    attempt_log: list[AttemptRecord] = field(default_factory=list)
    usage_type: str | None = None
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "accepted": self.accepted,
            "rejected": {k: list(v) for k, v in self.rejected.items()},
            "server": self.server,
            "response": self.response,
            "attempts": self.attempts,
            "smtp_code": self.smtp_code,
            "usage_type": self.usage_type,
            "duration": round(self.duration, 6),
        }
