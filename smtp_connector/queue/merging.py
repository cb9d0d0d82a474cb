"""PostgreSQL: the attempts' marks and completions of one shared transaction as one statement.

A worker's group commit puts every write that arrives at the same moment into one transaction,
but each write was still its own statement: the mark before DATA one `UPDATE`, a completion an
`UPDATE` and an `INSERT` into the attempts log, each a round trip to the server and a trip
through SQLAlchemy and psycopg. Those per-statement costs were most of a PostgreSQL worker's
CPU (issue 26 §1, py-spy). Here the marks of a batch become one `UPDATE … FROM
json_to_recordset(…)` and its "sent" completions one statement that updates the rows and
logs the attempts of those that were still the claim's.

Each op stays a plain function of a `Connection` running the single-row statement (what SQLite
runs, and what PostgreSQL runs for a batch of one or after a failed batch); `run_merged`
groups the mergeable ops of a batch and hands each caller the result its own op would have
given: 1/0 rows for a mark, True/False for a completion. The rows written are the same; the
merged statements name the same conditions (row id, status `sending`, worker, attempt).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, Float, Integer
from sqlalchemy.engine import Connection

from .batching import Direct, InsertRow, Ops, Outcome, run_direct, transaction
from .tables import outbox

_MARK_MANY = """
UPDATE outbox_messages AS o SET data_at = v.now, updated = v.now
  FROM json_to_recordset(%(rows)s::json) AS v(id text, worker_id text, attempt int, now float8)
 WHERE o.id = v.id AND o.status = 'sending' AND o.worker_id = v.worker_id
   AND o.attempts = v.attempt
RETURNING o.id
"""
# A "sent" completion: the row's final state (as _FINISH["sent"] writes it: JSON null in
# last_error and payload, the code gone) and its attempts-log line, for the rows still held.
_SENT_MANY = """
WITH v AS (
  SELECT * FROM json_to_recordset(%(rows)s::json)
         AS v(id text, worker_id text, attempt int, now float8, started float8,
              message_id text, server text, definition_id text, detail text)
), done AS (
  UPDATE outbox_messages AS o
     SET status = 'sent', updated = v.now, lease_until = NULL, worker_id = NULL,
         last_error = 'null'::json, finished = v.now, payload = 'null'::json,
         message_id = v.message_id, server = v.server, definition_id = v.definition_id
    FROM v
   WHERE o.id = v.id AND o.status = 'sending' AND o.worker_id = v.worker_id
     AND o.attempts = v.attempt
  RETURNING o.id
)
INSERT INTO outbox_attempts (message_id, attempt, worker_id, started, finished, outcome,
                             error_code, smtp_code, server, detail)
SELECT v.id, v.attempt, v.worker_id, v.started, v.now, 'sent', NULL, NULL, v.server, v.detail
  FROM v JOIN done ON done.id = v.id
 ORDER BY v.id
RETURNING message_id
"""


@dataclass(frozen=True)
class MarkData:
    """The never-twice mark of one attempt: its row's `data_at`, if the row is still its."""

    statement: Any
    params: dict[str, Any]

    merge_key = "mark"

    @property
    def row_id(self) -> str:
        return str(self.params["m_id"])

    def __call__(self, conn: Connection) -> int:
        return int(conn.execute(self.statement, self.params).rowcount)

    @staticmethod
    def many(ops: Sequence[MarkData]) -> Direct:
        """The marks as one statement; each op's result: 1 (marked) or 0 (not its row)."""
        rows = [
            {"id": x["m_id"], "worker_id": x["m_worker"], "attempt": x["m_attempt"],
             "now": x["m_now"]}
            for x in (op.params for op in ops)
        ]  # fmt: skip

        def finish(found: list[Any] | None) -> list[Any]:
            done = {row[0] for row in found or ()}
            return [1 if op.row_id in done else 0 for op in ops]

        return _MARK_MANY, _as_json(rows), finish


@dataclass(frozen=True)
class FinishAttempt:
    """An attempt's outcome and its line in the attempts log, in one go; False (nothing
    written) when the row is no longer the claim's. "sent" ones merge; the rest (retries,
    failures, expiries: rare) run one by one."""

    statement: Any
    params: dict[str, Any]
    log: dict[str, Any]
    log_statement: Any

    @property
    def merge_key(self) -> str | None:
        return "sent" if self.params["v_status"] == "sent" else None

    @property
    def row_id(self) -> str:
        return str(self.params["m_id"])

    def __call__(self, conn: Connection) -> bool:
        if conn.execute(self.statement, self.params).rowcount != 1:
            return False
        conn.execute(self.log_statement, self.log)
        return True

    @staticmethod
    def many(ops: Sequence[FinishAttempt]) -> Direct:
        """The "sent" completions as one statement; each op's result: True when written."""
        rows = [
            {"id": p["m_id"], "worker_id": p["m_worker"], "attempt": p["m_attempt"],
             "now": p["v_now"], "started": log["started"], "message_id": p["v_message_id"],
             "server": p["v_server"], "definition_id": p["v_definition_id"],
             "detail": log["detail"]}
            for p, log in ((op.params, op.log) for op in ops)
        ]  # fmt: skip

        def finish(found: list[Any] | None) -> list[Any]:
            done = {row[0] for row in found or ()}
            return [op.row_id in done for op in ops]

        return _SENT_MANY, _as_json(rows), finish


def _nothing(found: list[Any] | None) -> None:
    """An insert's result: none."""


def _as_json(rows: list[dict[str, Any]]) -> dict[str, str]:
    """A merged statement's rows as one JSON text (`json_to_recordset`), not an array per
    column: psycopg dumps each array element in Python (a regex per element), which cost
    about a tenth of a worker's CPU; `json.dumps` is C. Floats go as their shortest repr,
    which PostgreSQL reads back to the same float8 (test_merged_writes.py checks it)."""
    return {"rows": json.dumps(rows)}


@cache
def _insert_many(columns: tuple[str, ...]) -> str:
    """`INSERT … SELECT FROM json_to_recordset(…)` into the outbox: the rows as one JSON text,
    each column read as its table type (JSON columns as their text, cast per row)."""
    kinds = ", ".join(f"{name} {_record_type(outbox.c[name].type)}" for name in columns)
    picked = ", ".join(f"v.{name}::json" if _is_json(name) else f"v.{name}" for name in columns)
    names = ", ".join(columns)
    return (f"INSERT INTO outbox_messages ({names}) SELECT {picked} "
            f"FROM json_to_recordset(%(rows)s::json) AS v({kinds})")  # fmt: skip


@cache
def _json_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in columns if _is_json(name))


def _is_json(column: str) -> bool:
    return isinstance(outbox.c[column].type, JSON)


def _record_type(kind: Any) -> str:
    """A column's type in the record: JSON columns as text (their JSON text, see
    `InsertMessages`), numbers as themselves, the rest as text."""
    if isinstance(kind, JSON):
        return "text"
    return "int" if isinstance(kind, Integer) else "float8" if isinstance(kind, Float) else "text"


@dataclass(frozen=True)
class InsertMessages(InsertRow):
    """New outbox rows. The enqueues of one batch (`values`: a list) go to PostgreSQL as one
    statement, so a batch of only enqueues runs without BEGIN and COMMIT (`alone`): one round
    trip to a durable commit instead of three (issue 26 §1: the enqueue's latency). The rows
    travel as one JSON text (`json_to_recordset`), not an array per column: psycopg dumped
    each array element in Python (a regex per element), about 7 % of `serve`'s CPU under the
    queued load (py-spy), as it was for the merged marks. A JSON column's value goes as its
    own JSON text (`json.dumps`, so None is the JSON text null, as the Core JSON type writes
    it; a JSON null in the record would be read as SQL NULL). The rows equal those of the
    Core `INSERT` run per row; tests/queue/test_merged_inserts.py compares both. One row not
    in a list, or another database: the Core statement."""

    one_statement = True

    def __call__(self, conn: Connection) -> None:
        if not isinstance(self.values, list) or conn.dialect.name != "postgresql":
            conn.execute(self.statement, self.values)
            return
        run_direct(conn, self._direct())

    def direct(self) -> Direct | None:
        """The driver form of a batch's rows (a list); None for one row alone."""
        return self._direct() if isinstance(self.values, list) else None

    def _direct(self) -> Direct:
        columns = tuple(self.values[0])
        encoded = _json_columns(columns)
        rows = [row | {name: json.dumps(row[name]) for name in encoded} for row in self.values]
        return _insert_many(columns), _as_json(rows), _nothing


@dataclass(frozen=True)
class OneStatement:
    """An op known to run exactly one statement (a claim): alone in a batch, PostgreSQL runs
    it without BEGIN and COMMIT around it (`alone`), as atomic and one round trip, not three."""

    op: Callable[[Connection], Any]
    one_statement = True

    def __call__(self, conn: Connection) -> Any:
        return self.op(conn)


@dataclass(frozen=True)
class _Group:
    """Mergeable ops of one kind, run as one statement; its result: one value per op."""

    many: Callable[[Sequence[Any]], Direct]
    ops: list[Any]
    one_statement = True

    def __call__(self, conn: Connection) -> list[Any]:
        return cast(list[Any], run_direct(conn, self.many(self.ops)))

    def direct(self) -> Direct:
        return self.many(self.ops)


Places = list[list[int]]  # beside each op run, the positions of the callers it answers


def merge(ops: Ops) -> tuple[Ops, Places]:
    """The batch with each kind's mergeable ops (distinct rows) made one op — a single one
    too: a lone "sent" completion is then one statement, not an UPDATE and an INSERT."""
    groups: dict[str, list[int]] = {}
    for i, (op, isolated) in enumerate(ops):
        key = getattr(op, "merge_key", None)
        if key is not None and not isolated:
            groups.setdefault(key, []).append(i)
    merged: Ops = []
    places: Places = []
    grouped: set[int] = set()
    for positions in groups.values():
        members = [cast(MarkData | FinishAttempt, ops[i][0]) for i in positions]
        if len({m.row_id for m in members}) < len(members):
            continue  # the same row twice (never from one worker): one by one, in order
        merged.append((_Group(type(members[0]).many, members), False))
        places.append(positions)
        grouped.update(positions)
    for i, (op, isolated) in enumerate(ops):
        if i not in grouped:
            merged.append((op, isolated))
            places.append([i])
    return merged, places


def alone(runnable: Ops) -> bool:
    """True when the batch is one op of one statement (no savepoint): it needs no
    transaction block of its own to be atomic."""
    return (
        len(runnable) == 1
        and not runnable[0][1]
        and getattr(runnable[0][0], "one_statement", False)
    )


def spread(runnable: Ops, places: Places, outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes of the ops run, handed back to the callers' positions in the batch."""
    answers: dict[int, Outcome] = {}
    for (op, _), positions, (ok, value) in zip(runnable, places, outcomes, strict=True):
        if not isinstance(op, _Group) or not ok:  # a failed merged statement: all its callers
            answers.update((position, (ok, value)) for position in positions)
            continue
        for position, result in zip(positions, value, strict=True):
            answers[position] = (True, result)
    return [answers[i] for i in range(len(answers))]


def independent(runnable: Ops) -> bool:
    """True when every op of the batch is one statement (no savepoint): each is atomic on
    its own and none reads what another writes, so they need no shared transaction."""
    return all(not isolated and getattr(op, "one_statement", False) for op, isolated in runnable)


def each_committed(conn: Connection, runnable: Ops) -> list[Outcome]:
    """Run each op on an autocommit connection: each statement its own transaction, one
    round trip, and its own outcome (a failed one leaves the others committed)."""
    outcomes: list[Outcome] = []
    for op, _ in runnable:
        try:
            outcomes.append((True, op(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def merged_transaction(conn: Connection, ops: Ops) -> list[Outcome]:
    """`transaction` for a PostgreSQL batch: mergeable ops merged, outcomes in `ops`' order."""
    runnable, places = merge(ops)
    return spread(runnable, places, transaction(conn, runnable))
