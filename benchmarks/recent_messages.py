"""The admin page's message list (`GET /v1/apps/{id}/messages`): one page of an app's newest
queued messages, with and without a status filter, at 110,000 rows of that app among 200,000.

    .venv/bin/python benchmarks/recent_messages.py            # ≈ 20 s (SQLite)

Rows are written straight into a migrated SQLite outbox, then the query the route runs
(`Outbox.recent`) is timed for the first page, a page deep in the list (its cursor) and a
filtered page. With the (app_id, created, id) index of revision 0009 each is a range scan of
`limit` rows; before it, every page sorted all of the app's rows (about 84 ms at this size).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from smtp_connector.queue.database import QueueDatabase
from smtp_connector.queue.outbox import Outbox
from smtp_connector.store import Service
from smtp_connector.store.recent import RecentQuery

ROWS = 200_000
COLUMNS = ("id, app_id, definition_ids, recipient, usage_type, status, attempts, max_attempts, "
           "next_attempt_at, expires_at, created, updated")  # fmt: skip


def fill(path: Path, app: str) -> None:
    others = [uuid.uuid4().hex for _ in range(19)]
    now = time.time()
    rows = [
        (uuid.uuid4().hex, app if n % 2 == 0 else random.choice([app, *others]), "[]",
         f"user{n}@example.org", "SignIn", random.choice(["sent"] * 8 + ["failed", "abandoned"]),
         1, 3, now, now + 3600, now - n * 0.01, now - n * 0.01)
        for n in range(ROWS)
    ]  # fmt: skip
    with sqlite3.connect(path) as db:
        db.executemany(f"INSERT INTO outbox_messages ({COLUMNS}) VALUES ({', '.join('?' * 12)})",
                       rows)  # fmt: skip


async def timed(outbox: Outbox, query: RecentQuery, runs: int = 50) -> tuple[float, list[object]]:
    samples, rows = [], []
    for _ in range(runs):
        started = time.perf_counter()
        rows = await outbox.recent(query)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), rows


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        url = f"sqlite:///{path}"
        await (await Service.open(url, migrate=True)).aclose()
        app = uuid.uuid4().hex
        fill(path, app)
        outbox = Outbox(QueueDatabase(url), lease=60)
        first, rows = await timed(outbox, RecentQuery.parse(app, None, 10, None))
        deep = RecentQuery(app, None, 10, (rows[-1].created - 500.0, "f" * 32))
        filtered = RecentQuery.parse(app, "failed", 10, None)
        for name, query in (("first page", None), ("a page deep in the list", deep),
                            ("status=failed", filtered)):  # fmt: skip
            ms = first if query is None else (await timed(outbox, query))[0]
            print(f"{name:28} p50 {ms:6.2f} ms  (10 rows of ~110,000)")
        await outbox.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
