"""The SQLite outbox's thread (queue/writer_thread.py): calls run in the order handed over, on
one thread that is not the loop's, each caller gets its own result or exception, a caller
that stops waiting does not stop the thread, and `close` runs its last call after the rest."""

from __future__ import annotations

import asyncio
import threading

import pytest

from smtp_connector.queue.writer_thread import WriterThread


async def test_calls_run_in_order_on_one_other_thread() -> None:
    worker = WriterThread("test-writer")
    seen: list[tuple[int, int | None]] = []

    def call(i: int) -> int:
        seen.append((i, threading.get_ident()))
        return i * 10

    try:
        results = await asyncio.gather(*(worker.run(lambda i=i: call(i)) for i in range(50)))
    finally:
        worker.close(lambda: None)
    assert results == [i * 10 for i in range(50)]
    assert [i for i, _ in seen] == list(range(50))
    assert {ident for _, ident in seen} == {seen[0][1]} != {threading.get_ident()}


async def test_an_exception_reaches_its_caller_only() -> None:
    worker = WriterThread("test-writer")

    def broken() -> int:
        raise ValueError("database is locked")

    try:
        ok, failed, after = await asyncio.gather(
            worker.run(lambda: 1), worker.run(broken), worker.run(lambda: 3),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        worker.close(lambda: None)
    assert (ok, after) == (1, 3)
    assert isinstance(failed, ValueError) and str(failed) == "database is locked"


async def test_a_cancelled_caller_leaves_the_thread_working() -> None:
    worker = WriterThread("test-writer")
    release = threading.Event()
    ran: list[str] = []

    def slow() -> None:
        release.wait(5)
        ran.append("slow")

    try:
        waiting = asyncio.ensure_future(worker.run(slow))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await worker.run(lambda: "next") == "next"
    finally:
        order: list[str] = []
        worker.run(lambda: order.append("pending"))
        worker.close(lambda: order.append("last"))
    assert ran == ["slow"]
    assert order == ["pending", "last"]
