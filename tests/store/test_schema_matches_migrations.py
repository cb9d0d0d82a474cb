"""store/schema.py's Core tables are what the migrations make, on SQLite and PostgreSQL:
Alembic's own comparison (types included) of a migrated database with `schema.METADATA` finds
nothing to change in the store's tables (the queue's tables have their own metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from service_support import postgres_database
from sqlalchemy import Table

from smtp_connector.store.database import Database
from smtp_connector.store.migrate import upgrade
from smtp_connector.store.schema import METADATA
from smtp_connector.store.tables import Base


def _store_diffs(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, METADATA)
        if not (
            isinstance(diff, tuple)
            and diff[0] in ("remove_table", "remove_index")
            and _table_of(diff[1]) not in METADATA.tables
        )
    ]


def _table_of(item: Any) -> str:
    return str(item.name if isinstance(item, Table) else item.table.name)


async def _diffs(url: str) -> list[Any]:
    database = Database(url)
    try:
        await upgrade(database)
        async with database.engine.connect() as connection:
            return await connection.run_sync(_store_diffs)
    finally:
        await database.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_the_migrated_schema_is_schema_py(tmp_path: Path, engine: str) -> None:
    assert Base.metadata is METADATA  # the ORM classes are mapped onto these tables
    if engine == "sqlite":
        assert await _diffs(f"sqlite:///{tmp_path / 'schema.db'}") == []
    else:
        with postgres_database() as url:
            assert await _diffs(url) == []
