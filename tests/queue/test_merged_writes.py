"""PostgreSQL's merged writes (queue/merging.py): the marks before DATA and the "sent"
completions of one shared transaction run as one statement each, and must leave exactly the
rows that running them one by one leaves — also when a row in the middle of the batch is no
longer its claim's (only that one is refused) — and a job that runs again finds nothing to do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from queue_support import FAST_POLICY
from sqlalchemy import select

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.queue.database import pg_transaction
from smtp_connector.queue.merging import (
    FinishAttempt,
    MarkData,
    OneStatement,
    alone,
    merge,
    merged_transaction,
)
from smtp_connector.queue.outbox import Claim, Finish, LeaseLost, NewMessage
from smtp_connector.queue.tables import attempts, outbox

# Columns that differ between any two messages whatever path wrote them.
_PER_MESSAGE = {
    "id", "recipient", "created", "updated", "next_attempt_at", "data_at", "finished",
    "expires_at", "message_id",
}  # fmt: skip


def new_message(i: int) -> NewMessage:
    return NewMessage(
        app_id="app-1", definition_ids=("def-1",), recipient=f"user{i}@example.org",
        usage_type="SignIn", payload={"code": f"{i:06d}"}, locale=None, max_attempts=5,
        expires_at=time.time() + 600,
    )  # fmt: skip


def sent(i: int) -> Finish:
    return Finish("sent", "sent", message_id=f"<m{i}@example.org>", server="127.0.0.1:25",
                  definition_id="def-1")  # fmt: skip


async def open_queue(url: str) -> Queue:
    return Queue(url, QueueOptions(engine="embedded", policy=FAST_POLICY))


async def claimed(queue: Queue, count: int) -> list[Claim]:
    ids = [(await queue.outbox.enqueue(new_message(i)))[0] for i in range(count)]
    claims = await queue.outbox.claim_ids(ids, "worker-a")
    assert len(claims) == count
    return sorted(claims, key=lambda c: ids.index(c.id))


async def rows(queue: Queue, ids: list[str]) -> list[dict[str, Any]]:
    def read(conn: Any) -> list[dict[str, Any]]:
        # SQL NULL and JSON null read back alike: ask the database which one it holds.
        nulls = (outbox.c.payload.is_(None).label("payload_is_sql_null"),
                 outbox.c.last_error.is_(None).label("last_error_is_sql_null"))  # fmt: skip
        query = select(outbox, *nulls).where(outbox.c.id.in_(ids))
        found = conn.execute(query).mappings().all()
        by_id = {row["id"]: dict(row) for row in found}
        return [by_id[i] for i in ids]

    return await queue.db.read(read)


async def log_lines(queue: Queue, ids: list[str]) -> list[dict[str, Any]]:
    def read(conn: Any) -> list[dict[str, Any]]:
        query = select(attempts).where(attempts.c.message_id.in_(ids))
        found = [dict(row) for row in conn.execute(query).mappings().all()]
        return sorted(found, key=lambda row: ids.index(row["message_id"]))

    return await queue.db.read(read)


def shape(row: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in drop}


async def run_merged(queue: Queue, ops: list[Any], *, durable: bool = False) -> list[Any]:
    """One PostgreSQL transaction of these ops, merged as a worker's batch is."""
    engine = queue.db._durable_engine if durable else queue.db.engine
    async with pg_transaction(engine) as conn:
        outcomes = await conn.run_sync(merged_transaction, [(op, False) for op in ops])
    assert all(ok for ok, _ in outcomes), outcomes
    return [value for _, value in outcomes]


async def run_alone(queue: Queue, op: Any, *, durable: bool = False) -> Any:
    """The op's own statements (what SQLite runs) in a transaction of its own."""
    engine = queue.db._durable_engine if durable else queue.db.engine
    async with pg_transaction(engine) as conn:
        return await conn.run_sync(op)


def mark_op(claim: Claim) -> MarkData:
    from smtp_connector.queue.outbox import _MARK_DATA, _mine

    return MarkData(_MARK_DATA, _mine(claim) | {"m_now": time.time()})


def finish_op(claim: Claim, end: Finish) -> FinishAttempt:
    from smtp_connector.queue.outbox import _FINISH, _INSERT_ATTEMPT, _mine

    now = time.time()
    params = _mine(claim) | {
        "v_status": end.status, "v_now": now, "v_last_error": end.last_error,
        "v_next": end.next_attempt_at, "v_message_id": end.message_id,
        "v_server": end.server, "v_definition_id": end.definition_id,
    }  # fmt: skip
    log = {
        "message_id": claim.id, "attempt": claim.attempt, "worker_id": claim.worker_id,
        "started": claim.started, "finished": now, "outcome": end.outcome, "error_code": None,
        "smtp_code": None, "server": end.server, "detail": None,
    }  # fmt: skip
    return FinishAttempt(_FINISH[end.status], params, log, _INSERT_ATTEMPT)


def test_only_distinct_rows_of_one_kind_merge() -> None:
    claim = Claim("r1", "a", (), "x@example.org", "SignIn", {}, None, 1, 5, 0.0, "w")
    other = Claim("r2", "a", (), "y@example.org", "SignIn", {}, None, 1, 5, 0.0, "w")
    one, two, again = mark_op(claim), mark_op(other), mark_op(claim)
    merged, places = merge([(one, False), (two, False)])
    assert len(merged) == 1 and places == [[0, 1]] and alone(merged)
    merged, places = merge([(one, False), (again, False)])  # the same row twice
    assert [op for op, _ in merged] == [one, again] and places == [[0], [1]]
    merged, _ = merge([(one, True), (two, False)])  # an isolated op stays on its own
    assert len(merged) == 2 and merged[1][0] is one
    retry = finish_op(claim, Finish("queued", "retry", next_attempt_at=time.time() + 5))
    merged, places = merge([(retry, False), (finish_op(other, sent(2)), False)])
    assert places == [[1], [0]] and merged[1][0] is retry  # only "sent" completions merge
    assert not alone(merged) and not alone([(retry, False)])
    assert alone([(OneStatement(retry), False)]) and not alone([(OneStatement(retry), True)])


async def test_merged_marks_and_completions_write_what_one_by_one_writes(
    queue_url_postgres: str,
) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        alone, together = await claimed(queue, 3), await claimed(queue, 3)
        for i, claim in enumerate(alone):  # one by one, each op's own statements (as SQLite)
            assert await run_alone(queue, mark_op(claim), durable=True) == 1
            assert await run_alone(queue, finish_op(claim, sent(i))) is True
        assert await run_merged(queue, [mark_op(c) for c in together], durable=True) == [1] * 3
        ends = [finish_op(c, sent(i)) for i, c in enumerate(together)]
        assert await run_merged(queue, ends) == [True] * 3

        one_by_one = await rows(queue, [c.id for c in alone])
        merged = await rows(queue, [c.id for c in together])
        assert [shape(r, _PER_MESSAGE) for r in merged] == [
            shape(r, _PER_MESSAGE) for r in one_by_one
        ]
        assert all(r["status"] == "sent" and r["payload"] is None for r in merged)
        assert all(r["data_at"] is not None and r["finished"] is not None for r in merged)
        drop = {"id", "message_id", "started", "finished"}
        assert [shape(r, drop) for r in await log_lines(queue, [c.id for c in together])] == [
            shape(r, drop) for r in await log_lines(queue, [c.id for c in alone])
        ]
    finally:
        await queue.aclose()


async def test_a_row_taken_over_mid_batch_is_refused_alone(queue_url_postgres: str) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 3)
        # The middle row's worker was taken for dead (before DATA: back in the queue) and
        # another worker claimed it (attempt 2).
        await queue.outbox.recover_rows([claims[1].id])
        (taken,) = await queue.outbox.claim_ids([claims[1].id], "worker-b")
        marks = await run_merged(queue, [mark_op(c) for c in claims])
        assert marks == [1, 0, 1]
        ends = await run_merged(queue, [finish_op(c, sent(i)) for i, c in enumerate(claims)])
        assert ends == [True, False, True]
        first, middle, last = await rows(queue, [c.id for c in claims])
        assert first["status"] == last["status"] == "sent"
        assert middle["status"] == "sending" and middle["worker_id"] == "worker-b"
        assert middle["payload"] == {"code": "000001"}  # still worker-b's to send
        lines = await log_lines(queue, [c.id for c in claims])
        assert [line["message_id"] for line in lines] == [claims[0].id, claims[2].id]
        with pytest.raises(LeaseLost):  # the first worker's own path refuses it the same way
            await queue.outbox.mark_data(claims[1])
        assert taken.attempt == 2
    finally:
        await queue.aclose()


async def test_concurrent_attempts_share_a_batch_and_get_their_own_answers(
    queue_url_postgres: str,
) -> None:
    """Through the group commit, as a worker's attempts call it."""
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 8)
        stale = Claim(**{**claims[3].__dict__, "attempt": 7})  # not this row's attempt
        marks = await asyncio.gather(
            *(queue.outbox.mark_data(c) for c in [*claims[:3], stale, *claims[4:]]),
            return_exceptions=True,
        )
        assert [isinstance(m, LeaseLost) for m in marks] == [i == 3 for i in range(8)]
        ends = await asyncio.gather(*(queue.outbox.finish(c, sent(i)) for i, c in
                                      enumerate([*claims[:3], stale, *claims[4:]])))  # fmt: skip
        assert ends == [i != 3 for i in range(8)]
        states = [r["status"] for r in await rows(queue, [c.id for c in claims])]
        assert states == ["sending" if i == 3 else "sent" for i in range(8)]
        assert len(await log_lines(queue, [c.id for c in claims])) == 7
    finally:
        await queue.aclose()


async def test_a_job_run_twice_claims_nothing_the_second_time(queue_url_postgres: str) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 4)
        ids = [c.id for c in claims]
        await run_merged(queue, [mark_op(c) for c in claims], durable=True)
        await run_merged(queue, [finish_op(c, sent(i)) for i, c in enumerate(claims)])
        assert await queue.outbox.claim_ids(ids, "worker-b") == []
        assert await queue.outbox.claim_overdue("worker-b", 64, 0.0) == []
        again = await run_merged(queue, [finish_op(c, sent(i)) for i, c in enumerate(claims)])
        assert again == [False] * 4  # a completion replayed changes nothing, logs nothing
        assert len(await log_lines(queue, ids)) == 4
    finally:
        await queue.aclose()


async def test_merged_writes_keep_every_value_exactly(queue_url_postgres: str) -> None:
    """The merged statements get their rows as one JSON text: each timestamp must come back
    the very float the op held, each text (quotes, backslashes, non-ASCII, NULL) as given."""
    queue = await open_queue(queue_url_postgres)
    try:
        claims = await claimed(queue, 4)
        nows = [time.time() + i / 7 for i in range(4)]  # floats with all their digits
        marks = [MarkData(m.statement, m.params | {"m_now": now})
                 for m, now in zip(map(mark_op, claims), nows, strict=True)]  # fmt: skip
        assert await run_merged(queue, marks, durable=True) == [1] * 4
        details = ['250 2.0.0 "queued" as \\x41', "250 ok – é 中", None, '250 {"a": [1]}']
        ends = []
        for claim, now, detail in zip(claims, nows, details, strict=True):
            op = finish_op(claim, sent(7))
            log = op.log | {"detail": detail, "started": now - 1 / 3}
            ends.append(FinishAttempt(op.statement, op.params | {"v_now": now + 1}, log,
                                      op.log_statement))  # fmt: skip
        assert await run_merged(queue, ends) == [True] * 4
        written = await rows(queue, [c.id for c in claims])
        assert [r["data_at"] for r in written] == nows
        assert [r["updated"] for r in written] == [r["finished"] for r in written]
        assert [r["finished"] for r in written] == [now + 1 for now in nows]
        lines = await log_lines(queue, [c.id for c in claims])
        assert [line["detail"] for line in lines] == details
        assert [line["started"] for line in lines] == [now - 1 / 3 for now in nows]
        assert [line["attempt"] for line in lines] == [1] * 4
    finally:
        await queue.aclose()
