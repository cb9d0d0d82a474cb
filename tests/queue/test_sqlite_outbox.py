"""The embedded outbox's driver SQL (queue/sqlite_outbox.py) against the Core statements it
replaces (queue/outbox.py): the same operations, run concurrently so that they share group
commits, leave the same rows and answer the same results, on real SQLite files — including
batches in which one write fails (a reused idempotency key, a lost lease, an operation that
raises): the others' rows are as they would be alone."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from smtp_connector.queue import outbox as outbox_module
from smtp_connector.queue import sqlite_outbox
from smtp_connector.queue.database import QueueDatabase
from smtp_connector.queue.outbox import Claim, Finish, LeaseLost, NewMessage, Outbox, attempt_log
from smtp_connector.queue.sqlite_outbox import SqliteOutbox
from smtp_connector.queue.tables import metadata
from smtp_connector.store.tables import AppRow

ENDS = {
    "sent": Finish("sent", "sent", message_id="<1@x>", server="127.0.0.1:25", definition_id="d1"),
    "retry": Finish("queued", "retry", next_attempt_at=50.0,
                    last_error={"code": "connection_failed", "smtpCode": 451}),
    "failed": Finish("failed", "failed", last_error={"code": "rejected", "smtpCode": 550,
                                                     "server": "mx:25", "message": "é"}),
    "unknown": Finish("failed", "unknown", last_error={"code": "x", "deliveryUnknown": True}),
    "abandoned": Finish("abandoned", "abandoned", last_error={"code": "timeout"}),
}  # fmt: skip
Plan = tuple[str, str | None, bool]  # (how the attempt ends, idempotency key, lease lost)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both outboxes stamp rows with the same times (and ids: `_fresh_ids`)."""
    monkeypatch.setattr(outbox_module, "time", SimpleNamespace(time=lambda: 1000.0))
    # restored after the test
    monkeypatch.setattr(outbox_module, "new_message_id", outbox_module.new_message_id)


def _fresh_ids() -> None:
    """Message ids 0, 1, 2 … from here on (each outbox's run starts again at 0)."""
    counter = itertools.count()
    outbox_module.new_message_id = lambda: f"{next(counter):032x}"


def _opened(kind: type[Outbox], folder: Path) -> Outbox:
    url = f"sqlite:///{folder / f'{kind.__name__}.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return kind(QueueDatabase(url), lease=60.0)


async def _run(box: Outbox, plans: list[Plan]) -> list[Any]:
    """Enqueue, claim, mark and finish per `plans`, each stage's writes concurrent."""
    _fresh_ids()
    answers: list[Any] = []
    news = [
        NewMessage("app", ("d1", "d2"), f"u{i}@example.org", "SignIn",
                   {"code": f"{i:06d}", "nested": {"é": [1, None]}}, "de" if i % 2 else None,
                   3, 2000.0, key, "h" if key else None)
        for i, (_, key, _) in enumerate(plans)
    ]  # fmt: skip
    enqueued = await asyncio.gather(*(box.enqueue(new) for new in news), return_exceptions=True)
    answers.append([type(a).__name__ if isinstance(a, Exception) else a for a in enqueued])
    claims = await box.claim_due("w@host:1:abc", len(plans))
    answers.append([(c.id, c.attempt, c.payload, c.definition_ids, c.locale) for c in claims])
    by_id = {message_id: plan for (message_id, _), plan in zip(
        [a for a in enqueued if isinstance(a, tuple)], plans, strict=False)}  # fmt: skip
    for claim in claims:
        if by_id.get(claim.id, ("sent", None, False))[2]:
            claim.worker_id = "someone-else"
    marks = await asyncio.gather(*(box.mark_data(c) for c in claims), return_exceptions=True)
    answers.append([type(m).__name__ if m is not None else None for m in marks])
    ends = [ENDS[by_id.get(c.id, ("sent", None, False))[0]] for c in claims]
    finished = await asyncio.gather(
        *(box.finish(c, end, detail=end.outcome) for c, end in zip(claims, ends, strict=True))
    )
    answers.append(finished)
    return answers


def _rows(box: Outbox) -> dict[str, list[tuple[Any, ...]]]:
    path = box.db.url.database
    with sqlite3.connect(str(path)) as conn:
        messages = conn.execute(
            "SELECT *, typeof(payload), typeof(last_error) FROM outbox_messages ORDER BY id"
        ).fetchall()
        # `started` is the claim's own clock (Claim.started), not the outbox's.
        attempts = conn.execute(
            "SELECT id, message_id, attempt, worker_id, finished, outcome, error_code, "
            "smtp_code, server, detail FROM outbox_attempts ORDER BY id"
        ).fetchall()
    return {"outbox_messages": messages, "outbox_attempts": attempts}


async def _both(plans: list[Plan]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        core, raw = _opened(Outbox, Path(folder)), _opened(SqliteOutbox, Path(folder))
        try:
            assert await _run(raw, plans) == await _run(core, plans)
            assert _rows(raw) == _rows(core)
        finally:
            await core.db.dispose()
            await raw.db.dispose()


plans = st.lists(
    st.tuples(st.sampled_from(sorted(ENDS)), st.sampled_from([None, "k1", "k2"]), st.booleans()),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans)
def test_driver_sql_leaves_the_rows_of_the_core_statements(plans: list[Plan]) -> None:
    asyncio.run(_both(plans))


async def test_a_batch_with_one_failing_write_commits_the_others(tmp_path: Path) -> None:
    """Marks and completions sharing commits with a write that raises: the batch is retried
    op by op, the failing op gets its own error and every other row is written."""
    box = _opened(SqliteOutbox, tmp_path)
    try:
        for i in range(6):
            await box.enqueue(NewMessage("app", ("d1",), f"u{i}@x.org", "SignIn", {"c": i},
                                         None, 3, 2000.0))  # fmt: skip
        claims = await box.claim_due("w", 6)

        def broken(conn: Any) -> None:
            conn.connection.driver_connection.execute("INSERT INTO no_such_table VALUES (1)")

        results = await asyncio.gather(
            *(box.mark_data(c) for c in claims[:3]),
            box.db.write(broken),
            *(box.finish(c, ENDS["sent"]) for c in claims[3:]),
            return_exceptions=True,
        )
        assert results[:3] == [None, None, None]
        assert isinstance(results[3], sqlite3.OperationalError)
        assert results[4:] == [True, True, True]
        with sqlite3.connect(str(box.db.url.database)) as conn:
            rows = dict(conn.execute("SELECT id, status FROM outbox_messages").fetchall())
            marked = {r[0] for r in conn.execute("SELECT id FROM outbox_messages WHERE "
                                                 "data_at IS NOT NULL")}  # fmt: skip
            logged = [r[0] for r in conn.execute("SELECT message_id FROM outbox_attempts")]
        assert marked == {c.id for c in claims[:3]}
        assert [rows[c.id] for c in claims] == ["sending"] * 3 + ["sent"] * 3
        assert sorted(logged) == sorted(c.id for c in claims[3:])
    finally:
        await box.db.dispose()


async def test_reused_key_and_lost_lease_in_one_batch(tmp_path: Path) -> None:
    """An enqueue whose key exists (a unique-key failure under its savepoint: the SQLAlchemy
    `IntegrityError` the Core path raises, answered with the first message) and a mark whose
    lease was taken over, beside writes that succeed."""
    box = _opened(SqliteOutbox, tmp_path)
    try:
        first, created = await box.enqueue(
            NewMessage("app", ("d1",), "a@x.org", "SignIn", {"c": 1}, None, 3, 2000.0, "k", "h")
        )
        assert created
        keys = [(None, None), ("k", "h"), (None, None)]
        again = [NewMessage("app", ("d1",), f"b{i}@x.org", "SignIn", {"c": i}, None, 3, 2000.0,
                            key, digest) for i, (key, digest) in enumerate(keys)]  # fmt: skip
        answers = await asyncio.gather(*(box.enqueue(new) for new in again))
        assert answers[1] == (first, False)
        assert all(created for _, created in (answers[0], answers[2]))
        with pytest.raises(IntegrityError):  # a reused key without the row (raced away)
            await box.db.write(box._insert_op(_values(first)), isolated=True)
        claims = await box.claim_due("w", 10)
        claims[0].worker_id = "taken-over"
        marks = await asyncio.gather(*(box.mark_data(c) for c in claims),
                                     return_exceptions=True)  # fmt: skip
        assert isinstance(marks[0], LeaseLost) and marks[1:] == [None] * (len(claims) - 1)
    finally:
        await box.db.dispose()


def _values(message_id: str) -> dict[str, Any]:
    return {
        "id": message_id, "app_id": "app", "definition_ids": ["d1"], "recipient": "c@x.org",
        "usage_type": "SignIn", "payload": {}, "locale": None, "status": "queued",
        "attempts": 0, "max_attempts": 3, "next_attempt_at": 1.0, "expires_at": 2.0,
        "idempotency_key": "k", "request_hash": "h", "created": 1.0, "updated": 1.0,
    }  # fmt: skip


async def test_a_claim_carries_its_apps_versions_as_its_transaction_reads_them(
    tmp_path: Path,
) -> None:
    """The claim reads the claimed apps' versions in its own transaction (what deliver_now
    would read next): a change committed after the enqueue is in it; an app that is gone, or
    a database without the store's tables, leaves the delivery to read for itself (None)."""
    (tmp_path / "alone").mkdir()
    box = _opened(SqliteOutbox, tmp_path)
    alone = _opened(SqliteOutbox, tmp_path / "alone")  # only the outbox's tables
    engine = create_engine(f"sqlite:///{box.db.url.database}")
    AppRow.__table__.create(engine)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(AppRow.__table__.insert(), {  # type: ignore[attr-defined]
            "id": "a", "name": "A", "definitions_version": 3, "templates_version": 7})  # fmt: skip
    try:
        for app in ("a", "gone", "a"):
            for outbox in (box, alone):
                await outbox.enqueue(NewMessage(app, ("d1",), "u@x.org", "SignIn", {}, None,
                                                3, 2000.0))  # fmt: skip
        with engine.begin() as conn:  # a template saved after the enqueue, before the claim
            conn.exec_driver_sql("UPDATE apps SET templates_version = 8 WHERE id = 'a'")
        claims = await box.claim_due("w", 3)
        assert sorted((c.app_id, c.versions) for c in claims) == [
            ("a", (3, 8)), ("a", (3, 8)), ("gone", None),
        ]  # fmt: skip
        assert [c.versions for c in await alone.claim_due("w", 3)] == [None] * 3
    finally:
        engine.dispose()
        await box.db.dispose()
        await alone.db.dispose()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_payloads = st.dictionaries(st.text(), _json_values, max_size=4)
_errors = st.none() | st.dictionaries(st.text(), _json_values, max_size=3)
_statuses = st.sampled_from(["sent", "queued", "failed", "abandoned"])


async def _completed(box: Outbox, payloads: list[dict[str, Any]], ends: list[Finish]) -> Any:
    """Enqueue `payloads`, claim them (the claims' payloads as read back), mark and end them
    per `ends`; the claims' fields and the results."""
    _fresh_ids()
    for i, payload in enumerate(payloads):
        await box.enqueue(NewMessage("app", ("d1", "é"), f"u{i}@x.org", "SignIn", payload,
                                     None, 3, 2000.0))  # fmt: skip
    claims = await box.claim_due("w", len(payloads))
    read = [(c.id, c.payload, c.definition_ids) for c in claims]
    await asyncio.gather(*(box.mark_data(c) for c in claims))
    done = await asyncio.gather(*(box.finish(c, e) for c, e in zip(claims, ends, strict=False)))
    return read, done


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_payloads, _statuses, _errors), min_size=1, max_size=6))
def test_claimed_payloads_and_stored_errors_are_the_core_statements(
    cases: list[tuple[dict[str, Any], str, dict[str, Any] | None]],
) -> None:
    """Claims read their payloads and definition ids back as the Core path reads them (the
    queue's own JSON loader), and a completion stores its `last_error` as the Core path
    does: `None` as the JSON text `null`, any dict (an empty one too) as its JSON."""
    payloads = [payload for payload, _, _ in cases]
    ends = [Finish(status, status, next_attempt_at=50.0, last_error=error,
                   message_id="<m@x>", server="mx:25", definition_id="d1")
            for _, status, error in cases]  # fmt: skip

    async def both() -> None:
        with tempfile.TemporaryDirectory() as folder:
            core, raw = _opened(Outbox, Path(folder)), _opened(SqliteOutbox, Path(folder))
            try:
                assert await _completed(raw, payloads, ends) == await _completed(
                    core, payloads, ends
                )
                assert _rows(raw) == _rows(core)
            finally:
                await core.db.dispose()
                await raw.db.dispose()

    asyncio.run(both())


_maybe_text = st.none() | st.text(max_size=8)


@given(
    st.builds(Claim, id=st.text(max_size=8), app_id=st.just("app"), definition_ids=st.just(()),
              recipient=st.just("u@x.org"), usage_type=st.just("SignIn"), payload=st.just({}),
              locale=st.none(), attempt=st.integers(1, 9), max_attempts=st.just(5),
              expires_at=st.just(2000.0), worker_id=st.none() | st.text(max_size=8),
              started=st.floats(0, 1e10)),
    st.builds(Finish, status=_statuses, outcome=st.sampled_from(["sent", "retry", "failed"]),
              last_error=_errors, server=_maybe_text),
    _maybe_text,
)  # fmt: skip
def test_an_attempt_row_is_the_attempt_logs(claim: Claim, end: Finish, detail: str | None) -> None:
    """The attempts row the driver SQL binds, the no-error shortcut included, is
    `attempt_log`'s row with its NULLs bound as NaN (SQLite stores both as NULL)."""
    general = sqlite_outbox._nulls_bound(
        list(sqlite_outbox._PICK_ATTEMPT(attempt_log(claim, end, detail, 5.0))),
        sqlite_outbox._NULLABLE_ATTEMPT,
    )
    assert repr(sqlite_outbox._attempt_row(claim, end, detail, 5.0)) == repr(general)
