"""PostgreSQL's hot batches on psycopg directly (queue/pg_direct.py, database.py
`_direct_batch`): a batch of enqueues, claims, marks before DATA and "sent" completions must
give each caller what the same batch gives through SQLAlchemy's engine (`_async_transaction`,
the path before) and leave the same rows — whatever the mix, durable (one transaction) or not
(each statement alone), rows taken over mid-batch included — and a statement that fails there
must reach its caller as the engine's error, the others' writes standing. Real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from test_merged_writes import (
    _PER_MESSAGE,
    claimed,
    finish_op,
    log_lines,
    mark_op,
    new_message,
    open_queue,
    rows,
    sent,
    shape,
)

from smtp_connector.queue import Queue
from smtp_connector.queue.database import _async_transaction, _direct_batch
from smtp_connector.queue.merging import InsertMessages
from smtp_connector.queue.message_ids import new_message_id
from smtp_connector.queue.outbox import _INSERT_MESSAGE, Claim
from smtp_connector.queue.pg_claims import claim_rows

_DROP_ROW = _PER_MESSAGE | {"lease_until", "payload"}  # the codes differ, of course
_DROP_LOG = {"id", "message_id", "started", "finished"}


def row_values(i: int) -> dict[str, Any]:
    """An enqueue's row, as `Outbox.enqueue` makes it."""
    new, now = new_message(i), time.time()
    return {
        "id": new_message_id(), "app_id": new.app_id, "definition_ids": list(new.definition_ids),
        "recipient": new.recipient, "usage_type": new.usage_type, "payload": new.payload,
        "locale": new.locale, "status": "queued", "attempts": 0,
        "max_attempts": new.max_attempts, "next_attempt_at": now, "expires_at": new.expires_at,
        "idempotency_key": None, "request_hash": None, "created": now, "updated": now,
    }  # fmt: skip


def stale(claim: Claim) -> Claim:
    """The claim of an attempt the row no longer is at (taken over)."""
    return Claim(**{**claim.__dict__, "attempt": claim.attempt + 7})


async def direct(queue: Queue, ops: list[Any], durable: bool) -> list[tuple[bool, Any]]:
    engine = queue.db._durable_engine if durable else queue.db.engine
    pending = [(op, False) for op in ops]
    outcomes = await _direct_batch(queue.db._direct[durable], engine, pending, durable)
    assert outcomes is not None, "the batch ran on psycopg directly"
    return outcomes


async def through_engine(queue: Queue, ops: list[Any], durable: bool) -> list[tuple[bool, Any]]:
    engine = queue.db._durable_engine if durable else queue.db.engine
    return await _async_transaction(engine, [(op, False) for op in ops], durable)


def answer(value: Any) -> Any:
    """A caller's answer, its claims without what differs between two messages."""
    if isinstance(value, list) and value and not isinstance(value[0], int | bool):
        return sorted((row.attempts, row.app_id, row.versions) for row in value)
    return value


async def one_run(
    queue: Queue, run: Any, mix: tuple[int, int, int, frozenset[int]], durable: bool
) -> tuple[list[Any], list[Any], list[Any]]:
    """The mix's batch (enqueues, a claim, marks, completions; `taken` over) run by `run`:
    the callers' answers, the rows it touched and the attempts log it wrote."""
    enqueues, marks, ends, taken = mix
    to_mark, to_end = await claimed(queue, marks), await claimed(queue, ends)
    for claim in to_end:
        await queue.outbox.mark_data(claim)
    waiting = [(await queue.outbox.enqueue(new_message(90 + i)))[0] for i in range(2)]
    news = [row_values(i) for i in range(enqueues)]
    now = time.time()
    claim_params = {"m_now": now, "m_worker": "w-b", "m_lease": now + 60, "m_ids": waiting}
    ops: list[Any] = [
        *(mark_op(stale(c) if i in taken else c) for i, c in enumerate(to_mark)),
        *(finish_op(stale(c) if i in taken else c, sent(i)) for i, c in enumerate(to_end)),
        claim_rows(claim_params, True),
    ]
    if news:
        ops.insert(0, InsertMessages(_INSERT_MESSAGE, news))
    outcomes = await run(queue, ops, durable)
    assert all(ok for ok, _ in outcomes), outcomes
    ids = [r["id"] for r in news] + [c.id for c in to_mark + to_end] + waiting
    written = [shape(r, _DROP_ROW) for r in await rows(queue, ids)]
    logged = [shape(r, _DROP_LOG) for r in await log_lines(queue, [c.id for c in to_end])]
    return [answer(v) for _, v in outcomes], written, logged


async def both_paths(url: str, mix: tuple[int, int, int, frozenset[int]], durable: bool) -> None:
    queue = await open_queue(url)
    try:
        ours = await one_run(queue, direct, mix, durable)
        before = await one_run(queue, through_engine, mix, durable)
    finally:
        await queue.aclose()
    assert ours == before


_mixes = st.tuples(
    st.integers(0, 4), st.integers(0, 4), st.integers(0, 4), st.frozensets(st.integers(0, 3))
)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(mix=_mixes, durable=st.booleans())
def test_a_direct_batch_answers_and_writes_what_the_engine_does(
    queue_url_postgres: str, mix: tuple[int, int, int, frozenset[int]], durable: bool
) -> None:
    asyncio.run(both_paths(queue_url_postgres, mix, durable))


@pytest.mark.parametrize("durable", [False, True])
async def test_a_failed_direct_statement_reaches_its_caller_as_the_engines_error(
    queue_url_postgres: str, durable: bool
) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        (to_mark,) = await claimed(queue, 1)
        first = row_values(1)
        await queue.db.write(InsertMessages(_INSERT_MESSAGE, first), durable=True)
        again = first | {"recipient": "secret-recipient@example.org"}  # the same id: refused
        ops = [(InsertMessages(_INSERT_MESSAGE, [again]), False), (mark_op(to_mark), False)]
        outcomes = await queue.db._postgres_batch(ops, durable)
        (failed, error), marked = outcomes
        assert not failed and isinstance(error, IntegrityError)
        assert "DETAIL" not in str(error) and "secret-recipient" not in str(error)
        assert first["id"] not in str(error)
        assert marked == (True, 1)
        (row,) = await rows(queue, [to_mark.id])
        assert row["data_at"] is not None
        (kept,) = await rows(queue, [first["id"]])
        assert kept["recipient"] == first["recipient"]
    finally:
        await queue.aclose()


async def test_direct_batches_reuse_their_connection(queue_url_postgres: str) -> None:
    queue = await open_queue(queue_url_postgres)
    try:
        for i in range(3):
            await queue.outbox.enqueue(new_message(i))
        pids = [conn.info.backend_pid for conn in queue.db._direct[True]._idle]
        assert len(pids) == 1
        await queue.outbox.enqueue(new_message(9))
        assert [conn.info.backend_pid for conn in queue.db._direct[True]._idle] == pids
    finally:
        await queue.aclose()
    assert queue.db._direct[True]._idle == []
