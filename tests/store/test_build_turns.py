"""While connectors are built in threads the interpreter hands its lock over in short turns
(store/switching.py), and the interval is restored once the last build has ended, whatever
the builds did (overlapping builds, a build that raised)."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)

from smtp_connector.store.connectors import ConnectorCache
from smtp_connector.store.switching import BUILD_TURN


async def test_a_build_runs_with_short_turns_and_the_interval_comes_back() -> None:
    before = sys.getswitchinterval()
    cache = ConnectorCache()
    try:
        during = await cache.run_build(sys.getswitchinterval)
    finally:
        await cache.aclose()
    assert during == BUILD_TURN < before
    assert sys.getswitchinterval() == before


async def test_overlapping_builds_keep_short_turns_until_the_last_one_ends() -> None:
    before = sys.getswitchinterval()
    first_may_end, second_started = threading.Event(), threading.Event()
    seen: list[float] = []

    def first() -> None:
        second_started.wait(5)
        first_may_end.wait(5)
        seen.append(sys.getswitchinterval())  # the second has ended: still short

    def second() -> None:
        second_started.set()
        seen.append(sys.getswitchinterval())

    caches = ConnectorCache(), ConnectorCache()  # two services in one process share the setting
    try:
        long_build = asyncio.ensure_future(caches[0].run_build(first))
        await caches[1].run_build(second)
        first_may_end.set()
        await long_build
    finally:
        for cache in caches:
            await cache.aclose()
    assert seen == [BUILD_TURN, BUILD_TURN]
    assert sys.getswitchinterval() == before


async def test_a_failed_build_restores_the_interval() -> None:
    before = sys.getswitchinterval()
    cache = ConnectorCache()

    def broken() -> None:
        raise ValueError("the build failed")

    try:
        with pytest.raises(ValueError, match="the build failed"):
            await cache.run_build(broken)
    finally:
        await cache.aclose()
    assert sys.getswitchinterval() == before
