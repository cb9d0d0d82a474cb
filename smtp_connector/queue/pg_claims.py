"""PostgreSQL: a job's claim and its apps' versions in one statement.

A delivery renders with the app's definitions and templates as they are when it delivers;
on PostgreSQL each claimed chunk read them with a query of its own through the store
(store/shared_reads.py), after the claim's: a round trip and the CPU around it per chunk
(issue 26 §1). Here the claim's `RETURNING` reads them too, as the SQLite outbox does inside
its claim transaction (sqlite_outbox.py): the statement's snapshot holds every change
committed before the claimed rows were queued, the same guarantee as the store's own read.
An app not found (deleted), or a database without the store's tables (an outbox opened
alone), leaves a claim's `versions` None: the delivery then reads for itself, as before.

The claim is otherwise `outbox._CLAIM_IDS` as driver SQL (same conditions, same columns):
the Core statement's expanding `IN` list was rendered again on each claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Connection

from .batching import Direct, run_direct

_RETURNING = (
    "RETURNING o.id, o.app_id, o.definition_ids, o.recipient, o.usage_type, o.payload, "
    "o.locale, o.attempts, o.max_attempts, o.expires_at"
)
_CLAIM = (
    "UPDATE outbox_messages AS o SET status = 'sending', worker_id = %(m_worker)s, "
    "lease_until = %(m_lease)s, attempts = o.attempts + 1, data_at = NULL, "
    "updated = %(m_now)s WHERE o.id = ANY(%(m_ids)s::text[]) AND o.status = 'queued' "
)
CLAIM_IDS = _CLAIM + _RETURNING
_VERSIONS = (
    ", (SELECT ARRAY[a.definitions_version, a.templates_version] "
    "FROM apps AS a WHERE a.id = o.app_id) AS versions"
)
CLAIM_IDS_WITH_VERSIONS = _CLAIM + _RETURNING + _VERSIONS
# `outbox._CLAIM_OVERDUE` as driver SQL (same conditions, order, limit and lock): what a job
# claims after its own rows, once per job, went through SQLAlchemy's engine (pg_direct.py).
_OVERDUE = (
    "UPDATE outbox_messages AS o SET status = 'sending', worker_id = %(m_worker)s, "
    "lease_until = %(m_lease)s, attempts = o.attempts + 1, data_at = NULL, "
    "updated = %(m_now)s WHERE o.id IN (SELECT d.id FROM outbox_messages AS d "
    "WHERE d.status = 'queued' AND d.next_attempt_at <= %(m_due)s "
    "ORDER BY d.next_attempt_at LIMIT %(m_limit)s FOR UPDATE SKIP LOCKED) "
)
CLAIM_OVERDUE = _OVERDUE + _RETURNING
CLAIM_OVERDUE_WITH_VERSIONS = _OVERDUE + _RETURNING + _VERSIONS
HAS_APPS = "SELECT to_regclass('apps') IS NOT NULL"


@dataclass(frozen=True)
class ClaimRows:
    """The op that claims `params["m_ids"]` still queued: their rows (with `versions`, a
    [definitions, templates] pair or None, when `with_versions`). One statement: alone in a
    batch it runs without BEGIN and COMMIT (merging.alone), and on psycopg directly
    (pg_direct.py)."""

    params: dict[str, Any]
    with_versions: bool
    overdue: bool = False  # rows due for a while (`m_due`, `m_limit`), not `m_ids`
    one_statement = True

    def __call__(self, conn: Connection) -> list[Any]:
        return cast(list[Any], run_direct(conn, self.direct()))

    def direct(self) -> Direct:
        if self.overdue:
            statement = CLAIM_OVERDUE_WITH_VERSIONS if self.with_versions else CLAIM_OVERDUE
        else:
            statement = CLAIM_IDS_WITH_VERSIONS if self.with_versions else CLAIM_IDS
        return statement, self.params, _rows


def _rows(found: list[Any] | None) -> list[Any]:
    return found or []


def claim_rows(params: dict[str, Any], with_versions: bool) -> ClaimRows:
    """The claim of `params["m_ids"]` (see `ClaimRows`)."""
    return ClaimRows(params, with_versions)


def has_apps(conn: Connection) -> bool:
    """Whether the store's `apps` table is in this database (the versions can be read)."""
    return bool(conn.exec_driver_sql(HAS_APPS).scalar())
