"""PostgreSQL's merged enqueues (queue/merging.py `InsertMessages`): the new rows of one batch
go in as one `INSERT … SELECT FROM unnest(…)` of driver SQL, and must leave exactly the rows
the Core `INSERT` (queue/outbox.py) leaves run row by row — every column, JSON columns
compared as the text PostgreSQL keeps (SQL NULL apart from JSON null) — whatever the values.
Real PostgreSQL; a lone enqueue through the queue runs as that one statement and commits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, Text, cast, create_engine, delete, select
from sqlalchemy.engine import Engine, make_url

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.queue.merging import InsertMessages, alone
from smtp_connector.queue.outbox import _INSERT_MESSAGE, NewMessage
from smtp_connector.queue.tables import outbox

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=12)  # fmt: skip
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_moment = st.floats(0, 4e9, allow_nan=False)
_row = st.fixed_dictionaries({
    "app_id": _text, "definition_ids": st.lists(_text, max_size=3), "recipient": _text,
    "usage_type": _text, "payload": _json, "locale": st.none() | _text,
    "status": st.sampled_from(["queued", "sending"]), "attempts": st.integers(0, 2**31 - 1),
    "max_attempts": st.integers(-(2**31), 2**31 - 1), "next_attempt_at": _moment,
    "expires_at": _moment, "idempotency_key": st.booleans(),
    "request_hash": st.none() | _text, "created": _moment, "updated": _moment,
})  # fmt: skip


@pytest.fixture
def engine(queue_url_postgres: str) -> Iterator[Engine]:
    made = create_engine(make_url(queue_url_postgres).set(drivername="postgresql+psycopg"))
    yield made
    made.dispose()


def _written(engine: Engine, write: Any) -> list[tuple[Any, ...]]:
    """Run `write` in a transaction, read back what it left (JSON as text), remove it."""
    columns = [cast(c, Text) if isinstance(c.type, JSON) else c for c in outbox.c]
    with engine.begin() as conn:
        write(conn)
        found = [tuple(row) for row in conn.execute(select(*columns).order_by(outbox.c.id))]
        conn.execute(delete(outbox))
    return found


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(_row, min_size=1, max_size=6))
def test_one_statement_writes_the_rows_of_the_core_insert(
    engine: Engine, rows: list[dict[str, Any]]
) -> None:
    rows = [{"id": f"{i:032x}", **row, "idempotency_key": f"k{i}é" if row["idempotency_key"]
             else None} for i, row in enumerate(rows)]  # fmt: skip
    merged = _written(engine, InsertMessages(_INSERT_MESSAGE, rows))

    def one_by_one(conn: Any) -> None:
        for row in rows:
            conn.execute(_INSERT_MESSAGE, row)

    assert merged == _written(engine, one_by_one)


async def test_a_batch_of_enqueues_is_one_statement_and_commits(queue_url_postgres: str) -> None:
    queue = Queue(queue_url_postgres, QueueOptions(engine="embedded"))
    new = NewMessage("app-1", ("def-1",), "user@example.org", "SignIn", {"code": "123456"},
                     None, 3, time.time() + 600)  # fmt: skip
    try:
        message_id, created = await queue.outbox.enqueue(new)
        row = await queue.outbox.get(message_id)
    finally:
        await queue.db.dispose()
    assert created and row.status == "queued" and row.payload == {"code": "123456"}
    assert alone([(InsertMessages(_INSERT_MESSAGE, [{}]), False)])
