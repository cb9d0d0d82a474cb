"""Group dispatch (queue/dispatching.py): ids gather while an announcement is in flight and
go out together next; a failed announcement does not stop the ones after it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from waiting import eventually

from smtp_connector.queue.dispatching import GroupDispatch


async def test_ids_gather_while_one_announcement_is_in_flight() -> None:
    announced: list[list[str]] = []
    release = asyncio.Event()

    async def announce(ids: list[str]) -> None:
        announced.append(ids)
        if len(announced) == 1:
            await release.wait()  # the first announcement is slow

    dispatch = GroupDispatch(announce, size=3)
    dispatch.add("a")
    await asyncio.sleep(0)  # the first announcement starts with "a" alone
    for name in "bcdef":
        dispatch.add(name)
    release.set()
    await dispatch.flush()
    assert announced == [["a"], ["b", "c", "d"], ["e", "f"]]


async def test_a_failed_announcement_is_logged_and_the_next_ones_go_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    announced: list[list[str]] = []

    async def announce(ids: list[str]) -> None:
        if ids == ["bad"]:
            raise ConnectionError("database gone")
        announced.append(ids)

    dispatch = GroupDispatch(announce)
    with caplog.at_level(logging.ERROR, logger="smtp_connector.queue"):
        dispatch.add("bad")
        await dispatch.flush()
        dispatch.add("good")
        await dispatch.flush()
    assert announced == [["good"]]
    assert "announcing 1 queued message(s) failed" in caplog.text


async def test_announcements_under_load_are_paced_and_the_first_goes_at_once() -> None:
    loop = asyncio.get_running_loop()
    announced: list[tuple[list[str], float]] = []

    async def announce(ids: list[str]) -> None:
        announced.append((ids, loop.time()))

    # An interval long enough that "at once" and "waited" stay apart on a loaded machine; the
    # three later ids arrive together, before the first announcement's interval has run out.
    dispatch = GroupDispatch(announce, size=64, interval=1.0)
    started = loop.time()
    dispatch.add("a")
    await eventually(lambda: announced)  # the first goes out with "a" alone
    for name in "bcd":  # arrive within the interval: one job for the three
        dispatch.add(name)
    await dispatch.flush()
    assert [ids for ids, _ in announced] == [["a"], ["b", "c", "d"]]
    assert announced[0][1] - started < 0.5  # no wait after a quiet spell (not the interval)
    assert announced[1][1] - announced[0][1] >= 0.99  # the next one waited for the interval


async def test_a_full_batch_does_not_wait_for_the_interval() -> None:
    loop = asyncio.get_running_loop()
    announced: list[tuple[list[str], float]] = []

    async def announce(ids: list[str]) -> None:
        announced.append((ids, loop.time()))

    dispatch = GroupDispatch(announce, size=2, interval=60.0)
    dispatch.add("a")
    await asyncio.sleep(0)
    dispatch.add("b")
    dispatch.add("c")
    await asyncio.wait_for(dispatch.flush(), 15.0)  # far below the interval, on any machine
    assert [ids for ids, _ in announced] == [["a"], ["b", "c"]]
