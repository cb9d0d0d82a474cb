"""PostgreSQL's queue engine imports procrastinate and opens its pool on first use
(queue/distributed.py): a `serve` without a worker that queues nothing never loads it. Held
here: a first announcement or retry from an engine nobody opened stores the job an opened
engine stores; first users arriving together open it once; and `serve`'s start still refuses
a database without procrastinate's tables, asked on the store's connection, with the same
error. Real PostgreSQL, real `serve` processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import cli, env_with, postgres_database
from smtp_servers import free_port
from test_merged_writes import open_queue

from smtp_connector.queue.distributed import DELIVER_TASK, ProcrastinateEngine
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import upgrade

_COLUMNS = "queue_name, task_name, priority, lock, queueing_lock, args::text, status"
_ROW_IDS = st.lists(st.text("0123456789abcdef", min_size=32, max_size=32), min_size=1,
                    max_size=5, unique=True)  # fmt: skip


async def _jobs(url: str) -> list[tuple[Any, ...]]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
            [DELIVER_TASK],
        )
        return await cursor.fetchall()


async def _clear_jobs(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")


async def _stored_by(url: str, engine: ProcrastinateEngine, ids: list[str], at: float) -> Any:
    """The jobs one announcement of `ids` and one retry of the first id leave behind."""
    await _clear_jobs(url)
    try:
        await engine._announce(ids)
        await engine.dispatch_at(ids[0], at)
        await engine.dispatch_at(ids[0], at)  # a retry already waiting: not a second job
        return await _jobs(url)
    finally:
        await engine.aclose()


_FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # each example clears the jobs it made


@settings(max_examples=8, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(ids=_ROW_IDS)
def test_a_first_use_stores_the_jobs_an_opened_engine_stores(
    queue_url_postgres: str, ids: list[str]
) -> None:
    async def run() -> None:
        queue = await open_queue(queue_url_postgres)
        try:
            setup = ProcrastinateEngine(queue_url_postgres, queue.outbox)
            await setup.apply_schema()
            await setup.aclose()
            at = time.time() + 3600
            opened = ProcrastinateEngine(queue_url_postgres, queue.outbox)
            await opened.open()  # the engine as `serve` used to start it
            eager = await _stored_by(queue_url_postgres, opened, ids, at)
            fresh = ProcrastinateEngine(queue_url_postgres, queue.outbox)
            assert fresh._app is None  # nothing built, nothing imported for it yet
            lazy = await _stored_by(queue_url_postgres, fresh, ids, at)
            assert lazy == eager and len(eager) == 2
        finally:
            await _clear_jobs(queue_url_postgres)
            await queue.aclose()

    asyncio.run(run())


async def test_first_users_arriving_together_open_it_once(
    queue_url_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import procrastinate

    opened: list[object] = []
    real_open = procrastinate.App.open_async

    async def counting_open(self: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(self)
        return await real_open(self, *args, **kwargs)

    monkeypatch.setattr(procrastinate.App, "open_async", counting_open)
    queue = await open_queue(queue_url_postgres)
    engine = ProcrastinateEngine(queue_url_postgres, queue.outbox)
    try:
        await engine.apply_schema()
        await engine.aclose()
        opened.clear()
        engine = ProcrastinateEngine(queue_url_postgres, queue.outbox)
        at = time.time() + 3600
        await asyncio.gather(
            engine._announce(["a" * 32]), engine._announce(["b" * 32]),
            engine.dispatch_at("c" * 32, at), engine.require_schema(),
        )  # fmt: skip
        assert len(opened) == 1
        assert len(await _jobs(queue_url_postgres)) == 3
    finally:
        await engine.aclose()
        await _clear_jobs(queue_url_postgres)
        await queue.aclose()


def test_serve_refuses_a_database_without_procrastinate_tables(tmp_path: Path) -> None:
    """The store's schema is current, procrastinate's tables are not there: `serve` exits 2
    with the queue's one-line error before its port answers, as when procrastinate's own
    connection asked."""
    with postgres_database() as url:
        database = Database(url)

        async def migrate_store_only() -> None:
            try:
                await upgrade(database)
            finally:
                await database.dispose()

        asyncio.run(migrate_store_only())
        env = env_with(SMTP_CONNECTOR_SECRET_KEY=Fernet.generate_key().decode())
        refused = cli("serve", "--port", str(free_port()), "--database-url", url, env=env,
                      check=False)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert (
        "The database has no procrastinate tables yet: run `smtp-connector db upgrade "
        "--database-url ...` once."
    ) in refused.stderr
