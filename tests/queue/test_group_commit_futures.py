"""The group commit's `run` (queue/batching.py) is a plain function returning the op's future,
not a coroutine: a write costs no coroutine of its own. What callers saw stays as it was:
writes made together share one batch in the order they were made, each caller gets its own
result or error, a caller that gives up does not take its write back, and the batches after
it are committed as before. An op is queued when `run` is called (before, when its coroutine
first ran): the queue's own callers await it at once, inside coroutines of their own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.queue.batching import GroupCommit, Ops, Outcome


class _Boom(Exception):
    pass


def _committer(batches: list[list[Any]]) -> GroupCommit:
    async def commit(ops: Ops, durable: bool) -> list[Outcome]:
        await asyncio.sleep(0)
        names = [op(None) for op, _ in ops]
        batches.append(names)
        return [(False, _Boom(n)) if str(n).startswith("x") else (True, n) for n in names]

    return GroupCommit(commit)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "x1", "x2"]), min_size=1, max_size=5),
                min_size=1, max_size=4))  # fmt: skip
def test_writes_made_together_share_a_batch_each_with_its_own_answer(
    rounds: list[list[str]],
) -> None:
    async def scenario() -> list[Any]:
        batches: list[list[Any]] = []
        committer = _committer(batches)
        answers = []
        for round_number, names in enumerate(rounds):
            ops = [f"{name}-{round_number}-{i}" for i, name in enumerate(names)]
            # Half awaited through a coroutine of the caller's, as `Outbox` methods do.

            async def through(op: str) -> Any:
                return await committer.run(lambda _, o=op: o)

            waits = [through(op) if i % 2 else committer.run(lambda _, o=op: o)
                     for i, op in enumerate(ops)]  # fmt: skip
            found = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), 10)
            answers.append([repr(a) for a in found])
        await committer.aclose()
        return [answers, batches]

    answers, batches = asyncio.run(scenario())
    for names, found in zip(rounds, answers, strict=True):
        assert [a.startswith("_Boom") for a in found] == [n.startswith("x") for n in names]
    # An op is queued when `run` is called: the direct writes of a round in call order, then
    # those made inside the callers' coroutines, in the order the coroutines ran.
    expected = []
    for r, names in enumerate(rounds):
        ops = [f"{name}-{r}-{i}" for i, name in enumerate(names)]
        expected += ops[0::2] + ops[1::2]
    assert [op for batch in batches for op in batch] == expected
    # A round's writes share a batch, except that the first starts the loop: at most two.
    assert len(batches) <= 2 * len(rounds)


async def test_a_caller_that_gives_up_keeps_its_write_and_the_others_theirs() -> None:
    batches: list[list[Any]] = []
    committer = _committer(batches)
    gave_up = asyncio.ensure_future(committer.run(lambda _: "cancelled"))
    kept = committer.run(lambda _: "kept")
    gave_up.cancel()
    assert await asyncio.wait_for(kept, 10) == "kept"
    with pytest.raises(asyncio.CancelledError):
        await gave_up
    assert await asyncio.wait_for(committer.run(lambda _: "later"), 10) == "later"
    assert [op for batch in batches for op in batch] == ["cancelled", "kept", "later"]
    await committer.aclose()
