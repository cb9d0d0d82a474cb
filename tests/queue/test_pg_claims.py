"""PostgreSQL's claim of a job's rows as driver SQL that also returns each app's versions
(queue/pg_claims.py): the rows it claims and the claims it returns must be those of the Core
statement it replaces, and the versions those the store holds — None for an app not found."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from sqlalchemy import text
from test_merged_writes import _PER_MESSAGE, new_message, open_queue, rows

from smtp_connector.queue import Queue
from smtp_connector.queue.merging import OneStatement
from smtp_connector.queue.outbox import _CLAIM_IDS, Claim, NewMessage, _claim


async def core_claim(queue: Queue, ids: list[str], worker: str) -> list[Claim]:
    """What `Outbox.claim_ids` ran before: the Core statement."""
    now = time.time()
    params = {"m_now": now, "m_worker": worker, "m_lease": now + 60, "m_ids": ids}

    def op(conn: Any) -> list[Claim]:
        found = conn.execute(_CLAIM_IDS, params).all()
        return sorted((_claim(row, worker) for row in found), key=lambda c: c.id)

    return await queue.db.write(OneStatement(op))


async def set_app(queue: Queue, app_id: str, versions: tuple[int, int]) -> None:
    statement = text(
        "INSERT INTO apps (id, name, definitions_version, templates_version, created, modified) "
        "VALUES (:id, :id, :d, :t, now(), now()) ON CONFLICT (id) DO UPDATE "
        "SET definitions_version = :d, templates_version = :t"
    )
    await queue.db.write(
        lambda conn: conn.execute(statement, {"id": app_id, "d": versions[0], "t": versions[1]})
    )


def fields(claim: Claim) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(claim).items() if k not in {"id", "started"}}


async def test_the_claim_returns_what_the_core_claim_returns_and_the_versions(
    queue_url_postgres: str,
) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        await set_app(queue, "app-1", (4, 9))
        other = dataclasses.replace(new_message(99), app_id="app-gone")  # no such app
        news: list[NewMessage] = [*(new_message(i) for i in range(3)), other]
        old = [(await queue.outbox.enqueue(n))[0] for n in news]
        new = [(await queue.outbox.enqueue(n))[0] for n in news]
        taken_old = await core_claim(queue, old[:3], "worker-x")  # one row already taken
        taken_new = await core_claim(queue, new[:3], "worker-x")
        assert len(taken_old) == len(taken_new) == 3
        await queue.outbox.recover_rows(old[:1] + new[:1])  # back in the queue, attempt 1 done
        by_core = await core_claim(queue, [*old, "missing"], "worker-a")
        by_driver = await queue.outbox.claim_ids([*new, "missing"], "worker-a")
        assert [c.id for c in by_driver] == sorted(new[:1] + new[3:])
        assert [c.id for c in by_core] == sorted(old[:1] + old[3:])
        expected = dict(zip(new, old, strict=True))  # the same message, queued twice
        core_by_id = {c.id: c for c in by_core}
        for claim in by_driver:
            want = fields(core_by_id[expected[claim.id]])
            versions = None if claim.app_id == "app-gone" else (4, 9)
            assert fields(claim) == want | {"versions": versions}
        drop = _PER_MESSAGE | {"lease_until", "payload"}
        assert [{k: v for k, v in r.items() if k not in drop} for r in await rows(queue, old)] == [
            {k: v for k, v in r.items() if k not in drop} for r in await rows(queue, new)
        ]
        await set_app(queue, "app-1", (5, 9))  # a change before the next claim is seen
        again = (await queue.outbox.enqueue(new_message(7)))[0]
        (claim,) = await queue.outbox.claim_ids([again], "worker-a")
        assert claim.versions == (5, 9)
        assert await queue.outbox.claim_ids(new, "worker-b") == []  # a job run twice
    finally:
        await queue.aclose()


_SET_DUE = text("UPDATE outbox_messages SET next_attempt_at = :at, status = :st WHERE id = :id")


async def overdue_group(queue: Queue, waited: list[float]) -> list[str]:
    """Queued rows due `waited` seconds ago; the last one not queued (being sent)."""
    ids = [(await queue.outbox.enqueue(new_message(i)))[0] for i in range(len(waited))]
    now = time.time()
    for row_id, age in zip(ids, waited, strict=True):
        status = "sending" if row_id == ids[-1] else "queued"
        params = {"at": now - age, "st": status, "id": row_id}
        await queue.db.write(lambda conn, p=params: conn.execute(_SET_DUE, p))
    return ids


async def test_the_overdue_claim_takes_what_the_core_claim_takes(queue_url_postgres: str) -> None:
    from smtp_connector.queue.outbox import _CLAIM_OVERDUE

    waited = [10.0, 100.0, 1.0, 50.0, 30.0, 500.0]  # 1 s: not overdue; the last: not queued
    queue = await open_queue(queue_url_postgres)
    try:
        await set_app(queue, "app-1", (2, 3))
        old = await overdue_group(queue, waited)
        now = time.time()
        params = {"m_now": now, "m_worker": "w", "m_lease": now + 60, "m_limit": 3,
                  "m_due": now - 2.0}  # fmt: skip

        def op(conn: Any) -> list[Claim]:
            found = conn.execute(_CLAIM_OVERDUE, params).all()
            return sorted((_claim(row, "w") for row in found), key=lambda c: c.id)

        by_core = await queue.db.write(OneStatement(op))
        await queue.db.write(
            lambda conn: conn.execute(text("UPDATE outbox_messages SET status = 'sent'"))
        )
        new = await overdue_group(queue, waited)
        by_driver = await queue.outbox.claim_overdue("w", 3, 2.0)
        assert sorted(old.index(c.id) for c in by_core) == [1, 3, 4]  # the 3 oldest due
        assert sorted(new.index(c.id) for c in by_driver) == [1, 3, 4]
        core_by_position = {old.index(c.id): c for c in by_core}
        for claim in by_driver:  # the same message queued twice, a moment apart
            want = fields(core_by_position[new.index(claim.id)]) | {"versions": (2, 3)}
            assert fields(claim) | {"expires_at": 0} == want | {"expires_at": 0}
        left = await queue.outbox.claim_overdue("w", 3, 2.0)
        assert [new.index(c.id) for c in left] == [0]  # then the one left overdue
    finally:
        await queue.aclose()
