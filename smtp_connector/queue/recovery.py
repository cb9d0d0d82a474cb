"""Settling rows whose attempt died with its worker, and messages whose code expired.

A claimed row whose worker is gone is settled by what the database knows about its attempt:
no mark before DATA → nothing reached the server → queued again; the mark is set → the
server may hold the message → `failed` with `deliveryUnknown`, never resent automatically.
Who is gone: a lease that ran out (any engine), a dead process on this host (seen at a
worker's start), or a procrastinate worker whose heartbeat stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.engine import Connection

from .tables import outbox

STOPPED_BEFORE_DATA = {
    "code": "connection_failed",
    "message": "The worker stopped before the message reached DATA; sending it again.",
    "stage": "connect",
}
UNKNOWN_ERROR = {
    "code": "connection_failed",
    "message": "The worker stopped after handing the message to the server; it may have been "
    "delivered, so it is not sent again automatically (resendAfterLostReply).",
    "stage": "after_data",
    "deliveryUnknown": True,
}
EXPIRED_ERROR = {
    "code": "timeout",
    "message": "Abandoned: expiresAt passed before the message could be delivered.",
}


def local_pid(worker_id: str, host: str) -> int | None:
    """The pid in a worker id `kind@host:pid:suffix` when `host` is ours."""
    _, _, where = worker_id.partition("@")
    parts = where.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return None
    return int(parts[1])


def settle_op(which: Any, now: float) -> Callable[[Connection], dict[str, int]]:
    """Claimed rows matching `which` whose attempt died: requeue those that never reached
    DATA, fail ("delivery unknown") those that did."""
    claimed = and_(outbox.c.status == "sending", which)
    requeue = update(outbox).where(claimed, outbox.c.data_at.is_(None)).values(
        status="queued", worker_id=None, lease_until=None, next_attempt_at=now, updated=now,
        last_error=STOPPED_BEFORE_DATA,
    )  # fmt: skip
    unknown = update(outbox).where(claimed, outbox.c.data_at.is_not(None)).values(
        status="failed", worker_id=None, lease_until=None, finished=now, updated=now,
        payload=None, last_error=UNKNOWN_ERROR,
    )  # fmt: skip

    def op(conn: Connection) -> dict[str, int]:
        return {
            "requeued": conn.execute(requeue).rowcount,
            "unknown": conn.execute(unknown).rowcount,
        }

    return op


def recover_op(now: float) -> Callable[[Connection], dict[str, int]]:
    """Claims whose lease ran out are settled; queued rows past `expiresAt` are abandoned."""
    settle = settle_op(outbox.c.lease_until < now, now)
    expired = (
        update(outbox)
        .where(outbox.c.status == "queued", outbox.c.expires_at <= now)
        .values(
            status="abandoned", finished=now, updated=now, payload=None, last_error=EXPIRED_ERROR
        )
    )

    def op(conn: Connection) -> dict[str, int]:
        return settle(conn) | {"abandoned": conn.execute(expired).rowcount}

    return op
