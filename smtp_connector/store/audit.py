"""The audit log: one row per change, written in the same transaction as the change, so a
change without its audit line (or the reverse) cannot be committed.

Details hold field names and non-secret facts (host:port, error codes), never values of
secret fields: callers pass `changed_fields(...)`, not the payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from .database import Database
from .domain import Actor, AuditEntry
from .schema import audit_log

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

_INSERT = insert(audit_log)  # built once; the row's values come as parameters


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    app_id: str | None = None,
    target: str | None = None,
    success: bool = True,
    **details: Any,
) -> None:
    """Add an audit row to `session` (committed with the change it describes)."""
    from .tables import AuditRow  # a session's caller has the ORM loaded already

    session.add(AuditRow(**_values(actor, action, app_id, target, success, details)))


async def write(
    connection: AsyncConnection,
    actor: Actor,
    action: str,
    *,
    app_id: str | None = None,
    target: str | None = None,
    **details: Any,
) -> None:
    """`record`'s row, inserted by a Core statement in `connection`'s transaction (a change
    written without an ORM session, definition_rows.py)."""
    await connection.execute(_INSERT, _values(actor, action, app_id, target, True, details))


def _values(
    actor: Actor, action: str, app_id: str | None, target: str | None, success: bool,
    details: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    return {
        "actor": actor.name,
        "action": action,
        "app_id": app_id,
        "target": target,
        "success": success,
        "details": {k: v for k, v in details.items() if v is not None} or None,
    }


class AuditLog:
    """Read side of the audit log (for the admin page and operators)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def entries(
        self, actor: Actor, *, app_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first; an app-bound actor sees only its app's entries."""
        log = audit_log.c
        query = select(audit_log).order_by(log.id.desc()).limit(max(1, min(limit, 1000)))
        scope = actor.app_id or app_id
        if scope is not None:
            query = query.where(log.app_id == scope)
        async with self._db.engine.connect() as connection:  # Core: no ORM rows to build
            rows = (await connection.execute(query)).all()
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                app_id=row.app_id,
                target=row.target,
                success=row.success,
                details=row.details or {},
            )
            for row in rows
        ]
