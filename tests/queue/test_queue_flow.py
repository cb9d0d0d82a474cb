"""Queued sending through the HTTP API, on SQLite (embedded worker) and on PostgreSQL
(procrastinate worker in the same process), against real aiosmtpd servers: what the SMTP
server received and what the outbox holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import (
    Queued,
    attempt_rows,
    outbox_rows,
    wait_for,
)
from service_support import SECRET_KEY, SMTP_PASSWORD, loopback_policy
from smtp_servers import Behaviour, ScriptedServer, TestServer, smtp_dialogue

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.store import CLI_ACTOR, MessageRequest, Service


def sink(**behaviour: object) -> TestServer:
    """aiosmtpd accepting the definitions' login (see queue_support.Queued.add_app)."""
    users = {"mailer@example.com": SMTP_PASSWORD}
    return TestServer(behaviour=Behaviour(users=users, **behaviour)).start()  # type: ignore[arg-type]


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    server = sink()
    yield server
    server.stop()


async def test_enqueue_returns_202_then_sent_once(queued: Queued, smtp: TestServer) -> None:
    await queued.add_app(smtp.port)
    response = await queued.send("ana@example.org")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["id"]
    state = await queued.wait_final(body["id"])
    assert state["status"] == "sent", state
    assert state["attempts"] == 1 and state["server"] == f"127.0.0.1:{smtp.port}"
    assert state["messageId"] and state["lastError"] is None
    assert [m.rcpt_tos for m in smtp.messages] == [["ana@example.org"]]
    assert b"482913" in smtp.messages[0].content
    (row,) = await outbox_rows(queued.queue)
    assert row.payload is None  # the code does not linger once the message is final
    assert [a.outcome for a in await attempt_rows(queued.queue, body["id"])] == ["sent"]


async def test_job_payload_carries_the_row_id_only(
    queue_url_postgres: str, smtp: TestServer
) -> None:
    """Job payloads never hold secrets (nor the code): procrastinate's args are row ids.
    (No worker runs here, so the jobs are still in the table to be read.)"""
    import psycopg

    queue = Queue(queue_url_postgres, QueueOptions())
    service = await Service.open(
        queue_url_postgres, SECRET_KEY, sender=queue.sender_factory, policy=loopback_policy()
    )
    await queue.start(worker=False)
    try:
        queued = Queued(service, queue, httpx.AsyncClient(), {})
        await queued.add_app(smtp.port)
        request = MessageRequest(to="ana@example.org", payload={"code": "482913"})
        outcome = await service.messages.send(CLI_ACTOR, queued.app_id, request)
    finally:
        await service.aclose()
    with psycopg.connect(queue_url_postgres) as conn:
        rows = conn.execute("SELECT args, status FROM procrastinate_jobs").fetchall()
    assert [(args, status) for args, status in rows] == [
        ({"message_ids": [outcome.message_id]}, "todo")
    ]
    assert SMTP_PASSWORD not in json.dumps(rows[0][0])


async def test_451_is_retried_then_sent(queued: Queued) -> None:
    # The library tries 3 times within one attempt; the outbox retries after a backoff.
    server = sink(data_replies=["451 4.3.0 try later"] * 3)
    try:
        await queued.add_app(server.port)
        message_id = (await queued.send("bo@example.org")).json()["id"]
        state = await queued.wait_final(message_id)
        assert state["status"] == "sent" and state["attempts"] == 2, state
        assert len(server.messages) == 1
        log = await attempt_rows(queued.queue, message_id)
        assert [(a.outcome, a.smtp_code) for a in log] == [("retry", 451), ("sent", None)]
    finally:
        server.stop()


async def test_550_fails_without_retry(queued: Queued) -> None:
    server = sink(reject_rcpt={"x@example.org": "550 5.1.1 no such user"})
    try:
        await queued.add_app(server.port)
        message_id = (await queued.send("x@example.org")).json()["id"]
        state = await queued.wait_final(message_id)
        assert state["status"] == "failed" and state["attempts"] == 1, state
        error = state["lastError"]
        assert error["code"] == "recipient_rejected" and error["smtpCode"] == 550
        await asyncio.sleep(0.5)  # a retry would have come by now (backoff 0.1-0.2 s)
        assert server.messages == []
        assert [a.outcome for a in await attempt_rows(queued.queue, message_id)] == ["failed"]
    finally:
        server.stop()


async def test_expiry_abandons_rather_than_sending_late(queued: Queued) -> None:
    server = sink(data_replies=["451 4.3.0 busy"] * 1000)
    try:
        await queued.add_app(server.port)
        expires = datetime.now(UTC) + timedelta(seconds=1.5)
        response = await queued.send("late@example.org", expiresAt=expires.isoformat())
        state = await queued.wait_final(response.json()["id"])
        assert state["status"] == "abandoned", state
        # Abandoned by the policy (the next try, after the backoff or the circuit breaker's
        # cooldown, would come too late) or by the expiry sweep while it waited.
        assert state["lastError"]["code"] in ("message_rejected", "all_servers_failed", "timeout")
        assert state["attempts"] >= 1
        assert server.messages == []
        row = (await outbox_rows(queued.queue))[0]
        assert row.payload is None
    finally:
        server.stop()


async def test_expires_at_in_the_past_is_refused(queued: Queued, smtp: TestServer) -> None:
    await queued.add_app(smtp.port)
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    response = await queued.send("a@example.org", expiresAt=past)
    assert response.status_code == 400 and "expiresAt" in response.text


async def test_idempotency_key_returns_the_same_message(queued: Queued, smtp: TestServer) -> None:
    await queued.add_app(smtp.port)
    first = await queued.send("ana@example.org", idempotency_key="signup-42")
    again = await asyncio.gather(
        *(queued.send("ana@example.org", idempotency_key="signup-42") for _ in range(5))
    )
    assert {r.status_code for r in [first, *again]} == {202}
    assert {r.json()["id"] for r in [first, *again]} == {first.json()["id"]}
    await queued.wait_final(first.json()["id"])
    await asyncio.sleep(0.3)
    assert len(smtp.messages) == 1 and len(await outbox_rows(queued.queue)) == 1
    other = await queued.send("ana@example.org", idempotency_key="signup-43")
    assert other.json()["id"] != first.json()["id"]


async def test_lost_reply_after_data_is_not_resent(queued: Queued) -> None:
    """The connection drops after the final dot: the server may hold the message, so the
    row is failed with deliveryUnknown and never retried."""
    received = 0

    async def drop_after_dot(writer: asyncio.StreamWriter) -> None:
        nonlocal received
        received += 1
        writer.close()

    server = await ScriptedServer(
        lambda r, w: smtp_dialogue(r, w, on_data_end=drop_after_dot)
    ).start()
    try:
        await queued.add_app(server.port, username=None, password=None)
        message_id = (await queued.send("c@example.org")).json()["id"]
        state = await queued.wait_final(message_id)
        assert state["status"] == "failed", state
        assert state["lastError"]["stage"] == "after_data"
        assert state["lastError"]["deliveryUnknown"] is True
        await asyncio.sleep(0.5)
        assert received == 1
        assert [a.outcome for a in await attempt_rows(queued.queue, message_id)] == ["unknown"]
    finally:
        await server.stop()


async def test_queue_stats_and_metrics(queued: Queued, smtp: TestServer) -> None:
    await queued.add_app(smtp.port)
    ids = [(await queued.send(f"u{i}@example.org")).json()["id"] for i in range(3)]
    for message_id in ids:
        await queued.wait_final(message_id)
    stats = await wait_for(
        lambda: queued.client.get("/v1/queue", headers=queued.headers),
        lambda r: r.json()["sentLastMinute"] == 3, 5,
    )  # fmt: skip
    body = stats.json()
    assert body["depth"]["sent"] == 3 and body["depth"]["queued"] == 0
    assert body["engine"] in ("embedded", "procrastinate")
    assert (await queued.client.get("/v1/queue")).status_code == 401
    metrics = await queued.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'smtp_connector_queue_messages{status="sent"} 3' in metrics.text
    assert "smtp_connector_queue_sent_last_minute 3" in metrics.text


async def test_a_key_bound_to_another_app_cannot_see_the_message(
    queued: Queued, smtp: TestServer
) -> None:
    from smtp_connector.store import CLI_ACTOR, AppCreate

    await queued.add_app(smtp.port)
    message_id = (await queued.send("ana@example.org")).json()["id"]
    other = await queued.service.apps.create(CLI_ACTOR, AppCreate(name="other"))
    _, raw = await queued.service.keys.create(CLI_ACTOR, ("smtpserver_read",), app=other.id)
    response = await queued.client.get(f"/v1/messages/{message_id}",
                                       headers={"Authorization": f"Bearer {raw}"})  # fmt: skip
    assert response.status_code == 404
