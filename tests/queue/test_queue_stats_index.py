"""`GET /v1/queue` and `/metrics` count the last minute's outcomes from an index (revision
0010), on SQLite and PostgreSQL: the count reads the last minute's attempts, not every attempt
the outbox ever recorded (a scrape used to cost more the older the database)."""

from __future__ import annotations

import time
from pathlib import Path

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import downgrade, postgres_database
from sqlalchemy import insert, inspect, text

from smtp_connector.queue.stats import outcomes_since
from smtp_connector.queue.tables import attempts
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import upgrade

INDEX = "ix_outbox_attempts_finished"


async def index_columns(database: Database) -> dict[str, list[str]]:
    async with database.engine.connect() as conn:
        found = await conn.run_sync(lambda c: inspect(c).get_indexes("outbox_attempts"))
    return {index["name"]: list(index["column_names"]) for index in found}


async def test_the_migration_adds_and_drops_the_index_on_sqlite(tmp_path: Path) -> None:
    await adds_and_drops_the_index(f"sqlite:///{tmp_path / 'queue.db'}")


async def test_the_last_minute_is_a_range_of_the_index_on_sqlite(tmp_path: Path) -> None:
    """SQLite's own plan, on a table with a day of old attempts: a search of the index alone
    (`COVERING INDEX … finished>?`), not a scan of the table; and the count is right."""
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    now = time.time()
    old = [row(f"{n:032x}", now - 86_400 + n, "sent") for n in range(500)]
    fresh = [row("f" * 32, now - 5, "sent"), row("e" * 32, now - 2, "retry")]
    try:
        await upgrade(database)
        async with database.engine.begin() as conn:
            await conn.execute(insert(attempts), old + fresh)
            query = outcomes_since(now - 60)
            compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            plan = (await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
            counts = dict((await conn.execute(query)).all())
        details = " ".join(str(step[-1]) for step in plan)
        assert f"COVERING INDEX {INDEX} (finished>?)" in details, details
        assert counts == {"sent": 1, "retry": 1}
    finally:
        await database.dispose()


async def test_the_migration_adds_and_drops_the_index_on_postgresql() -> None:
    with postgres_database() as url:
        await adds_and_drops_the_index(url)


async def adds_and_drops_the_index(url: str) -> None:
    """0009 → head adds the index on (finished, outcome); head → 0009 drops it."""
    database = Database(url)
    try:
        await upgrade(database, "0009")
        assert INDEX not in await index_columns(database)
        await upgrade(database)
        assert (await index_columns(database))[INDEX] == ["finished", "outcome"]
        await downgrade(database, "0009")
        assert INDEX not in await index_columns(database)
    finally:
        await database.dispose()


def row(message_id: str, finished: float, outcome: str) -> dict[str, object]:
    return {"message_id": message_id, "attempt": 1, "worker_id": "w", "started": finished - 0.1,
            "finished": finished, "outcome": outcome}  # fmt: skip
