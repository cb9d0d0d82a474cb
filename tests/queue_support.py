"""Helpers for the queue tests (`import queue_support`): a PostgreSQL database with the
outbox and procrastinate's tables, a queue opened around a Service, and reading the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from service_support import SECRET_KEY, SMTP_PASSWORD, loopback_policy
from sqlalchemy import create_engine, select

from smtp_connector.queue import Queue, QueueOptions, RetryPolicy
from smtp_connector.queue.database import QueueDatabase
from smtp_connector.queue.sqlite_outbox import SqliteOutbox
from smtp_connector.queue.tables import attempts, metadata, outbox
from smtp_connector.store import CLI_ACTOR, SCOPES, AppCreate, DefinitionCreate, Service

FAST_POLICY = RetryPolicy(initial_delay=0.2, max_delay=1.0, lease=10.0)
PROCRASTINATE_TABLES = (
    "procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, procrastinate_workers"
)


async def prepare_queue_schema(url: str) -> None:
    """procrastinate's tables beside the store's (what `db upgrade` does on PostgreSQL)."""
    queue = Queue(url, QueueOptions(engine="procrastinate"))
    try:
        assert queue.distributed is not None
        await queue.distributed.apply_schema()
    finally:
        await queue.aclose()


def truncate_queue(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE audit_log, api_keys, server_definitions, apps, outbox_messages, "
            f"outbox_attempts, idempotent_sends, {PROCRASTINATE_TABLES} CASCADE"
        )


@dataclass
class Queued:
    """A Service whose sender is the queue, its worker running, and an HTTP client."""

    service: Service
    queue: Queue
    client: httpx.AsyncClient
    headers: dict[str, str]
    app_id: str = ""

    async def add_app(self, port: int, **fields: Any) -> str:
        app = await self.service.apps.create(CLI_ACTOR, AppCreate(name=f"app-{port}"))
        values: dict[str, Any] = {
            "host": "127.0.0.1", "port": port, "security": "none",
            "username": "mailer@example.com", "password": SMTP_PASSWORD,
            "from_email": "noreply@example.com", "timeout": 5, "enqueue": True,
        }  # fmt: skip
        definition = DefinitionCreate(**(values | fields))
        await self.service.definitions.create(CLI_ACTOR, app.id, definition)
        self.app_id = app.id
        return app.id

    async def send(self, to: str, **extra: Any) -> httpx.Response:
        headers = dict(self.headers)
        if "idempotency_key" in extra:
            headers["Idempotency-Key"] = extra.pop("idempotency_key")
        body = {"to": to, "usageType": "SignIn", "payload": {"code": "482913"}} | extra
        return await self.client.post(f"/v1/apps/{self.app_id}/messages", json=body,
                                      headers=headers)  # fmt: skip

    async def state(self, message_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/messages/{message_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_final(self, message_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return await wait_for(lambda: self.state(message_id), _final, timeout)


def _final(state: dict[str, Any]) -> bool:
    return state["status"] in ("sent", "failed", "abandoned")


async def wait_for(
    get: Callable[[], Any], done: Callable[[Any], bool], timeout: float, step: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        await asyncio.sleep(step)


async def open_queued(url: str, *, concurrency: int = 4, engine: str = "auto") -> Queued:
    from smtp_connector.server import Settings, create_app

    options = QueueOptions(engine=engine, concurrency=concurrency, policy=FAST_POLICY,  # type: ignore[arg-type]
                           poll=0.2, sweep=1.0)  # fmt: skip
    queue = Queue(url, options)
    service = await Service.open(
        url, SECRET_KEY, migrate=True, sender=queue.sender_factory, policy=loopback_policy()
    )
    await queue.start(worker=True)
    _, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    app = create_app(Settings(), service=service)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")
    return Queued(service, queue, client, {"Authorization": f"Bearer {raw}"})


async def close_queued(queued: Queued) -> None:
    await queued.client.aclose()
    await queued.service.aclose()


async def outbox_rows(queue: Queue) -> list[Any]:
    return await queue.db.read(lambda conn: list(conn.execute(select(outbox)).all()))


async def attempt_rows(queue: Queue, message_id: str) -> list[Any]:
    query = select(attempts).where(attempts.c.message_id == message_id).order_by(attempts.c.id)
    return await queue.db.read(lambda conn: list(conn.execute(query).all()))


def sqlite_outbox_in(folder: Path) -> SqliteOutbox:
    """A SQLite outbox in a new database file under `folder`, its tables created (the
    tests that drive the outbox or the embedded worker directly, without a `Queue`)."""
    url = f"sqlite:///{folder / 'q.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return SqliteOutbox(QueueDatabase(url), lease=60.0)
