"""The embedded (SQLite) outbox's hot writes as pre-written SQL on the driver.

Every queued message costs an insert, its share of a claim, the mark before DATA and the
completion (an update and an attempts row). Through SQLAlchemy Core each of those statements
pays for parameter processing, result set-up and the execution context around a few
microseconds of SQLite; profiled under `benchmarks/service.py --modes sqlite` that was more
CPU than SQLite itself. Here the same statements are plain SQL text run on the connection's
`sqlite3` driver inside the committer's transaction (`BEGIN IMMEDIATE` … `COMMIT`, unchanged),
with values converted as SQLAlchemy converts them for these tables (JSON columns: `json.dumps`,
so `None` is the JSON text `null`, as the Core path stores it; tests/queue/test_sqlite_outbox.py
compares the rows of both). Everything else — recovery, reads, PostgreSQL — is `Outbox`'s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, ClassVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

from . import plain_json
from .batching import DriverOp, InsertRow, Op
from .json_text import json_loads
from .outbox import Claim, Finish, Outbox, attempt_log
from .tables import attempts, outbox

# What the driver ops run their statements on: the `sqlite3` connection (an op alone) or the
# batch's one cursor of it (database.py `_driver_batch`); both have execute and executemany.
Driver = sqlite3.Connection | sqlite3.Cursor
_INSERT_COLUMNS = (
    "id", "app_id", "definition_ids", "recipient", "usage_type", "payload", "locale", "status",
    "attempts", "max_attempts", "next_attempt_at", "expires_at", "idempotency_key",
    "request_hash", "created", "updated",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"definition_ids", "payload"})
INSERT_MESSAGE = (
    f"INSERT INTO outbox_messages ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
)
# The due rows by their rowids (the table's own key): the subquery reads them from
# `ix_outbox_due` alone and the update finds each row directly, where selecting `id` read each
# row for its id and then searched the primary key's index for it (round 7, sqlite-13). Both
# walk `ix_outbox_due` in its order, so the same rows are claimed; the rowid is returned last.
CLAIM_DUE = (
    "UPDATE outbox_messages SET status = 'sending', attempts = attempts + 1, lease_until = ?, "
    "worker_id = ?, data_at = NULL, updated = ? WHERE rowid IN (SELECT rowid FROM "
    "outbox_messages WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at "
    "LIMIT ?) RETURNING id, app_id, definition_ids, recipient, usage_type, payload, locale, "
    "attempts, max_attempts, expires_at, rowid"
)
# The claimed apps' versions, in the claim's transaction (see `SqliteOutbox._claim_due_op`).
APP_VERSIONS = "SELECT id, definitions_version, templates_version FROM apps WHERE id IN ({})"
_MINE = "WHERE id = ? AND status = 'sending' AND worker_id = ? AND attempts = ?"
# The same conditions, the row found by the rowid its claim read (`Claim.row`). Only the row
# with that id can match, so where this changes a row the statement by id changes the same
# one; where it changes none (a VACUUM renumbered the rows, or the claim never had a rowid),
# the statement by id runs and answers (`_by_rowid_or_id`).
_MINE_AT = f"WHERE rowid = ? AND {_MINE[6:]}"
_MARK = "UPDATE outbox_messages SET data_at = ?, updated = ? "
MARK_DATA, MARK_DATA_AT = _MARK + _MINE, _MARK + _MINE_AT
_ENDED = "status = ?, updated = ?, lease_until = NULL, worker_id = NULL, last_error = ?"
_FINISH_SET = {
    "queued": f"UPDATE outbox_messages SET {_ENDED}, next_attempt_at = ?, data_at = NULL ",
    "sent": f"UPDATE outbox_messages SET {_ENDED}, finished = ?, payload = 'null', "
    "message_id = ?, server = ?, definition_id = ? ",
    "final": f"UPDATE outbox_messages SET {_ENDED}, finished = ?, payload = 'null' ",
}
FINISH = {status: update + _MINE for status, update in _FINISH_SET.items()}
FINISH_AT = {status: update + _MINE_AT for status, update in _FINISH_SET.items()}
_ATTEMPT_COLUMNS = (
    "message_id", "attempt", "worker_id", "started", "finished", "outcome", "error_code",
    "smtp_code", "server", "detail",
)  # fmt: skip
INSERT_ATTEMPT = (
    f"INSERT INTO outbox_attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ATTEMPT_COLUMNS))})"
)


def execute(raw: Driver, statement: str, values: tuple[Any, ...]) -> sqlite3.Cursor:
    """`statement` on the `sqlite3` connection (a `DriverOp`'s, in the transaction begun on
    it); a driver error is raised as SQLAlchemy raises it (`IntegrityError` for a unique key
    …)."""
    try:
        return raw.execute(statement, values)
    except sqlite3.Error as exc:
        raise _wrapped(statement, values, exc) from exc


def _wrapped(statement: str, values: Any, exc: sqlite3.Error) -> StatementError:
    # The values hold the message's payload (its code): never in an error's text.
    return DBAPIError.instance(statement, values, exc, sqlite3.Error, hide_parameters=True)


@dataclass(frozen=True)
class RawInsertRow(InsertRow):
    """An `InsertRow` of driver SQL: the enqueues of one batch are one `executemany`."""

    driver_only: ClassVar[bool] = True  # see batching.DriverOp

    def __call__(self, conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection), "the embedded outbox runs on SQLite only"
        self.driver(raw)

    def driver(self, raw: Driver) -> None:
        """The op on the `sqlite3` connection itself (batching.DriverOp)."""
        rows = self.values if isinstance(self.values, list) else [self.values]
        try:
            raw.executemany(self.statement, rows)
        except sqlite3.Error as exc:
            raise _wrapped(self.statement, rows, exc) from exc


# Picked by one C call per row rather than a generator over the columns (per message).
_PICK_INSERT = itemgetter(*_INSERT_COLUMNS)
_JSON_PLACES = tuple(i for i, name in enumerate(_INSERT_COLUMNS) if name in _JSON_COLUMNS)
_PICK_ATTEMPT = itemgetter(*_ATTEMPT_COLUMNS)
_IDS_PLACE = _INSERT_COLUMNS.index("definition_ids")
_PAYLOAD_PLACE = _INSERT_COLUMNS.index("payload")
# SQL NULL as it is bound cheaply. `sqlite3` binds `None` only after asking its adaptation
# protocol (on Python 3.11 a failed attribute lookup on `PrepareProtocol` that builds and drops
# an AttributeError: about 3,200 instructions per value, on the writer thread), while a float
# is bound as it is, and SQLite stores a NaN as NULL (`sqlite3VdbeMemSetDouble`). The rows are
# the same (tests/queue/test_sqlite_outbox.py compares them with the Core statements').
NULL = float("nan")
_NULLABLE_INSERT = tuple(
    i for i, name in enumerate(_INSERT_COLUMNS) if outbox.c[name].nullable and i not in _JSON_PLACES
)
_NULLABLE_ATTEMPT = tuple(i for i, name in enumerate(_ATTEMPT_COLUMNS) if attempts.c[name].nullable)


def _insert_values(values: dict[str, Any]) -> tuple[Any, ...]:
    row = list(_PICK_INSERT(values))
    row[_IDS_PLACE] = _definitions_text(row[_IDS_PLACE])
    row[_PAYLOAD_PLACE] = plain_json.dumps(row[_PAYLOAD_PLACE])  # json.dumps's text
    return _nulls_bound(row, _NULLABLE_INSERT)


def _nulls_bound(row: list[Any], places: tuple[int, ...]) -> tuple[Any, ...]:
    """`row` with each `None` at `places` (the nullable columns) as `NULL` (see there)."""
    for place in places:
        if row[place] is None:
            row[place] = NULL
    return tuple(row)


def _attempt_row(claim: Claim, end: Finish, detail: str | None, now: float) -> tuple[Any, ...]:
    """`attempt_log`'s row as the insert binds it. An attempt that ended without an error (a
    message sent) is written out without the log's dict: no error code or SMTP code, the
    server the end names; tests/queue/test_sqlite_outbox.py holds the rows to the Core path's."""
    if end.last_error is not None:
        log = attempt_log(claim, end, detail, now)
        return _nulls_bound(list(_PICK_ATTEMPT(log)), _NULLABLE_ATTEMPT)
    worker = claim.worker_id
    return (
        claim.id, claim.attempt, NULL if worker is None else worker, claim.started, now,
        end.outcome, NULL, NULL, end.server or NULL, NULL if detail is None else detail,
    )  # fmt: skip


def _claim(row: tuple[Any, ...], worker_id: str, now: float) -> Claim:
    """A claimed row (`CLAIM_DUE`'s columns, its rowid last) as a `Claim`, built with its
    fields in order (no keyword dict per row). `started` is the claim's own moment (`now`,
    bound as the rows' `updated`): the attempt starts with its claim, one clock read per
    claimed batch instead of one per row. The payload is the dict the JSON text was read into
    (fresh, no copy of it)."""
    (id_, app_id, definition_ids, recipient, usage_type, payload, locale, attempts,
     max_attempts, expires_at, rowid) = row  # fmt: skip
    # The ids before the payload, as the keyword construction evaluates them: a row broken in
    # both (never one this module wrote) raises the same error either way.
    definitions = _definitions(definition_ids)
    content = json_loads(payload) if payload is not None else None
    if type(content) is not dict:  # as `dict(content or {})`, errors and all
        content = dict(content or {})
    return Claim(
        id_, app_id, definitions, recipient, usage_type, content, locale,
        attempts, max_attempts, expires_at, worker_id, now, None, rowid,
    )  # fmt: skip


# A claimed row's definition ids, by their JSON text: the rows of one app carry the same text
# (the app's definitions when each was queued), so the text is parsed once, not per message.
# Only tuples of strings are kept (immutable, safe to share between claims); bounded.
_DEFINITIONS: dict[str, tuple[str, ...]] = {}
_DEFINITIONS_KEPT = 256


def _definitions(text: str | None) -> tuple[str, ...]:
    """`tuple(json_loads(text) or ())` (`()` for SQL NULL), remembered by its text."""
    if text is None:
        return ()
    found = _DEFINITIONS.get(text)
    if found is not None:
        return found
    value = tuple(json_loads(text) or ())
    if all(type(item) is str for item in value):
        if len(_DEFINITIONS) >= _DEFINITIONS_KEPT:
            _DEFINITIONS.clear()
        _DEFINITIONS[text] = value
    return value


# A queued row's definition ids as JSON text, by the ids: every send of an app carries the same
# ones (its definitions), so the text is written once (8,300 instructions a send, now ~5,000),
# as `_definitions` above reads it once. Only lists of exact strings are looked up and kept
# (their text is the strings' alone; a subclass could compare equal to another string); at most
# `_DEFINITIONS_KEPT`, cleared when full.
_DEFINITION_TEXTS: dict[tuple[str, ...], str] = {}
_EXACT_STR = frozenset({str})


def _definitions_text(ids: Any) -> str:
    """`plain_json.dumps(ids)` (json.dumps's text), remembered for a list of strings."""
    if type(ids) is not list or not _EXACT_STR.issuperset(map(type, ids)):
        return plain_json.dumps(ids)
    key = tuple(ids)
    text = _DEFINITION_TEXTS.get(key)
    if text is None:
        text = plain_json.dumps(ids)
        if len(_DEFINITION_TEXTS) >= _DEFINITIONS_KEPT:
            _DEFINITION_TEXTS.clear()
        _DEFINITION_TEXTS[key] = text
    return text


_BY_ID = attrgetter("id")


def _read_versions(raw: Driver, claims: list[Claim]) -> None:
    """Give each claim its app's versions, read here on the writer thread in the claim's own
    transaction: the store's database is this one (the outbox's tables are its migrations'),
    and a transaction that sees a queued row sees every change committed before the row was
    queued — the same guarantee as the store's own read at delivery (deliver_now), which
    otherwise costs a read through `aiosqlite` per claimed batch. An app not found (deleted)
    leaves `versions` None, and so does a database without the store's tables (an outbox
    opened alone, as some tests do): the delivery then reads for itself, as before."""
    apps = sorted({claim.app_id for claim in claims})
    if not apps:
        return
    statement = APP_VERSIONS.format(", ".join("?" * len(apps)))
    try:  # a failed SELECT leaves SQLite's transaction (and the claim) as it was
        rows = execute(raw, statement, tuple(apps)).fetchall()
    except OperationalError:
        return
    found = {app: (defs, templates) for app, defs, templates in rows}
    for claim in claims:
        claim.versions = found.get(claim.app_id)


def _insert_attempt(raw: Driver, row: tuple[Any, ...]) -> None:
    """An attempts row: in a driver batch (batch_cursor.BatchCursor) left for the batch's one
    `executemany` of them before its COMMIT (no op of a batch reads the attempts it wrote;
    the rows, their order and ids are the same); for an op run alone, inserted now."""
    later = getattr(raw, "later", None)
    if later is None:
        execute(raw, INSERT_ATTEMPT, row)
    else:
        later.setdefault(INSERT_ATTEMPT, []).append(row)


def _by_rowid_or_id(raw: Driver, at_row: str, by_id: str, located: tuple[Any, ...]) -> int:
    """The rows a claim's update changed. `located`: its values, then the rowid its claim
    read (None: none was read), then its conditions (id, worker, attempt). By the rowid when
    there is one (`_MINE_AT`); by id when there is none or the rowid found no such row: the
    answer and the rows of the statement by id alone (tests/queue/test_claim_rowids.py).
    Runs on the writer thread; the event loop only builds `located`."""
    if located[-4] is not None:
        changed = execute(raw, at_row, located).rowcount
        if changed == 1:
            return changed
    return execute(raw, by_id, located[:-4] + located[-3:]).rowcount


class SqliteOutbox(Outbox):
    """`Outbox` with its per-message writes as driver statements (same rows, same results)."""

    def _insert_op(self, values: dict[str, Any]) -> Op:
        # Still an `InsertRow`: the enqueues of one batch go to SQLite as one executemany.
        return RawInsertRow(INSERT_MESSAGE, _insert_values(values))

    def _claim_due_op(self, params: dict[str, Any], limit: int) -> Callable[..., list[Claim]]:
        worker_id, now = params["m_worker"], params["m_now"]
        values = (params["m_lease"], worker_id, now, now, limit)

        def op(raw: Driver) -> list[Claim]:
            rows = execute(raw, CLAIM_DUE, values).fetchall()
            claims = sorted((_claim(row, worker_id, now) for row in rows), key=_BY_ID)
            _read_versions(raw, claims)
            return claims

        return DriverOp(op)

    def _mark_data_op(self, claim: Claim, now: float) -> Callable[[Connection], int]:
        located = (now, now, claim.row, claim.id, claim.worker_id, claim.attempt)
        return DriverOp(lambda raw: _by_rowid_or_id(raw, MARK_DATA_AT, MARK_DATA, located))

    def _finish_op(
        self, claim: Claim, end: Finish, detail: str | None, now: float
    ) -> Callable[[Connection], bool]:
        # `json.dumps(None)` is "null": the JSON text the Core path stores for no error.
        error = "null" if end.last_error is None else json.dumps(end.last_error)
        status = end.status
        values: tuple[Any, ...]
        if status == "queued":
            kind, values = "queued", (status, now, error, end.next_attempt_at)
        elif status == "sent":
            kind = "sent"
            values = (status, now, error, now, end.message_id, end.server, end.definition_id)
        else:
            kind, values = "final", (status, now, error, now)
        at_row, by_id = FINISH_AT[kind], FINISH[kind]
        # Joined, not unpacked: `(*values, …)` builds a list first (on the loop, per message).
        located = values + (claim.row, claim.id, claim.worker_id, claim.attempt)  # noqa: RUF005
        attempt = _attempt_row(claim, end, detail, now)

        def op(raw: Driver) -> bool:
            if _by_rowid_or_id(raw, at_row, by_id, located) != 1:
                return False
            _insert_attempt(raw, attempt)
            return True

        return DriverOp(op)
