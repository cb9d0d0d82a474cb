"""PostgreSQL's group commit keeps durable writes (the mark before DATA, the enqueue) and the
others (claims, completions) in batches of their own (queue/batching.py `_take`): a batch
mixing them ran as a transaction — BEGIN, each statement, COMMIT, all waiting for the disk —
where apart each side is one statement in autocommit. Every caller must still get its own
answer, the rows must be what they were, and SQLite's single writer keeps one batch."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from test_merged_writes import claimed, log_lines, rows, sent

from smtp_connector.queue.batching import GroupCommit, Ops, Outcome


async def test_durable_and_other_writes_commit_in_batches_of_their_own() -> None:
    seen: list[tuple[list[str], bool]] = []

    async def commit(ops: Ops, durable: bool) -> list[Outcome]:
        names = [op(None) for op, _ in ops]
        seen.append((names, durable))
        await asyncio.sleep(0)
        return [(True, name) for name in names]

    committer = GroupCommit(commit, parallel=2, by_durability=True)
    writes = [("mark-1", True), ("finish-1", False), ("mark-2", True), ("claim", False)]
    answers = await asyncio.gather(
        *(committer.run(lambda _, n=name: n, durable=durable) for name, durable in writes)
    )
    await committer.aclose()
    assert answers == [name for name, _ in writes]
    assert sorted(seen) == [(["finish-1", "claim"], False), (["mark-1", "mark-2"], True)]


async def test_without_the_split_one_batch_takes_every_write() -> None:
    seen: list[tuple[list[str], bool]] = []

    async def commit(ops: Ops, durable: bool) -> list[Outcome]:
        seen.append(([op(None) for op, _ in ops], durable))
        return [(True, None) for _ in ops]

    committer = GroupCommit(commit)  # SQLite's: one writer, one transaction for all
    await asyncio.gather(committer.run(lambda _: "a", durable=True), committer.run(lambda _: "b"))
    await committer.aclose()
    assert seen == [(["a", "b"], True)]


async def test_a_mark_and_a_completion_at_once_run_without_a_transaction(
    queue_url_postgres: str,
) -> None:
    from test_merged_writes import open_queue

    queue = await open_queue(queue_url_postgres)
    commits: list[Any] = []

    def committed(conn: Any) -> None:
        commits.append(conn)

    engines = [queue.db.engine.sync_engine, queue.db._durable_engine.sync_engine]
    for engine in engines:
        event.listen(engine, "commit", committed)
    try:
        first, second = await claimed(queue, 2)
        await queue.outbox.mark_data(first)
        commits.clear()
        marked, finished = await asyncio.gather(
            queue.outbox.mark_data(second), queue.outbox.finish(first, sent(1))
        )
        assert (marked, finished) == (None, True)
        assert commits == []  # each its own statement in autocommit: no BEGIN … COMMIT
        found = await rows(queue, [first.id, second.id])
        assert [r["status"] for r in found] == ["sent", "sending"]
        assert found[1]["data_at"] is not None
        assert [r["outcome"] for r in await log_lines(queue, [first.id])] == ["sent"]
    finally:
        for engine in engines:
            event.remove(engine, "commit", committed)
        await queue.aclose()
