"""The SQLite writer thread's batch cursor, apart from `database.py` so that a PostgreSQL
process never imports `sqlite3` (its module, its extension and the SQLite library: about
1.5 MB of an idle `serve`'s memory)."""

from __future__ import annotations

import sqlite3
from typing import Any


class BatchCursor(sqlite3.Cursor):
    """The cursor of a driver batch (`database._driver_batch`). It also holds rows its ops left for
    later (`later`, by statement: sqlite_outbox's attempts rows), which go to SQLite as one
    `executemany` per statement after the last op, before the COMMIT: in the same transaction,
    durable at the same moment. A failed insert fails the batch, whose ops then run alone."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.later: dict[str, list[tuple[Any, ...]]] = {}
