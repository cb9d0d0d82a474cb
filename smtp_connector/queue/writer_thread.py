"""The one thread that runs the embedded outbox's SQLite work, in order.

Every group-committed batch (and every read) of the SQLite outbox crosses from the event loop
to this thread and back. Through `loop.run_in_executor` each crossing built a work item, a
`concurrent.futures.Future` with its condition variable, and an asyncio future chained to it
(two callbacks and a state copy); profiled under `benchmarks/service.py --modes sqlite` that
cost about as much CPU as the statements of a small batch. Here a call is one queue entry and
one `call_soon_threadsafe` that settles the caller's future.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WriterThread:
    """Runs callables on one daemon thread; `run` returns a future of the caller's loop."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """`call()` on the thread, after every call handed over before it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call))
        return future

    def close(self, last: Callable[[], object]) -> None:
        """Run `last` after the calls already handed over, then end the thread (blocking)."""
        self._jobs.put((_NO_LOOP, _NO_FUTURE, last))
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            try:
                outcome: tuple[bool, Any] = (True, call())
            except BaseException as exc:  # handed to the caller, as run_in_executor does
                outcome = (False, exc)
            if loop is _NO_LOOP:
                continue
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():
        return  # the caller gave up waiting; what ran on the thread stands (or failed)
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_NO_LOOP: Any = object()
_NO_FUTURE: Any = object()
