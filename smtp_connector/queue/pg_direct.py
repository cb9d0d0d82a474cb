"""PostgreSQL: the queue's hot batches on psycopg connections of its own, not SQLAlchemy's.

Every enqueue batch, claim, batch of marks before DATA and batch of "sent" completions is one
statement of driver SQL already (merging.py, pg_claims.py). Run through the async engine, a
one-statement batch cost about 730,000 instructions (benchmarks/queue_instructions.py
`batch`): the pool's checkout and return with their events, a greenlet for `run_sync`,
SQLAlchemy's cursor and result wrapping, the bridge back to the event loop — several times
the statement's own cost in psycopg (issue 26 §1). Here such a batch runs on a connection
this module keeps: the same SQL and parameters, the same session settings (autocommit,
`synchronous_commit` on or off by the batch's durability), the same transactions (each
statement alone, or one `BEGIN … COMMIT` around a durable batch of several; see
database.py `_async_transaction`), and each op's result read from the rows as its SQLAlchemy
form reads them (batching.run_direct).

Anything else goes the usual way, and so does any failure: a batch that cannot run here (an op
without a driver form, a savepoint, no connection) returns None, and a statement that fails
is reported as not run, so the caller runs its ops again through SQLAlchemy — a failed
statement committed nothing, and the error the caller sees is the one it saw before (its
type, its message cut to the primary line, no parameters).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import URL

from .batching import Direct, Ops, Outcome
from .json_text import json_loads

RETRY_CONNECT_AFTER = 5.0  # seconds without direct batches after a failed connect
# One op's outcome, or None: its statement failed (nothing committed); run it again the
# usual way.
Outcomes = list[Outcome | None]


def directs(runnable: Ops) -> list[Direct] | None:
    """The driver form of every op of a (merged) batch, or None when one has none or needs a
    savepoint."""
    found: list[Direct] = []
    for op, isolated in runnable:
        make = getattr(op, "direct", None)
        try:  # a form that cannot be built: the usual way, which reports the error as before
            direct = None if isolated or make is None else make()
        except Exception:
            return None
        if direct is None:
            return None
        found.append(direct)
    return found


class DirectConnections:
    """The psycopg connections of one durability, kept open between batches (at most as many
    as batches run at once: the group commit's `parallel`)."""

    def __init__(self, url: URL, durable: bool) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._options = f"-c synchronous_commit={'on' if durable else 'off'}"
        self._idle: list[Any] = []
        self._down_until = 0.0  # after a failed connect: the usual way for a while

    async def run(self, statements: list[Direct], transaction: bool) -> Outcomes | None:
        """The statements, each alone (autocommit) or all in one transaction; None when the
        batch did not run here (no connection, or its transaction failed and rolled back)."""
        conn = await self._take()
        if conn is None:
            return None
        broken = True
        try:
            if transaction:
                outcomes = await _in_transaction(conn, statements)
            else:
                outcomes = [await _alone(conn, direct) for direct in statements]
            broken = outcomes is None or conn.closed or conn.broken
            return outcomes
        finally:
            if broken:
                with contextlib.suppress(Exception):
                    await conn.close()
            else:
                self._idle.append(conn)

    async def _take(self) -> Any:
        if self._idle:
            return self._idle.pop()
        if time.monotonic() < self._down_until:
            return None
        import psycopg
        from psycopg.rows import namedtuple_row
        from psycopg.types.json import set_json_loads

        try:  # rows read by attribute, as SQLAlchemy's are (a claim's `row.id`)
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, options=self._options,
                row_factory=namedtuple_row,
            )  # fmt: skip
        except Exception:
            self._down_until = time.monotonic() + RETRY_CONNECT_AFTER
            return None
        set_json_loads(json_loads, conn)  # a claim's payload and definition ids
        return conn

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()


async def _rows(conn: Any, sql: str, params: dict[str, Any]) -> list[Any] | None:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall() if cursor.description is not None else None


async def _alone(conn: Any, direct: Direct) -> Outcome | None:
    """One statement, its own transaction (autocommit); None when it failed. The op's result
    is read from the rows outside the `try`: a statement that ran is never run again."""
    sql, params, finish = direct
    try:
        found = await _rows(conn, sql, params)
    except Exception:
        return None
    return _read(finish, found)


def _read(finish: Callable[[list[Any] | None], Any], found: list[Any] | None) -> Outcome:
    """The op's result from its statement's rows, or the error reading them raised."""
    try:
        return True, finish(found)
    except Exception as exc:
        return False, exc


async def _in_transaction(conn: Any, statements: list[Direct]) -> Outcomes | None:
    """BEGIN, the statements, COMMIT; None when any failed (all rolled back)."""
    try:
        async with conn.transaction():
            found = [await _rows(conn, sql, params) for sql, params, _ in statements]
    except Exception:
        return None
    return [_read(finish, rows) for (_, _, finish), rows in zip(statements, found, strict=True)]
