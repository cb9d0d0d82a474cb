"""Instructions (valgrind) the PostgreSQL queue's own steps cost in one process: a figure the
shared machine's load does not move, where the service's CPU time does.

    python benchmarks/queue_instructions.py                                 # this tree
    python benchmarks/queue_instructions.py --compare ../base/.venv/bin/python

Two counts, each against a database made and dropped for it (127.0.0.1:5432, user postgres),
each the difference of two runs (SMALL and LARGE) so that start-up cancels out:
- `flow`: per message, enqueue (16 at once, as concurrent requests), the job's defer, its
  claim, the marks before DATA beside the previous chunk's "sent" completions (what a busy
  worker's group commit sees); no SMTP. How writes merge depends on timing, so repeated
  counts spread by about ±2 %.
- `batch`: per one-statement batch, one at a time (alternately durable and not), with no
  merging: the fixed cost of a trip through the group commit and SQLAlchemy's engine (an op
  without a driver form).
- `direct`: the same for a batch of one driver-form op (a claim of no rows), which runs on the
  queue's own psycopg connections (queue/pg_direct.py) where the tree has them.
- `defer`: per announcement of 16 new rows (one procrastinate job deferred by `serve`).
Needs Debian's `valgrind`; a few minutes per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from valgrind import instructions, require_valgrind

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SIZES = {"flow": (64, 448), "batch": (50, 250), "direct": (50, 250), "defer": (50, 250)}
CHUNK = 16


async def _flow(url: str, count: int) -> None:
    from smtp_connector.queue import Queue, QueueOptions
    from smtp_connector.queue.outbox import Claim, Finish, NewMessage

    queue = Queue(url, QueueOptions(engine="procrastinate"))
    engine, outbox = queue.distributed, queue.outbox
    assert engine is not None
    await engine.open()
    end = Finish("sent", "sent", message_id="<m@example.org>", server="127.0.0.1:25")
    previous: list[Claim] = []

    async def chunk(start: int) -> None:
        nonlocal previous
        news = [NewMessage("app-1", ("def-1",), f"user{start + i}@example.org", "SignIn",
                           {"code": f"{i:06d}"}, None, 5, time.time() + 600)
                for i in range(CHUNK)]  # fmt: skip
        ids = [m for m, _ in await asyncio.gather(*map(outbox.enqueue, news))]
        await engine._announce(ids)
        claims = await outbox.claim_ids(ids, "worker")
        await asyncio.gather(*map(outbox.mark_data, claims),
                             *(outbox.finish(c, end) for c in previous))  # fmt: skip
        previous = claims

    for start in range(-64, count, CHUNK):  # the first 64: warm-up
        await chunk(start + 10**6)
    await queue.aclose()


async def _batch(url: str, count: int) -> None:
    from smtp_connector.queue import Queue, QueueOptions
    from smtp_connector.queue.merging import OneStatement

    statement = "UPDATE outbox_messages SET updated = 0 WHERE id = 'none'"
    op = OneStatement(lambda conn: conn.exec_driver_sql(statement).rowcount)
    queue = Queue(url, QueueOptions(engine="embedded"))
    for i in range(20 + count):
        await queue.db.write(op, durable=bool(i % 2))
    await queue.db.dispose()


async def _direct(url: str, count: int) -> None:
    from smtp_connector.queue import Queue, QueueOptions
    from smtp_connector.queue.pg_claims import claim_rows

    params = {"m_now": 0.0, "m_worker": "none", "m_lease": 0.0, "m_ids": []}
    queue = Queue(url, QueueOptions(engine="embedded"))
    for i in range(20 + count):
        await queue.db.write(claim_rows(params, False), durable=bool(i % 2))
    await queue.db.dispose()


async def _defer(url: str, count: int) -> None:
    from smtp_connector.queue import Queue, QueueOptions

    queue = Queue(url, QueueOptions(engine="procrastinate"))
    engine = queue.distributed
    assert engine is not None
    await engine.open()
    ids = [f"{i:032x}" for i in range(CHUNK)]  # as outbox ids look
    for _ in range(20 + count):
        await engine._announce(ids)
    await queue.aclose()


def _count(python: str, kind: str, count: int) -> int:
    name = f"smtpc_qi_{kind}_{count}_{time.time_ns()}"
    subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        cli = str(Path(python).with_name("smtp-connector"))
        subprocess.run([cli, "db", "upgrade", "--database-url", url], check=True,
                       capture_output=True)  # fmt: skip
        return instructions([python, __file__, "--run", kind, url, str(count)])
    finally:
        subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                       check=False)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--kinds", default=",".join(SIZES), help="which counts (default: all)")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    if args.run:
        kind, url, count = args.run
        steps: dict[str, Any] = {"flow": _flow, "batch": _batch, "direct": _direct, "defer": _defer}
        asyncio.run(steps[kind](url, int(count)))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for kind in args.kinds.split(","):
        small, large = SIZES[kind]
        unit = {"flow": "message", "defer": "announcement of 16 rows"}.get(
            kind, f"one-statement batch ({kind})"
        )
        for name, python in trees.items():
            per = (_count(python, kind, large) - _count(python, kind, small)) / (large - small)
            print(f"{kind} ({name}): {per:,.0f} instructions per {unit}", flush=True)


if __name__ == "__main__":
    main()
