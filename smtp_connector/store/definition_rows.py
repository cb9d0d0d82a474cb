"""A definition update's reads and writes as Core statements, not through an ORM session.

`DefinitionService.update` is what the admin page, every dialect and tenant_builds.py's churn
call to change a definition. Through an ORM session it cost about 3 ms of event-loop CPU per
update (two identity-map loads of the app, one of the definition, autoflush, the unit of
work's change tracking for three rows, an ORM audit row), all of it while every other app's
sends waited their turn at the loop. Here it is one `SELECT` of the app joined to the
definition, the changed columns written by one `UPDATE`, the version bump and the audit row as
plain statements in the same transaction; the rules (definitions.py: `apply_patch`, the
secret-travel check, validation) still run on a `DefinitionRow`, one that no session tracks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import AppRow, DefinitionRow, utcnow

_APPS = AppRow.__table__
_DEFS = DefinitionRow.__table__
_KEYS = tuple(column.key for column in _DEFS.columns)
# The app (to tell a missing app from a missing definition) and the definition's columns.
_READ = (
    select(_APPS.c.id, *_DEFS.columns)
    .select_from(
        _APPS.outerjoin(
            _DEFS, and_(_DEFS.c.id == bindparam("definition"), _DEFS.c.app_id == _APPS.c.id)
        )
    )
    .where(_APPS.c.id == bindparam("app"))
)
_BY_NAME = (
    select(_DEFS.c.id)
    .where(_DEFS.c.app_id == bindparam("app"), _DEFS.c.name == bindparam("name"))
    .limit(1)
)
_BUMP = (
    update(AppRow)
    .where(_APPS.c.id == bindparam("app"))
    .values(definitions_version=_APPS.c.definitions_version + 1, modified=bindparam("now"))
)
# Built once; the changed columns come as parameters (a statement per set of keys, cached).
_WRITE = update(DefinitionRow).where(_DEFS.c.id == bindparam("row_id"))
_OTHER_DEFAULTS = (
    update(DefinitionRow)
    .where(_DEFS.c.app_id == bindparam("app"), _DEFS.c.id != bindparam("definition"))
    .values(is_default=False)
)


def snapshot(row: DefinitionRow) -> dict[str, Any]:
    """Every column's value on `row` (secrets still encrypted)."""
    return {key: getattr(row, key) for key in _KEYS}


async def read_definition(
    connection: AsyncConnection, app_id: str, definition_id: str
) -> tuple[bool, DefinitionRow | None]:
    """(the app exists, its definition `definition_id` as a row no session tracks, or None)."""
    found = (await connection.execute(_READ, {"app": app_id, "definition": definition_id})).first()
    if found is None:
        return False, None
    if found[1] is None:  # the outer join found no such definition in this app
        return True, None
    return True, DefinitionRow(**dict(zip(_KEYS, found[1:], strict=True)))


async def name_taken(connection: AsyncConnection, app_id: str, name: str) -> bool:
    """True when a definition of the app already has this name."""
    found = await connection.execute(_BY_NAME, {"app": app_id, "name": name})
    return found.first() is not None


async def write_definition(
    connection: AsyncConnection, row: DefinitionRow, before: dict[str, Any]
) -> None:
    """Store `row`'s columns that differ from `before` (its snapshot as read), as the unit of
    work would (equal values are not written), and then, when `row` is the app's default now,
    clear the others' flag."""
    changed = {key: value for key, value in snapshot(row).items() if value != before[key]}
    if changed:
        await connection.execute(_WRITE, {**changed, "row_id": row.id})
    if row.is_default:
        await connection.execute(_OTHER_DEFAULTS, {"app": row.app_id, "definition": row.id})


async def bump_version(connection: AsyncConnection, app_id: str) -> None:
    """A new `definitions_version` for the app: senders rebuild their connector."""
    await connection.execute(_BUMP, {"app": app_id, "now": utcnow()})
