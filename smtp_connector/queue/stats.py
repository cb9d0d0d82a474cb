"""The queue's state as `GET /v1/queue` and `/metrics` report it: depth by status, the oldest
queued message's age, and the last minute's outcomes.

Monitoring polls these counts (a Prometheus scrape, the admin page, a benchmark every 100 ms),
so each is answered from an index: depth from `ix_outbox_due` (status first), the last minute
from `ix_outbox_attempts_finished` (revision 0010) — never a scan of every attempt ever made.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from .database import QueueDatabase
from .tables import attempts, outbox

STATUSES = ("queued", "sending", "sent", "failed", "abandoned")


def outcomes_since(since: float, app_id: str | None = None) -> Select[Any]:
    """Attempts finished since `since`, counted by outcome (of one app's messages with
    `app_id`): a range scan of `ix_outbox_attempts_finished`, however old the table."""
    recent = (
        select(attempts.c.outcome, func.count())
        .where(attempts.c.finished >= since)
        .group_by(attempts.c.outcome)
    )
    if app_id is None:
        return recent
    joined = recent.join(outbox, outbox.c.id == attempts.c.message_id)
    return joined.where(outbox.c.app_id == app_id)


async def queue_stats(db: QueueDatabase, app_id: str | None = None) -> dict[str, Any]:
    """Depth by status, oldest queued age, sent and failed in the last minute: of one app's
    messages with `app_id`, else of all; one read transaction, so the counts agree."""
    now = time.time()
    by_status = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    oldest = select(func.min(outbox.c.created)).where(outbox.c.status == "queued")
    recent = outcomes_since(now - 60, app_id)
    if app_id is not None:
        by_status = by_status.where(outbox.c.app_id == app_id)
        oldest = oldest.where(outbox.c.app_id == app_id)

    def read(conn: Connection) -> tuple[dict[str, int], Any, dict[str, int]]:
        depth = dict.fromkeys(STATUSES, 0)
        depth |= {row[0]: row[1] for row in conn.execute(by_status).all()}
        minute = {row[0]: row[1] for row in conn.execute(recent).all()}
        return depth, conn.execute(oldest).scalar(), minute

    depth, first, minute = await db.read(read)
    return {
        "depth": depth,
        "oldestQueuedAge": round(now - first, 3) if first is not None else None,
        "sentLastMinute": minute.get("sent", 0),
        "failedLastMinute": sum(minute.get(k, 0) for k in ("failed", "unknown", "abandoned")),
        "retriedLastMinute": minute.get("retry", 0),
    }
