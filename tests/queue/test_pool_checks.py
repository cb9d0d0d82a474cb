"""procrastinate's pool (queue/pool_checks.py): a connection handed back a moment ago goes out
again without the empty-query check; one idle for longer, or never handed back, is checked; a
dead one is replaced by the pool, as procrastinate's own check does. Real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from waiting import eventually

from smtp_connector.queue import pool_checks


def backend_alive(admin: Any, pid: int) -> bool:
    """Whether PostgreSQL still lists the backend `pid`."""
    found = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return found is not None


async def test_only_connections_idle_for_a_while_are_checked(
    queue_url_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psycopg_pool import AsyncConnectionPool

    checked: list[Any] = []

    async def check(conn: Any) -> None:
        checked.append(conn)
        await AsyncConnectionPool.check_connection(conn)

    # Long enough that "back a moment ago" holds between two checkouts on a loaded machine.
    monkeypatch.setattr(pool_checks, "CHECK_AFTER", 1.0)
    pool = pool_checks.pool_factory(conninfo=queue_url_postgres, min_size=1, max_size=1,
                                    open=False, check=check)  # fmt: skip
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:  # never handed back yet: checked
            first = conn
        async with pool.connection() as conn:  # back a moment ago: not checked
            assert conn is first and (await (await conn.execute("SELECT 1")).fetchone()) == (1,)
        assert checked == [first]
        await asyncio.sleep(1.2)
        async with pool.connection() as conn:  # idle for longer: checked again
            pass
        assert checked == [first, first]
    finally:
        await pool.close()


async def test_a_dead_connection_idle_for_a_while_is_replaced(
    queue_url_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setattr(pool_checks, "CHECK_AFTER", 0.1)
    pool = pool_checks.pool_factory(conninfo=queue_url_postgres, min_size=1, max_size=1,
                                    open=False)  # fmt: skip
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(queue_url_postgres, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            # pg_terminate_backend only signals the backend: wait until it is gone, or the
            # check may still find it alive on a loaded machine.
            await eventually(lambda: not backend_alive(admin, pid))
        await asyncio.sleep(0.3)  # idle past CHECK_AFTER
        async with pool.connection() as conn:
            assert conn.info.backend_pid != pid
            assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)
    finally:
        await pool.close()


async def test_procrastinate_queries_run_without_a_transaction_of_their_own(
    queue_url_postgres: str,
) -> None:
    """Each of procrastinate's queries is one statement: after it the server reports the
    session idle, not inside a transaction still to be committed (BEGIN and COMMIT would be
    two more round trips per defer, fetch and finish)."""
    from psycopg.pq import TransactionStatus

    from smtp_connector.queue import Queue, QueueOptions

    queue = Queue(queue_url_postgres, QueueOptions(engine="procrastinate"))
    assert queue.distributed is not None
    try:
        await queue.distributed.open()
        async with queue.distributed.app.connector.pool.connection() as conn:
            await conn.execute("SELECT count(*) FROM procrastinate_jobs")
            assert conn.info.transaction_status == TransactionStatus.IDLE
    finally:
        await queue.aclose()
