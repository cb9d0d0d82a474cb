"""PostgreSQL's non-durable batches of one-statement ops (claims, merged "sent"
completions) run without BEGIN and COMMIT, each op its own transaction (queue/database.py
`_each_alone`). They must write exactly what the same batch writes in one transaction, give
each caller its own answer in its own place — a row taken over mid-batch refused alone, a
failing op failing only its callers — and a job run twice must find nothing to do."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text
from test_merged_writes import (
    _PER_MESSAGE,
    claimed,
    finish_op,
    log_lines,
    new_message,
    open_queue,
    rows,
    sent,
    shape,
)

from smtp_connector.queue import Queue
from smtp_connector.queue.database import pg_transaction
from smtp_connector.queue.merging import OneStatement, independent, merge
from smtp_connector.queue.outbox import _CLAIM_IDS, Claim, Finish, _claim


def claim_op(ids: list[str], worker: str) -> OneStatement:
    """What `Outbox.claim_ids` hands the committer."""
    now = time.time()
    params = {"m_now": now, "m_worker": worker, "m_lease": now + 60, "m_ids": ids}

    def op(conn: Any) -> list[Claim]:
        found = conn.execute(_CLAIM_IDS, params).all()
        return sorted((_claim(row, worker) for row in found), key=lambda c: c.id)

    return OneStatement(op)


def failing_op() -> OneStatement:
    """One statement that fails on the server (a division by zero)."""
    return OneStatement(lambda conn: conn.execute(text("SELECT 1 / 0")).scalar())


async def batch(queue: Queue, ops: list[Any]) -> list[tuple[bool, Any]]:
    """The batch as the group commit hands it to PostgreSQL (not durable)."""
    return await queue.db._postgres_batch([(op, False) for op in ops], False)


async def in_one_transaction(queue: Queue, ops: list[Any]) -> list[tuple[bool, Any]]:
    """The same batch in one shared transaction (what ran before)."""
    from smtp_connector.queue.batching import transaction
    from smtp_connector.queue.merging import spread

    runnable, places = merge([(op, False) for op in ops])
    async with pg_transaction(queue.db.engine) as conn:
        return spread(runnable, places, await conn.run_sync(transaction, runnable))


def test_only_batches_of_one_statement_ops_run_without_a_transaction() -> None:
    claim = Claim("r1", "a", (), "x@example.org", "SignIn", {}, None, 1, 5, 0.0, "w")
    other = Claim("r2", "a", (), "y@example.org", "SignIn", {}, None, 1, 5, 0.0, "w")
    ends = [(finish_op(claim, sent(1)), False), (finish_op(other, sent(2)), False)]
    assert independent(merge([*ends, (claim_op(["r3"], "w"), False)])[0])
    retry = finish_op(claim, Finish("queued", "retry", next_attempt_at=time.time() + 5))
    assert not independent(merge([(retry, False), (claim_op(["r3"], "w"), False)])[0])
    assert not independent([(claim_op(["r3"], "w"), True)])  # a savepoint: a transaction


async def test_a_batch_without_a_transaction_writes_what_one_transaction_writes(
    queue_url_postgres: str,
) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        before, after = await claimed(queue, 3), await claimed(queue, 3)
        queued_a = [(await queue.outbox.enqueue(new_message(10 + i)))[0] for i in range(2)]
        queued_b = [(await queue.outbox.enqueue(new_message(20 + i)))[0] for i in range(2)]
        for claims in (before, after):
            for claim in claims:
                await queue.outbox.mark_data(claim)
        old = await in_one_transaction(
            queue, [*(finish_op(c, sent(i)) for i, c in enumerate(before)),
                    claim_op(queued_a, "worker-b")])  # fmt: skip
        new = await batch(
            queue, [*(finish_op(c, sent(i)) for i, c in enumerate(after)),
                    claim_op(queued_b, "worker-b")])  # fmt: skip
        assert [ok for ok, _ in new] == [ok for ok, _ in old] == [True] * 4
        assert [v for _, v in new[:3]] == [v for _, v in old[:3]] == [True] * 3
        assert sorted(c.id for c in new[3][1]) == sorted(queued_b)
        assert [c.attempt for c in new[3][1]] == [c.attempt for c in old[3][1]] == [1, 1]
        drop_row = _PER_MESSAGE | {"lease_until", "payload"}  # the codes differ, of course
        for one, other in (([c.id for c in before], [c.id for c in after]), (queued_a, queued_b)):
            assert [shape(r, drop_row) for r in await rows(queue, one)] == [
                shape(r, drop_row) for r in await rows(queue, other)
            ]
        drop = {"id", "message_id", "started", "finished"}
        assert [shape(r, drop) for r in await log_lines(queue, [c.id for c in after])] == [
            shape(r, drop) for r in await log_lines(queue, [c.id for c in before])
        ]
    finally:
        await queue.aclose()


async def test_each_caller_gets_its_own_answer_and_a_failure_stays_its_own(
    queue_url_postgres: str,
) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 3)
        for claim in claims:
            await queue.outbox.mark_data(claim)
        stale = Claim(**{**claims[1].__dict__, "attempt": 7})  # taken over: not its attempt
        waiting = [(await queue.outbox.enqueue(new_message(30 + i)))[0] for i in range(2)]
        ops = [finish_op(claims[0], sent(0)), failing_op(), finish_op(stale, sent(1)),
               claim_op(waiting, "worker-b"), finish_op(claims[2], sent(2))]  # fmt: skip
        outcomes = await batch(queue, ops)
        assert [ok for ok, _ in outcomes] == [True, False, True, True, True]
        assert "division by zero" in str(outcomes[1][1])
        assert [outcomes[i][1] for i in (0, 2, 4)] == [True, False, True]
        assert sorted(c.id for c in outcomes[3][1]) == sorted(waiting)
        states = [r["status"] for r in await rows(queue, [c.id for c in claims])]
        assert states == ["sent", "sending", "sent"]
        assert len(await log_lines(queue, [c.id for c in claims])) == 2
        # The same job again: nothing left to claim, completions replayed change nothing.
        replayed = [claims[0], stale, claims[2]]
        ends = [finish_op(c, sent(i)) for i, c in enumerate(replayed)]
        again = await batch(queue, [claim_op(waiting, "worker-c"), *ends])
        assert again == [(True, []), (True, False), (True, False), (True, False)]
        assert len(await log_lines(queue, [c.id for c in claims])) == 2
    finally:
        await queue.aclose()


async def test_a_failed_merged_statement_is_retried_op_by_op(queue_url_postgres: str) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 3)
        for claim in claims:
            await queue.outbox.mark_data(claim)
        # An attempt number no int column holds: the merged statement's int[] fails on it.
        broken = Claim(**{**claims[1].__dict__, "attempt": 2**40})
        waiting = [(await queue.outbox.enqueue(new_message(40)))[0]]
        ends = [finish_op(c, sent(i)) for i, c in enumerate([claims[0], broken, claims[2]])]
        outcomes = await batch(queue, [*ends, claim_op(waiting, "worker-b")])
        assert [ok for ok, _ in outcomes] == [True, False, True, True]
        assert [outcomes[i][1] for i in (0, 2)] == [True, True]
        assert [c.id for c in outcomes[3][1]] == waiting
        states = [r["status"] for r in await rows(queue, [c.id for c in claims])]
        assert states == ["sent", "sending", "sent"]
    finally:
        await queue.aclose()


async def test_sessions_are_in_autocommit_and_a_transaction_is_one(
    queue_url_postgres: str,
) -> None:
    """The queue's sessions stay in autocommit (no switch per batch); `pg_transaction` still
    opens a real transaction on them: a failure inside it leaves nothing written, and its
    statements share one transaction id."""
    queue = await open_queue(queue_url_postgres)
    waiting = [(await queue.outbox.enqueue(new_message(50)))[0]]
    try:
        for engine in (queue.db.engine, queue.db._durable_engine):
            async with engine.connect() as conn:
                txids = [(await conn.execute(text("SELECT txid_current()"))).scalar()
                         for _ in range(2)]  # fmt: skip
                assert txids[0] != txids[1]  # each statement its own transaction
        try:
            async with pg_transaction(queue.db.engine) as conn:
                txids = [(await conn.execute(text("SELECT txid_current()"))).scalar()
                         for _ in range(2)]  # fmt: skip
                await conn.run_sync(claim_op(waiting, "worker-b"))
                raise RuntimeError("after the claim")
        except RuntimeError:
            pass
        assert txids[0] == txids[1]
        assert [r["status"] for r in await rows(queue, waiting)] == ["queued"]
    finally:
        await queue.aclose()
