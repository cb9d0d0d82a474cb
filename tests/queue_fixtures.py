"""Fixtures for tests/queue (handed on by its conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import Queued, close_queued, open_queued, prepare_queue_schema, truncate_queue
from service_fixtures import _migrate
from service_support import in_ci, postgres_database


@pytest.fixture(scope="session")
def pg_queue_database() -> Iterator[str]:
    if not in_ci():
        pytest.importorskip("procrastinate", reason="the PostgreSQL queue needs the postgres extra")
    with postgres_database() as url:
        asyncio.run(_migrate(url))
        asyncio.run(prepare_queue_schema(url))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    url: str = request.getfixturevalue("pg_queue_database")
    truncate_queue(url)
    return url


@pytest.fixture
async def queued(queue_url: str) -> AsyncIterator[Queued]:
    opened = await open_queued(queue_url)
    yield opened
    await close_queued(opened)


@pytest.fixture
def queue_url_postgres(pg_queue_database: str) -> str:
    truncate_queue(pg_queue_database)
    return pg_queue_database
