"""`Idempotency-Key` across the two ways a send goes, on SQLite and PostgreSQL: a key is one
request for the app whether its definition sends directly or queues, also when an admin
switches `enqueue` between the first request and its repeat; a queued repeat answers the
message's current state; the outbox keeps the request's fingerprint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import Queued, outbox_rows
from service_support import SMTP_PASSWORD
from smtp_servers import Behaviour, TestServer


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    server = TestServer(behaviour=Behaviour(users={"mailer@example.com": SMTP_PASSWORD})).start()
    yield server
    server.stop()


async def switch_enqueue(queued: Queued, on: bool) -> None:
    servers = f"/v1/apps/{queued.app_id}/servers"
    (first,) = (await queued.client.get(servers, headers=queued.headers)).json()
    patched = await queued.client.patch(f"{servers}/{first['id']}", json={"enqueue": on},
                                        headers=queued.headers)  # fmt: skip
    assert patched.status_code == 200, patched.text


async def test_a_direct_answer_is_replayed_after_enqueue_is_switched_on(
    queued: Queued, smtp: TestServer
) -> None:
    await queued.add_app(smtp.port, enqueue=False)
    first = await queued.send("ana@example.org", idempotency_key="k-1")
    assert first.status_code == 200 and first.json()["status"] == "sent"
    await switch_enqueue(queued, True)
    again = await queued.send("ana@example.org", idempotency_key="k-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await queued.send("bo@example.org", idempotency_key="k-1")
    assert other.status_code == 422
    assert len(smtp.messages) == 1 and await outbox_rows(queued.queue) == []


async def test_a_queued_message_is_replayed_after_enqueue_is_switched_off(
    queued: Queued, smtp: TestServer
) -> None:
    await queued.add_app(smtp.port)
    first = await queued.send("ana@example.org", idempotency_key="k-2")
    assert first.status_code == 202
    state = await queued.wait_final(first.json()["id"])
    (row,) = await outbox_rows(queued.queue)
    assert row.request_hash and len(row.request_hash) == 64
    await switch_enqueue(queued, False)
    again = await queued.send("ana@example.org", idempotency_key="k-2")
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == state  # the message as GET /v1/messages/{id} shows it now
    other = await queued.send("ana@example.org", idempotency_key="k-2", locale="de")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(smtp.messages) == 1


async def test_a_queued_repeat_with_another_body_is_refused(
    queued: Queued, smtp: TestServer
) -> None:
    await queued.add_app(smtp.port)
    first = await queued.send("ana@example.org", idempotency_key="k-3")
    refused = await queued.send("eve@example.org", idempotency_key="k-3")
    assert refused.status_code == 422, refused.text
    await queued.wait_final(first.json()["id"])
    assert [m.rcpt_tos for m in smtp.messages] == [["ana@example.org"]]
