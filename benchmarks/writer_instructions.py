"""Instructions (valgrind) the embedded SQLite outbox's writes cost per message, with every
batch the same in every run: the part of issue 26 §1 that `worker_instructions.py` counts
with its noise (how many writes share a commit there depends on how the event loop and the
writer thread interleave under valgrind, ±2 % a message, more than a change of a few
thousand instructions).

    python benchmarks/writer_instructions.py                                 # this tree
    python benchmarks/writer_instructions.py --compare ../base/.venv/bin/python

A database migrated by the tree's own revisions (outside valgrind); then a process opens the
tree's `SqliteOutbox` on it and, BATCH messages at a time, enqueues them, claims them, marks
them and completes them as `sent`, each stage's writes handed over together so that each is
one group-committed transaction (the count of transactions is printed and checked). That
process runs under `valgrind --tool=callgrind` with SMALL and with LARGE messages; the
difference per message is printed for the event loop (building the ops, settling futures)
and for the writer thread (the driver's statements and SQLite's work). The kernel's disk work
is not counted. Needs Debian's `valgrind`; about a minute per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from valgrind import instructions_per_thread, require_valgrind  # noqa: E402

SMALL, LARGE, BATCH = 200, 1000, 8
# callgrind numbers threads in start order: the event loop, then the outbox's writer thread.
THREADS = {"01": "event loop", "02": "writer thread"}


async def _migrate(url: str) -> None:
    from smtp_connector.store.database import Database
    from smtp_connector.store.migrate import upgrade

    database = Database(url)
    await upgrade(database)
    await database.dispose()


async def _write(url: str, count: int) -> None:
    """`count` messages through the outbox's four writes, BATCH at a time."""
    from smtp_connector.queue.database import QueueDatabase
    from smtp_connector.queue.outbox import Finish, NewMessage
    from smtp_connector.queue.sqlite_outbox import SqliteOutbox

    box = SqliteOutbox(QueueDatabase(url), lease=60.0)
    batches = 0
    run = box.db._committer._commit  # counted: one transaction per stage of a batch

    async def counted(*args: Any) -> Any:
        nonlocal batches
        batches += 1
        return await run(*args)

    box.db._committer._commit = counted
    sent = Finish("sent", "sent", message_id="<1@example.org>", server="127.0.0.1:25",
                  definition_id="d1")  # fmt: skip
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        await asyncio.gather(*(
            box.enqueue(NewMessage(
                "app-1", ("d1",), f"user{i}@example.org", "SignIn",
                {"code": f"{i:06d}", "application": {"name": "Acme"}}, None, 5, 9e9,
            ))
            for i in range(start, start + size)
        ))  # fmt: skip
        claims = await box.claim_due("bench@host:1:abc", size)
        await asyncio.gather(*(box.mark_data(claim) for claim in claims))
        done = await asyncio.gather(*(box.finish(claim, sent) for claim in claims))
        if len(claims) != size or not all(done):
            raise SystemExit(f"batch at {start}: {len(claims)} claimed, {done}")
    await box.db.dispose()
    stages = 4 * -(-count // BATCH)
    if batches != stages:
        raise SystemExit(f"{batches} transactions where {stages} were meant: batches differ")


def _count(python: str, count: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/queue.db"
        subprocess.run([python, __file__, "--migrate", url], check=True, cwd=HERE)
        return instructions_per_thread([python, __file__, "--write", url, str(count)], THREADS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--migrate", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.migrate:
        asyncio.run(_migrate(args.migrate))
        return
    if args.write:
        asyncio.run(_write(args.write[0], int(args.write[1])))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small, large = _count(python, SMALL), _count(python, LARGE)
        per = {part: (large.get(part, 0) - small.get(part, 0)) / (LARGE - SMALL) for part in large}
        parts = ", ".join(f"{part} {value:,.0f}" for part, value in sorted(per.items()))
        print(f"{name}: {sum(per.values()):,.0f} instructions/message ({parts})", flush=True)


if __name__ == "__main__":
    main()
