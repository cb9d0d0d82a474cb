"""Issue 26 §5: a start on a current schema reads the version with one query and never
imports Alembic (a quarter of `serve`'s start-up); a schema behind is still migrated (SQLite)
or refused with the command to run (PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SECRET_KEY, postgres_database

from smtp_connector import ConnectorError
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    prepare_schema,
    upgrade,
)

OPEN_AND_REPORT = """
import asyncio, sys
from smtp_connector.store import Service
async def main():
    service = await Service.open(sys.argv[1], sys.argv[2])
    await service.aclose()
asyncio.run(main())
print("alembic" in sys.modules)
"""


def test_the_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def opens_with_alembic(url: str) -> bool:
    done = subprocess.run([sys.executable, "-c", OPEN_AND_REPORT, url, SECRET_KEY],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return done.stdout.strip() == "True"


def test_a_current_schema_is_opened_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    assert opens_with_alembic(url)  # a new database: migrated, with Alembic
    assert not opens_with_alembic(url)  # current now: one query, no Alembic


async def test_a_schema_behind_is_migrated_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(database, "0005")
        assert await current_revision(database) == "0005"
        await prepare_schema(database)
        assert await current_revision(database) == head_revision()
    finally:
        await database.dispose()


async def test_a_new_database_without_migrations_is_refused_with_the_command(
    tmp_path: Path,
) -> None:
    """The newcomer's case: migrations turned off on an empty database."""
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert await current_revision(database) is None
        with pytest.raises(ConnectorError) as refused:
            await prepare_schema(database, migrate=False)
        assert "smtp-connector db upgrade" in refused.value.message
        assert "nothing" in refused.value.message
    finally:
        await database.dispose()


async def test_postgres_behind_is_refused_not_migrated() -> None:
    with postgres_database() as url:
        database = Database(url)
        try:
            await upgrade(database, "0005")
            with pytest.raises(ConnectorError) as refused:
                await prepare_schema(database)  # PostgreSQL: an operator runs `db upgrade`
            assert "is at 0005" in refused.value.message
            assert await current_revision(database) == "0005"
            await upgrade(database)
            await prepare_schema(database)  # current: nothing to say
        finally:
            await database.dispose()
