"""The embedded outbox's batches of driver ops (queue/batching.DriverOp) run in `BEGIN
IMMEDIATE` … `COMMIT` issued on the `sqlite3` connection, without SQLAlchemy's transaction
(queue/database.py `_driver_batch`), on real SQLite files: that path is the one taken, any other
batch still goes through SQLAlchemy, and a driver batch in which one op fails is rerun op by op
as before — the failing op gets SQLAlchemy's exception, every other row is written, and the
connection is left usable. (tests/queue/test_sqlite_outbox.py holds the rows of these batches
equal to the Core statements'.)"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import sqlite_outbox_in
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from smtp_connector.queue.batching import DriverOp
from smtp_connector.queue.outbox import Finish, NewMessage
from smtp_connector.queue.sqlite_outbox import SqliteOutbox, execute

SENT = Finish("sent", "sent", message_id="<1@x>", server="127.0.0.1:25", definition_id="d1")


def _opened(folder: Path) -> tuple[SqliteOutbox, list[str]]:
    """An outbox, and the list SQLAlchemy's "begin" events of its engine go to."""
    box = sqlite_outbox_in(folder)
    begins: list[str] = []
    event.listen(box.db._sync_engine, "begin", lambda conn: begins.append("begin"))
    return box, begins


def _new(i: int, key: str | None = None) -> NewMessage:
    return NewMessage("app", ("d1",), f"u{i}@x.org", "SignIn", {"c": i}, None, 3, 2000.0,
                      key, "h" if key else None)  # fmt: skip


async def test_driver_batches_skip_sqlalchemys_transaction(tmp_path: Path) -> None:
    box, begins = _opened(tmp_path)
    try:
        await asyncio.gather(*(box.enqueue(_new(i)) for i in range(4)))
        claims = await box.claim_due("w", 4)
        await asyncio.gather(*(box.mark_data(c) for c in claims))
        assert all(await asyncio.gather(*(box.finish(c, SENT) for c in claims)))
        assert begins == []  # enqueues, claim, marks, completions: all on the driver
        await box.enqueue(_new(9, key="k"))  # under a savepoint: SQLAlchemy's transaction
        assert begins == ["begin"]
        with sqlite3.connect(str(box.db.url.database)) as conn:
            statuses = [r[0] for r in conn.execute("SELECT status FROM outbox_messages")]
            logged = conn.execute("SELECT count(*) FROM outbox_attempts").fetchone()[0]
        assert sorted(statuses) == ["queued"] + ["sent"] * 4
        assert logged == 4
    finally:
        await box.db.dispose()


async def test_a_failing_driver_op_is_rerun_alone(tmp_path: Path) -> None:
    box, _ = _opened(tmp_path)
    try:
        for i in range(6):
            await box.enqueue(_new(i))
        claims = await box.claim_due("w", 6)

        def broken(raw: Any) -> None:
            execute(raw, "INSERT INTO no_such_table VALUES (1)", ())

        results = await asyncio.gather(
            *(box.mark_data(c) for c in claims[:3]),
            box.db.write(DriverOp(broken)),
            *(box.finish(c, SENT) for c in claims[3:]),
            return_exceptions=True,
        )
        assert results[:3] == [None, None, None]
        assert isinstance(results[3], OperationalError)  # wrapped, as the Core path raises
        assert results[4:] == [True, True, True]
        with sqlite3.connect(str(box.db.url.database)) as conn:
            marked = {r[0] for r in conn.execute("SELECT id FROM outbox_messages WHERE "
                                                 "data_at IS NOT NULL")}  # fmt: skip
            logged = sorted(r[0] for r in conn.execute("SELECT message_id FROM outbox_attempts"))
        assert marked == {c.id for c in claims[:3]}
        assert logged == sorted(c.id for c in claims[3:])
        # The writer's connection is usable afterwards (no transaction left open).
        assert (await box.enqueue(_new(7)))[1]
        assert len(await box.claim_due("w", 10)) == 1
    finally:
        await box.db.dispose()


async def test_a_batchs_attempts_rows_go_in_one_executemany(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The completions of one driver batch write their attempts rows as one `executemany`
    before the COMMIT: the same rows, in the completions' order, as one insert each."""
    from smtp_connector.queue.batch_cursor import BatchCursor
    from smtp_connector.queue.sqlite_outbox import INSERT_ATTEMPT

    many: list[int] = []
    executemany = BatchCursor.executemany

    def counted(self: BatchCursor, statement: str, rows: Any) -> Any:
        rows = list(rows)
        if statement == INSERT_ATTEMPT:
            many.append(len(rows))
        return executemany(self, statement, rows)

    monkeypatch.setattr(BatchCursor, "executemany", counted)
    box, _ = _opened(tmp_path)
    try:
        for i in range(4):
            await box.enqueue(_new(i))
        claims = await box.claim_due("w", 4)
        retry = Finish("queued", "retry", last_error={"code": "timeout", "message": "slow"},
                       next_attempt_at=3000.0)  # fmt: skip
        ends = [SENT, retry, SENT, SENT]
        done = await asyncio.gather(*(box.finish(c, e) for c, e in zip(claims, ends, strict=True)))
        assert done == [True] * 4
        assert many == [4]  # one batch, one executemany of its four attempts rows
        with sqlite3.connect(str(box.db.url.database)) as conn:
            rows = conn.execute("SELECT message_id, attempt, worker_id, outcome, error_code, "
                                "server FROM outbox_attempts ORDER BY id").fetchall()  # fmt: skip
        assert rows == [
            (claims[0].id, 1, "w", "sent", None, "127.0.0.1:25"),
            (claims[1].id, 1, "w", "retry", "timeout", None),
            (claims[2].id, 1, "w", "sent", None, "127.0.0.1:25"),
            (claims[3].id, 1, "w", "sent", None, "127.0.0.1:25"),
        ]
    finally:
        await box.db.dispose()


async def test_a_failing_attempts_row_reruns_the_batch_alone(tmp_path: Path) -> None:
    """An attempts row SQLite refuses fails the whole batch (nothing of it committed); each op
    then runs alone: that completion gets SQLAlchemy's error and leaves its message as it was,
    the others are written, attempts rows and all."""
    box, _ = _opened(tmp_path)
    try:
        for i in range(3):
            await box.enqueue(_new(i))
        claims = await box.claim_due("w", 3)
        with sqlite3.connect(str(box.db.url.database)) as conn:
            conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON outbox_attempts WHEN "
                         f"NEW.message_id = '{claims[1].id}' BEGIN SELECT RAISE(ABORT, 'no'); "
                         "END")  # fmt: skip
        results = await asyncio.gather(
            *(box.finish(c, SENT) for c in claims), return_exceptions=True
        )
        assert results[0] is True and results[2] is True
        assert "no" in str(results[1]) and not isinstance(results[1], sqlite3.Error)
        with sqlite3.connect(str(box.db.url.database)) as conn:
            status = dict(conn.execute("SELECT id, status FROM outbox_messages").fetchall())
            logged = sorted(r[0] for r in conn.execute("SELECT message_id FROM outbox_attempts"))
        assert status == {claims[0].id: "sent", claims[1].id: "sending", claims[2].id: "sent"}
        assert logged == sorted([claims[0].id, claims[2].id])
    finally:
        await box.db.dispose()
