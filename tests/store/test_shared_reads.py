"""Queued jobs of one app share the read of its versions (store/shared_reads.py): never a value
read before a caller arrived, one read for the callers of one turn, failures passed to all."""

from __future__ import annotations

import asyncio

import pytest

from smtp_connector.store.shared_reads import SharedReads


class Source:
    """A value that changes, read with a pause (as a database round trip has one)."""

    def __init__(self) -> None:
        self.value = 1
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail: Exception | None = None

    async def read(self, key: str) -> tuple[str, int]:
        self.reads += 1
        seen = self.value
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return key, seen


async def test_the_callers_of_one_turn_share_one_read() -> None:
    source = Source()
    reads = SharedReads(source.read)
    results = await asyncio.gather(*(reads.get("app") for _ in range(10)))
    assert results == [("app", 1)] * 10
    assert source.reads == 1
    await reads.get("other")
    assert source.reads == 2  # per key


async def test_a_caller_after_the_read_started_gets_a_newer_read() -> None:
    source = Source()
    source.release.clear()
    reads = SharedReads(source.read)
    first = asyncio.ensure_future(reads.get("app"))
    await asyncio.sleep(0.01)  # the first read has started (and is waiting)
    source.value = 2  # a change committed after it started
    second = asyncio.ensure_future(reads.get("app"))
    await asyncio.sleep(0.01)
    source.release.set()
    assert await first == ("app", 1)
    assert await second == ("app", 2)  # never the older value
    assert source.reads == 2


async def test_a_failed_read_fails_its_callers_and_the_next_call_reads_again() -> None:
    source = Source()
    source.fail = RuntimeError("database gone")
    reads = SharedReads(source.read)
    results = await asyncio.gather(*(reads.get("app") for _ in range(3)), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone"] * 3
    source.fail = None
    assert await reads.get("app") == ("app", 1)


async def test_a_cancelled_first_caller_leaves_the_others_a_value() -> None:
    source = Source()
    source.release.clear()
    reads = SharedReads(source.read)
    leader = asyncio.ensure_future(reads.get("app"))
    joiner = asyncio.ensure_future(reads.get("app"))
    await asyncio.sleep(0.01)
    leader.cancel()
    await asyncio.sleep(0)
    source.release.set()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await joiner == ("app", 1)  # read again for itself, not cancelled with the leader
