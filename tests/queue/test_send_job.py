"""`MessageService.send` makes one `SendJob` per request, with the definitions a queued job
keeps, and holds the app's connector only while the request uses it (store/messages.py
`_Lease`, issue 26 §1): the queued row names the app's definition, and every kind of
request (queued, delivered, refused by the edge check) lets the connector go, so a retired
one closes instead of staying open for a lease never ended."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from queue_support import Queued, outbox_rows, wait_for
from service_support import SMTP_PASSWORD
from smtp_servers import Behaviour, TestServer

from smtp_connector import ConnectorError
from smtp_connector.store import CLI_ACTOR, MessageRequest


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    server = TestServer(behaviour=Behaviour(users={"mailer@example.com": SMTP_PASSWORD})).start()
    yield server
    server.stop()


async def _leases(queued: Queued) -> int:
    """The leases held on the app's connector now (entering one here counts as one)."""

    async def no_build(_: object) -> object:
        raise AssertionError("the connector was built by the sends before")

    connectors = queued.service.connectors
    live = await connectors.acquire(queued.app_id, 0, no_build)  # type: ignore[arg-type]
    try:
        return live.users - 1
    finally:
        connectors.release(live)


def _request(to: str, usage_type: str = "SignIn") -> MessageRequest:
    return MessageRequest(to=to, usage_type=usage_type, payload={"code": "123456"})


async def test_a_queued_send_keeps_its_definitions_and_lets_the_connector_go(
    queued: Queued, smtp: TestServer
) -> None:
    await queued.add_app(smtp.port)
    (definition,) = await queued.service.definitions.list(CLI_ACTOR, queued.app_id)
    send = queued.service.messages.send
    outcome = await send(CLI_ACTOR, queued.app_id, _request("a@example.org"))
    assert outcome.status == "queued"
    (row,) = await outbox_rows(queued.queue)
    assert list(row.definition_ids) == [definition.id]
    # Counted once the worker is done: its delivery holds a lease of its own meanwhile.
    await wait_for(lambda: outbox_rows(queued.queue), lambda r: r[0].status == "sent", 20)
    assert await _leases(queued) == 0  # the request and the worker's delivery let it go
    with pytest.raises(ConnectorError):  # refused by the edge check: a misspelt usage type
        await send(CLI_ACTOR, queued.app_id, _request("b@example.org", "Regsiter"))
    assert await _leases(queued) == 0


async def test_a_direct_send_delivers_and_lets_the_connector_go(
    queued: Queued, smtp: TestServer
) -> None:
    await queued.add_app(smtp.port, enqueue=False)
    send = queued.service.messages.send
    outcome = await send(CLI_ACTOR, queued.app_id, _request("a@example.org"))
    assert outcome.status == "sent" and len(smtp.messages) == 1
    assert await _leases(queued) == 0
    assert await outbox_rows(queued.queue) == []


async def test_a_warm_lease_counts_until_it_ends(queued: Queued, smtp: TestServer) -> None:
    """A send that finds its connector built takes it without a coroutine
    (`ConnectorCache.take_built`); it still holds it as a user until the lease ends, so a
    change retiring the connector meanwhile cannot close it under the send."""
    await queued.add_app(smtp.port)
    messages = queued.service.messages
    await messages.send(CLI_ACTOR, queued.app_id, _request("a@example.org"))  # builds it
    versions = queued.service.connectors.known_version(queued.app_id)
    assert versions is not None
    async with messages._lease(queued.app_id, versions), messages._lease(queued.app_id, versions):
        assert await _leases(queued) == 2
    assert await _leases(queued) == 0
