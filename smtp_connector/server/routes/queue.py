"""`GET /v1/queue` (the outbox at a glance, JSON) and `GET /metrics` (the same, Prometheus).

`/metrics` needs no key, like `/healthz`: it shows counts only (no address, no code, no
secret), and Prometheus scrapes it without credentials by default; put serve behind your
proxy's rules if it listens beyond localhost.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from smtp_connector.queue import Queue
from smtp_connector.store import Actor

from ..deps import Reader
from ..errors import NATIVE_ERRORS, ApiFailure, Failure

router = APIRouter(tags=["queue"])


class QueueState(BaseModel):
    engine: str
    appId: str | None = None
    depth: dict[str, int]
    oldestQueuedAge: float | None
    sentLastMinute: int
    failedLastMinute: int
    retriedLastMinute: int


def _queue(request: Request) -> Queue:
    queue: Queue | None = getattr(request.app.state, "queue", None)
    if queue is None:
        raise ApiFailure(Failure(404, "not_found", "This service runs without a queue."))
    return queue


async def _stats(request: Request, app_id: str | None = None) -> dict[str, Any]:
    queue = _queue(request)
    return {"engine": queue.engine, "appId": app_id, **await queue.outbox.stats(app_id)}


def counted_app(actor: Actor, app_id: str | None) -> str | None:
    """Whose messages a key may count: a key bound to an app only its own (another app's
    traffic is that tenant's business), an operator's key all of them or the one it names."""
    if actor.app_id is None:
        return app_id
    if app_id is not None and app_id != actor.app_id:
        message = f"This API key is limited to another app, not {app_id!r}."
        raise ApiFailure(Failure(403, "forbidden", message))
    return actor.app_id


@router.get("/v1/queue", response_model=QueueState, responses=NATIVE_ERRORS)
async def queue_state(
    request: Request,
    actor: Reader,
    app_id: Annotated[
        str | None,
        Query(
            alias="appId",
            max_length=64,
            description="count this app's messages only (a key bound to an app always "
            "counts its own)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Messages by status, the oldest queued message's age (s), outcomes in the last minute;
    `appId` says whose (null: every app's)."""
    return await _stats(request, counted_app(actor, app_id))


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=True)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition of the queue's state."""
    return PlainTextResponse(prometheus_text(await _stats(request)),
                             media_type="text/plain; version=0.0.4")  # fmt: skip


def prometheus_text(stats: dict[str, Any]) -> str:
    lines = [
        "# HELP smtp_connector_queue_messages Outbox messages by status.",
        "# TYPE smtp_connector_queue_messages gauge",
    ]
    for status, count in sorted(stats["depth"].items()):
        lines.append(f'smtp_connector_queue_messages{{status="{status}"}} {count}')
    age = stats["oldestQueuedAge"]
    lines += [
        "# HELP smtp_connector_queue_oldest_queued_seconds Age of the oldest queued message.",
        "# TYPE smtp_connector_queue_oldest_queued_seconds gauge",
        f"smtp_connector_queue_oldest_queued_seconds {age if age is not None else 0}",
    ]
    for name, key, text in (
        ("sent", "sentLastMinute", "Messages sent in the last minute."),
        ("failed", "failedLastMinute", "Messages failed or abandoned in the last minute."),
        ("retried", "retriedLastMinute", "Attempts that will be retried, last minute."),
    ):
        metric = f"smtp_connector_queue_{name}_last_minute"
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge", f"{metric} {stats[key]}"]
    return "\n".join(lines) + "\n"
