"""A stored Idempotency-Key's answer by what the row holds: another request's key is refused, a
first request still in flight is 409 until its lease ends, after which the answer is "delivery
unknown" (its process died mid-send), and a finished one is replayed. On SQLite and
PostgreSQL, against the rows the store really holds (the lease is moved by rewriting `created`,
as an old row would have it)."""

from __future__ import annotations

import time

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from sqlalchemy import update

from smtp_connector.store import Service
from smtp_connector.store.errors import ServiceError
from smtp_connector.store.idempotency import IN_FLIGHT_LEASE, LOST_FIRST, IdempotencyLog
from smtp_connector.store.schema import idempotent_sends


async def _age(service: Service, key: str, seconds: float) -> None:
    """The key's row as if claimed `seconds` ago."""
    async with service.database.engine.begin() as connection:
        sends = idempotent_sends.c
        statement = update(idempotent_sends).where(sends.idempotency_key == key)
        await connection.execute(statement.values(created=time.time() - seconds))


async def test_a_first_request_in_flight_is_busy_until_its_lease_ends(service: Service) -> None:
    log = IdempotencyLog(service.database)
    assert await log.claim("app-1", "k", "hash-a") is None  # the first request holds the key
    with pytest.raises(ServiceError) as busy:
        await log.claim("app-1", "k", "hash-a")
    assert busy.value.label == "idempotency_key_in_use" and busy.value.reason == "conflict"
    await _age(service, "k", IN_FLIGHT_LEASE - 30)  # a slow send, not yet given up
    with pytest.raises(ServiceError):
        await log.claim("app-1", "k", "hash-a")
    await _age(service, "k", IN_FLIGHT_LEASE + 30)  # its process died mid-send
    lost = await log.claim("app-1", "k", "hash-a")
    assert lost is not None and lost.replayed and lost.status == "delivery_unknown"
    assert lost.answer == {"status": "delivery_unknown", "message": LOST_FIRST}
    assert await log.find("app-1", "k", "hash-a") == lost  # the queued side's look agrees


async def test_another_request_with_the_key_is_refused_whatever_its_state(
    service: Service,
) -> None:
    log = IdempotencyLog(service.database)
    assert await log.claim("app-1", "k", "hash-a") is None
    for age in (0.0, IN_FLIGHT_LEASE + 30):
        await _age(service, "k", age)
        with pytest.raises(ServiceError) as refused:
            await log.claim("app-1", "k", "hash-b")
        assert refused.value.label == "idempotency_key_reused"
    await log.complete("app-1", "k", {"status": "sent", "messageId": "<m@x>"})
    with pytest.raises(ServiceError) as refused:
        await log.claim("app-1", "k", "hash-b")
    assert refused.value.label == "idempotency_key_reused"


async def test_a_finished_request_is_replayed_at_any_age(service: Service) -> None:
    log = IdempotencyLog(service.database)
    assert await log.claim("app-1", "k", "hash-a") is None
    answer = {"status": "sent", "messageId": "<m@x>"}
    await log.complete("app-1", "k", answer)
    for age in (0.0, IN_FLIGHT_LEASE + 30):
        await _age(service, "k", age)
        replayed = await log.claim("app-1", "k", "hash-a")
        assert replayed is not None and replayed.replayed
        assert replayed.status == "sent" and replayed.answer == answer
    assert await log.claim("app-2", "k", "hash-b") is None  # keys are per app
