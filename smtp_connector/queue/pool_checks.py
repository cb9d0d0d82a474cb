"""procrastinate's connection pool, checking a connection only when it has been idle a while.

procrastinate builds its psycopg pool with `check=check_connection`: every checkout — every
defer, job fetch and job finish — first sends an empty query and waits for its answer, a
round trip per query (a third of procrastinate's statements under a queued load, counted in
PostgreSQL's log; issue 26 §1). A connection handed back a moment ago is as alive as it was
then; one idle for longer than `CHECK_AFTER` seconds (a database restart, a firewall's idle
timeout) is still checked, and replaced by the pool when dead, as before.

The pool's connections are also in autocommit: each of procrastinate's queries is one
statement (a call of one of its SQL functions), and psycopg otherwise opens a transaction
for it — BEGIN, the query, COMMIT: three round trips for every defer, job fetch, finish and
heartbeat, where one does the same.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

CHECK_AFTER = 5.0  # seconds a connection may sit in the pool and be handed out unchecked


class _IdleChecks:
    """The pool's `check` and `reset` callbacks: when each connection came back, and a check
    on checkout only for one that has been back for a while (or never was)."""

    def __init__(self, check: Any) -> None:
        self._check = check
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def check(self, conn: Any) -> None:
        returned = self._returned.pop(conn, None)
        if returned is None or time.monotonic() - returned > CHECK_AFTER:
            await self._check(conn)

    async def reset(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()


async def _configure(conn: Any) -> None:
    """Each new pooled connection: one statement, one round trip (see the module's note).
    (Not the connection kwargs: procrastinate adds `autocommit=True` to those itself for
    its LISTEN connection, and the same keyword twice is an error.) Its tuples and lists,
    a deferred job's composite array, are written without a regex call per quote
    (pg_dumpers.py)."""
    from . import pg_dumpers

    await conn.set_autocommit(True)
    pg_dumpers.register(conn)


def pool_factory(**kwargs: Any) -> Any:
    """For `PsycopgConnector(pool_factory=...)`: procrastinate's pool with the idle check,
    its connections in autocommit, with the faster dumpers."""
    from psycopg_pool import AsyncConnectionPool

    checks = _IdleChecks(kwargs.pop("check", None) or AsyncConnectionPool.check_connection)
    return AsyncConnectionPool(
        **kwargs, check=checks.check, reset=checks.reset, configure=_configure
    )
