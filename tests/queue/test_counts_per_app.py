"""Finding 18 (counts), on SQLite and PostgreSQL: `GET /v1/queue` for a key bound to an app
counts that app's messages and attempts only (the last-minute counts join the attempts to
their messages); tests/security/test_queue_counts.py runs the real `serve`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import Queued, wait_for
from service_support import SMTP_PASSWORD
from smtp_servers import Behaviour, TestServer

from smtp_connector.store import CLI_ACTOR


@pytest.fixture
def sinks() -> Iterator[list[TestServer]]:
    users = {"mailer@example.com": SMTP_PASSWORD}
    servers = [TestServer(behaviour=Behaviour(users=users)).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


async def test_counts_per_app(queued: Queued, sinks: list[TestServer]) -> None:
    sent: dict[str, list[str]] = {}
    for count, smtp in zip((3, 1), sinks, strict=True):
        app_id = await queued.add_app(smtp.port)
        sent[app_id] = [(await queued.send(f"u{n}@example.org")).json()["id"] for n in range(count)]
        for message_id in sent[app_id]:
            await queued.wait_final(message_id)
    first, second = sent
    _, raw = await queued.service.keys.create(CLI_ACTOR, ("smtpserver_read",), app=second)
    bound = {"Authorization": f"Bearer {raw}"}

    own = await wait_for(
        lambda: queued.client.get("/v1/queue", headers=bound),
        lambda r: r.json()["sentLastMinute"] == 1, 5,
    )  # fmt: skip
    assert own.json()["depth"]["sent"] == 1 and own.json()["appId"] == second
    named = await queued.client.get("/v1/queue", params={"appId": first}, headers=queued.headers)
    assert named.json()["depth"]["sent"] == 3 and named.json()["sentLastMinute"] == 3
    everyone = await queued.client.get("/v1/queue", headers=queued.headers)
    assert everyone.json()["depth"]["sent"] == 4 and everyone.json()["sentLastMinute"] == 4
    other = await queued.client.get("/v1/queue", params={"appId": first}, headers=bound)
    assert other.status_code == 403
    too_long = await queued.client.get("/v1/queue", params={"appId": "x" * 65}, headers=bound)
    assert too_long.status_code == 422
