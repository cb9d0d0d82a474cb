"""The embedded outbox finds claimed rows by their SQLite rowid (queue/sqlite_outbox.py): the
claim selects the due rows' rowids from `ix_outbox_due` alone and returns each row's rowid,
and the mark and the completion find the row by it, falling back to the row's id when the
rowid no longer names that row. Held here to the statements by id they replace, on real
SQLite: the same rows claimed (ties in `next_attempt_at` included), the same answers and the
same rows after a mark or a completion whatever the rowid (right, another row's, none), and a
real outbox whose rows were renumbered under its claims (as a VACUUM may) still marks and
completes them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import given, settings
from hypothesis import strategies as st
from queue_support import sqlite_outbox_in
from sqlalchemy import create_engine

from smtp_connector.queue import sqlite_outbox
from smtp_connector.queue.outbox import Finish, LeaseLost, NewMessage
from smtp_connector.queue.tables import metadata

# The claim as it was before (round 6): the due rows by id, each found through the index on id.
CLAIM_BY_ID = (
    "UPDATE outbox_messages SET status = 'sending', attempts = attempts + 1, lease_until = ?, "
    "worker_id = ?, data_at = NULL, updated = ? WHERE id IN (SELECT id FROM outbox_messages "
    "WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?) "
    "RETURNING id, app_id, definition_ids, recipient, usage_type, payload, locale, attempts, "
    "max_attempts, expires_at"
)
STATUSES = ("queued", "sending", "sent")
_schema: list[str] = []


def schema() -> list[str]:
    """The outbox tables' DDL as `metadata` creates them (once per run)."""
    if not _schema:
        engine = create_engine("sqlite://")
        metadata.create_all(engine)
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            found = raw.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
            _schema.extend(row[0] for row in found)
        engine.dispose()
    return _schema


def database(rows: list[tuple[str, str, float, int, str | None]]) -> sqlite3.Connection:
    """An in-memory outbox holding `rows` (id, status, next_attempt_at, attempts, worker), in
    that insertion order, so rowid order is not id order."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in schema():
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO outbox_messages (id, app_id, definition_ids, recipient, usage_type, "
        "payload, status, attempts, max_attempts, next_attempt_at, worker_id, expires_at, "
        "created, updated) VALUES (?, 'app', '[\"d1\"]', 'u@x.org', 'SignIn', '{}', ?, ?, 5, "
        "?, ?, 9e9, 1.0, 1.0)",
        [(id_, status, attempts, due, worker) for id_, status, due, attempts, worker in rows],
    )
    return conn


def dump(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT rowid, * FROM outbox_messages ORDER BY id").fetchall()


_rows = st.lists(
    st.tuples(
        st.sampled_from(STATUSES),
        st.sampled_from([1.0, 2.0, 2.0, 3.0, 5.0]),  # ties, often
        st.integers(0, 2),
        st.sampled_from([None, "w", "v"]),
    ),
    max_size=25,
).map(lambda found: [(f"{(i * 7919) % 1000:032x}", *row) for i, row in enumerate(found)])


@settings(max_examples=150, deadline=None)
@given(rows=_rows, now=st.sampled_from([0.5, 2.0, 3.0, 9.0]), limit=st.integers(0, 30))
def test_the_claim_by_rowid_claims_the_rows_the_claim_by_id_claims(
    rows: list[tuple[str, str, float, int, str | None]], now: float, limit: int
) -> None:
    old, new = database(rows), database(rows)
    values = (now + 60, "w@h:1:x", now, now, limit)
    want = old.execute(CLAIM_BY_ID, values).fetchall()
    got = new.execute(sqlite_outbox.CLAIM_DUE, values).fetchall()
    assert sorted(row[:-1] for row in got) == sorted(want)
    assert dump(new) == dump(old)
    rowids = dict(new.execute("SELECT id, rowid FROM outbox_messages").fetchall())
    assert all(row[-1] == rowids[row[0]] for row in got)  # each row's own rowid


_updates = st.sampled_from(["mark", "queued", "sent", "final"])


@settings(max_examples=200, deadline=None)
@given(
    rows=_rows.filter(bool),
    pick=st.integers(0, 100),
    rowid=st.sampled_from(["own", "other", "none", "missing"]),
    worker=st.sampled_from(["w", "v"]),
    attempt=st.integers(0, 2),
    update=_updates,
    lure=st.booleans(),
)
def test_an_update_by_rowid_or_id_is_the_update_by_id(
    rows: list[tuple[str, str, float, int, str | None]],
    pick: int,
    rowid: str,
    worker: str,
    attempt: int,
    update: str,
    lure: bool,
) -> None:
    """Whatever the claim's rowid (its row's, another row's, none, one no row has) and
    whether the row is still this claim's: the same count and the same rows as by id. With
    `lure`, the row the rowid names (another's too) is `sending` for this worker and attempt:
    only the id tells it apart."""
    target = rows[pick % len(rows)][0]
    rank = {
        "own": pick % len(rows),
        "other": (pick % len(rows) + 1 + pick // 7 % max(1, len(rows) - 1)) % len(rows),
    }.get(rowid)
    if lure and rank is not None:
        rows = [*rows]
        rows[rank] = (rows[rank][0], "sending", rows[rank][2], attempt, worker)
    old, new = database(rows), database(rows)
    rowids = dict(new.execute("SELECT id, rowid FROM outbox_messages").fetchall())
    row = None if rowid == "none" else max(rowids.values()) + 1
    if rank is not None:
        row = rowids[rows[rank][0]]
    mine = (target, worker, attempt)
    if update == "mark":
        values: tuple[Any, ...] = (7.0, 7.0)
        at_row, by_id = sqlite_outbox.MARK_DATA_AT, sqlite_outbox.MARK_DATA
    else:
        values = {
            "queued": ("queued", 7.0, '{"code": "x"}', 8.0),
            "sent": ("sent", 7.0, "null", 7.0, "<m@x>", "mx:25", "d1"),
            "final": ("failed", 7.0, '{"code": "y"}', 7.0),
        }[update]
        at_row, by_id = sqlite_outbox.FINISH_AT[update], sqlite_outbox.FINISH[update]
    want = old.execute(by_id, (*values, *mine)).rowcount
    got = sqlite_outbox._by_rowid_or_id(new, at_row, by_id, (*values, row, *mine))
    assert got == want
    assert dump(new) == dump(old)


async def test_rows_renumbered_under_their_claims_are_still_marked_and_completed(
    tmp_path: Path,
) -> None:
    """A real outbox's claims, then the rows' rowids moved (a VACUUM may renumber a table
    without an INTEGER PRIMARY KEY) and two of them swapped: each claim's rowid now names
    another row or none. Every mark and completion still lands on its own row, a lost lease
    is still refused, and the attempts are logged once each."""
    box = sqlite_outbox_in(tmp_path)
    try:
        for i in range(6):
            await box.enqueue(NewMessage("app", ("d1",), f"u{i}@x.org", "SignIn", {"c": i},
                                         None, 3, 9e9))  # fmt: skip
        claims = await box.claim_due("w", 6)
        assert len(claims) == 6 and all(claim.row is not None for claim in claims)
        path = str(box.db.url.database)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE outbox_messages SET rowid = rowid + 1000")
            move = "UPDATE outbox_messages SET rowid = ? WHERE id = ?"
            first, second = claims[0], claims[1]
            conn.execute(move, (first.row, second.id))  # each now where the other was
            conn.execute(move, (second.row, first.id))
        claims[5].worker_id = "taken-over"
        marks = await asyncio.gather(*(box.mark_data(c) for c in claims), return_exceptions=True)
        assert marks[:5] == [None] * 5 and isinstance(marks[5], LeaseLost)
        sent = Finish("sent", "sent", message_id="<1@x>", server="mx:25", definition_id="d1")
        done = await asyncio.gather(*(box.finish(c, sent) for c in claims))
        assert done == [True] * 5 + [False]
        with sqlite3.connect(path) as conn:
            states = dict(conn.execute("SELECT id, status FROM outbox_messages").fetchall())
            logged = [r[0] for r in conn.execute("SELECT message_id FROM outbox_attempts")]
        assert [states[c.id] for c in claims] == ["sent"] * 5 + ["sending"]
        assert sorted(logged) == sorted(c.id for c in claims[:5])
    finally:
        await box.db.dispose()
