"""Fixtures shared by tests/store and tests/server (their conftest.py files hand them on).

`database_url` runs a test twice: on SQLite in a temp dir and on the machine's PostgreSQL
(a database created for this run and dropped at its end; skipped when unreachable, a
failure when CI=true).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from service_support import SECRET_KEY, in_ci, loopback_policy, postgres_database, truncate_postgres

if not in_ci():  # on CI a missing extra is a failure, not a skip
    pytest.importorskip("sqlalchemy", reason="the service tests need the `server` extra")

from smtp_connector.store import Service
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import upgrade


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with postgres_database() as url:
        asyncio.run(_migrate(url))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_database")
    truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    opened = await Service.open(database_url, SECRET_KEY, migrate=True, policy=loopback_policy())
    yield opened
    await opened.aclose()
