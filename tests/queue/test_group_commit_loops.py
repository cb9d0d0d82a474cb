"""The group commit's loops (queue/batching.py): `run` no longer rebuilds its task list per op;
a loop that ends takes itself off the list (a done callback). So: every loop of a
`parallel` committer still stops at `aclose`, and a loop broken by an unexpected error is
replaced, for ops queued before it broke as for later ones."""

from __future__ import annotations

import asyncio

from smtp_connector.queue.batching import GroupCommit, Ops, Outcome


async def _others() -> set[asyncio.Task[object]]:
    await asyncio.sleep(0)  # let done callbacks run
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_aclose_stops_every_loop_of_a_parallel_committer() -> None:
    async def commit(ops: Ops, durable: bool) -> list[Outcome]:
        await asyncio.sleep(0)
        return [(True, op(None)) for op, _ in ops]

    committer = GroupCommit(commit, parallel=3, by_durability=True)
    answers = await asyncio.gather(*(committer.run(lambda _, i=i: i) for i in range(6)))
    assert answers == list(range(6))
    assert len(await _others()) == 3
    await committer.aclose()
    assert await _others() == set()


async def test_a_broken_loop_is_replaced_for_ops_queued_before_and_after() -> None:
    broke = asyncio.Event()
    release = asyncio.Event()

    async def commit(ops: Ops, durable: bool) -> list[Outcome]:
        names = [op(None) for op, _ in ops]
        if "first" in names:  # a bug in the committer: the loop dies with the batch
            broke.set()
            await release.wait()
            raise RuntimeError("committer bug")
        return [(True, name) for name in names]

    committer = GroupCommit(commit)
    first = asyncio.ensure_future(committer.run(lambda _: "first"))
    await broke.wait()
    queued_meanwhile = asyncio.ensure_future(committer.run(lambda _: "second"))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.wait_for(queued_meanwhile, 5) == "second"
    assert await asyncio.wait_for(committer.run(lambda _: "third"), 5) == "third"
    assert not first.done()  # its batch's answer was lost with the loop (as before)
    first.cancel()
    await committer.aclose()
