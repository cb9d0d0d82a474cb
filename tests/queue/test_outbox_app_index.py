"""Revision 0011 drops `ix_outbox_messages_app_id`, on SQLite and PostgreSQL: `app_id` leads
`uq_outbox_idempotency` and `ix_outbox_app_created`, so every query on one app's rows still
searches an index (the plans, below), and an enqueue writes one index entry less. Upgrade and
downgrade on a database that holds rows (the downgrade builds the index from them), the
idempotency key still refused twice, and the tables' declaration in step with the revisions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import downgrade, postgres_database
from sqlalchemy import func, insert, inspect, select, text, tuple_
from sqlalchemy.exc import IntegrityError

from smtp_connector.errors import ConnectorError
from smtp_connector.queue.stats import outcomes_since
from smtp_connector.queue.tables import attempts, outbox
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import head_revision, prepare_schema, upgrade

DROPPED = "ix_outbox_messages_app_id"
APP = "app-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        with postgres_database() as found:
            yield found


def app_queries() -> dict[str, Any]:
    """Every query the queue asks about one app's rows (stats.py, outbox.py)."""
    newest = (
        select(outbox)
        .where(outbox.c.app_id == APP)
        .order_by(outbox.c.created.desc(), outbox.c.id.desc())
        .limit(21)
    )
    return {
        "depth": select(outbox.c.status, func.count())
        .where(outbox.c.app_id == APP)
        .group_by(outbox.c.status),
        "oldest": select(func.min(outbox.c.created)).where(
            outbox.c.status == "queued", outbox.c.app_id == APP
        ),
        "last minute": outcomes_since(0.0, APP),
        "idempotency key": select(outbox.c.id, outbox.c.request_hash).where(
            outbox.c.app_id == APP, outbox.c.idempotency_key == "k1"
        ),
        "newest": newest,
        "newest by status": newest.where(outbox.c.status == "sent"),
        "next page": newest.where(tuple_(outbox.c.created, outbox.c.id) < tuple_(5.0, "x")),
    }


def message(n: int, app_id: str = APP, key: str | None = None) -> dict[str, Any]:
    now = time.time()
    return {
        "id": f"{n:032x}", "app_id": app_id, "definition_ids": ["d1"],
        "recipient": f"u{n}@example.org", "usage_type": "SignIn", "payload": {"code": "1"},
        "locale": None, "status": "queued", "attempts": 0, "max_attempts": 5,
        "next_attempt_at": now, "expires_at": now + 600, "idempotency_key": key,
        "created": now + n, "updated": now,
    }  # fmt: skip


async def indexes(database: Database) -> dict[str, list[str]]:
    async with database.engine.connect() as conn:
        found = await conn.run_sync(lambda c: inspect(c).get_indexes("outbox_messages"))
    return {index["name"]: list(index["column_names"]) for index in found}


def test_the_head_is_0011() -> None:
    assert head_revision() == "0011"


def test_the_tables_declare_no_index_on_app_id_alone() -> None:
    declared = {tuple(c.name for c in index.columns) for index in outbox.indexes}
    assert ("app_id",) not in declared
    assert not outbox.c.app_id.index


async def test_a_postgresql_database_of_the_last_release_is_told_to_upgrade() -> None:
    """The newcomer's first mistake with this revision: the new version started on the
    PostgreSQL database the last one left at 0010, without `db upgrade`. Refused, naming
    both revisions and the command; nothing migrated behind the operator's back."""
    with postgres_database() as url:
        database = Database(url)
        try:
            await upgrade(database, "0010")
            with pytest.raises(ConnectorError) as refused:
                await prepare_schema(database)
            message = refused.value.message
            assert "is at 0010" in message and "needs 0011" in message, message
            assert "smtp-connector db upgrade" in message
            assert DROPPED in await indexes(database)
        finally:
            await database.dispose()


async def test_upgrade_and_downgrade_on_a_database_with_rows(url: str) -> None:
    """0010 with rows → head drops the index and keeps every row; the key stays unique per
    app; head → 0010 builds the index again over the rows (an attacker's database is not
    empty); and up again."""
    database = Database(url)
    rows = [message(n, app_id=f"app-{n % 3}", key=f"k{n}" if n % 2 else None) for n in range(300)]
    try:
        await upgrade(database, "0010")
        async with database.engine.begin() as conn:
            await conn.execute(insert(outbox), rows)
        assert (await indexes(database))[DROPPED] == ["app_id"]

        await upgrade(database)
        found = await indexes(database)
        assert DROPPED not in found
        assert found["ix_outbox_app_created"] == ["app_id", "created", "id"]
        async with database.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(outbox))).scalar()
        assert count == len(rows)
        with pytest.raises(IntegrityError):  # the app's key, taken: refused as before
            async with database.engine.begin() as conn:
                await conn.execute(insert(outbox), [message(1000, app_id="app-1", key="k1")])
        async with database.engine.begin() as conn:  # another app's same key: allowed
            await conn.execute(insert(outbox), [message(1001, app_id="app-2", key="k1")])

        await downgrade(database, "0010")
        assert (await indexes(database))[DROPPED] == ["app_id"]
        await upgrade(database)
        assert DROPPED not in await indexes(database)
    finally:
        await database.dispose()


async def test_every_app_query_searches_an_index_on_sqlite(tmp_path: Path) -> None:
    """SQLite's own plans at head, with rows of several apps: each query on one app's rows
    searches an index by `app_id` (no scan of the table), as at 0010."""
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        await upgrade(database)
        async with database.engine.begin() as conn:
            await conn.execute(insert(outbox), [message(n, f"app-{n % 5}") for n in range(500)])
            for name, query in app_queries().items():
                compiled = query.compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                plan = (await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
                steps = [str(step[-1]) for step in plan]
                first = next(s for s in steps if "outbox_messages" in s)
                assert first.startswith("SEARCH outbox_messages USING"), (name, steps)
                assert "(app_id=?" in first, (name, steps)
                assert DROPPED not in " ".join(steps)
    finally:
        await database.dispose()


async def test_every_app_query_can_search_an_index_on_postgresql() -> None:
    """PostgreSQL at head: with sequential scans discouraged, each query on one app's rows
    reads `outbox_messages` through an index (its planner picks a scan for a small table
    otherwise; this asks whether an index serves; which one is the planner's to choose)."""
    with postgres_database() as url:
        database = Database(url)
        try:
            await upgrade(database)
            async with database.engine.begin() as conn:
                await conn.execute(insert(outbox), [message(n, f"app-{n % 5}") for n in range(500)])
                await conn.execute(insert(attempts), [attempt(n) for n in range(0, 500, 7)])
                await conn.execute(text("ANALYZE outbox_messages"))
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
                for name, query in app_queries().items():
                    compiled = query.compile(
                        dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                    )
                    plan = "\n".join(
                        row[0] for row in await conn.execute(text(f"EXPLAIN {compiled}"))
                    )
                    assert "Seq Scan on outbox_messages" not in plan, (name, plan)
                    assert "Index Cond" in plan and DROPPED not in plan, (name, plan)
        finally:
            await database.dispose()


def attempt(n: int) -> dict[str, Any]:
    now = time.time()
    return {"message_id": f"{n:032x}", "attempt": 1, "worker_id": "w", "started": now,
            "finished": now, "outcome": "sent"}  # fmt: skip
