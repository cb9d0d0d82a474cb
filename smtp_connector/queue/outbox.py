"""The outbox: every state change of a queued message, as one SQL statement each.

Both engines use these operations; only who calls `claim_due` / `claim_ids` differs (the
embedded worker polls `claim_due` and is woken by an in-process event; a procrastinate job
claims the rows whose ids it carries, due or not: its job says it is time). Claims are
atomic `UPDATE … RETURNING`: inside `BEGIN IMMEDIATE` on SQLite (one writer at a time), with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (many workers never block on, or take, each other's
rows). Every later write names the claim (worker id and attempt number), so a worker whose
lease was taken over can no longer change the row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from smtp_connector.store.idempotency import reused
from smtp_connector.store.recent import RecentQuery

from . import pg_claims, recovery
from .batching import Op
from .database import QueueDatabase
from .merging import FinishAttempt, InsertMessages, MarkData, OneStatement
from .message_ids import new_message_id
from .stats import queue_stats
from .tables import attempts, outbox


@dataclass(frozen=True)
class NewMessage:
    app_id: str
    definition_ids: tuple[str, ...]
    recipient: str
    usage_type: str
    payload: dict[str, Any]
    locale: str | None
    max_attempts: int
    expires_at: float
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass
class Claim:
    """A row this worker holds for one attempt (number `attempt`) until `lease_until`."""

    id: str
    app_id: str
    definition_ids: tuple[str, ...]
    recipient: str
    usage_type: str
    payload: dict[str, Any]
    locale: str | None
    attempt: int
    max_attempts: int
    expires_at: float
    worker_id: str
    started: float = field(default_factory=time.time)
    # The app's (definitions, templates) versions read in the claim's transaction, where the
    # outbox does that (sqlite_outbox.py); None: the delivery reads them itself.
    versions: tuple[int, int] | None = None
    # The row's SQLite rowid, where the SQLite outbox's claim read it (sqlite_outbox.py): its
    # mark and completion find the row by it, not through the index on `id`. Not the claim's
    # identity: a claim equals one without it.
    row: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Finish:
    """The end of one attempt: the new status and what to record."""

    status: str  # queued (retry) | sent | failed | abandoned
    outcome: str  # sent | retry | failed | abandoned | unknown (the attempts log)
    next_attempt_at: float | None = None
    last_error: dict[str, Any] | None = None
    message_id: str | None = None
    server: str | None = None
    definition_id: str | None = None


class LeaseLost(Exception):
    """The row is no longer this worker's (its lease ran out and it was taken over)."""


_CLAIM_COLUMNS = (
    outbox.c.id, outbox.c.app_id, outbox.c.definition_ids, outbox.c.recipient,
    outbox.c.usage_type, outbox.c.payload, outbox.c.locale, outbox.c.attempts,
    outbox.c.max_attempts, outbox.c.expires_at,
)  # fmt: skip


# The hot statements are built once, with bind parameters (m_* conditions, v_* values):
# compiling a statement per message would cost more CPU than running it.
_MINE = and_(
    outbox.c.id == bindparam("m_id"),
    outbox.c.status == "sending",
    outbox.c.worker_id == bindparam("m_worker"),
    outbox.c.attempts == bindparam("m_attempt"),
)
_CLAIM_SET = {
    "status": "sending", "worker_id": bindparam("m_worker"),
    "lease_until": bindparam("m_lease"), "attempts": outbox.c.attempts + 1, "data_at": None,
    "updated": bindparam("m_now"),
}  # fmt: skip


def _claim_due_by(moment: str) -> Any:
    """Claim (as `UPDATE … RETURNING`) up to `m_limit` queued rows due by the parameter
    `moment`, oldest first, skipping rows another worker has locked."""
    due = (
        select(outbox.c.id)
        .where(outbox.c.status == "queued", outbox.c.next_attempt_at <= bindparam(moment))
        .order_by(outbox.c.next_attempt_at)
        .limit(bindparam("m_limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return update(outbox).where(outbox.c.id.in_(due)).values(_CLAIM_SET).returning(*_CLAIM_COLUMNS)


_CLAIM_DUE = _claim_due_by("m_now")
# Due rows that have waited `m_due` or longer: what a job's own announcement has evidently
# not brought to a worker (a recovery, a lost job), not rows announced a moment ago.
_CLAIM_OVERDUE = _claim_due_by("m_due")
_CLAIM_IDS = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("m_ids", expanding=True)), outbox.c.status == "queued")
    .values(_CLAIM_SET)
    .returning(*_CLAIM_COLUMNS)
)
_MARK_DATA = (
    update(outbox).where(_MINE).values(data_at=bindparam("m_now"), updated=bindparam("m_now"))
)
_ENDED = {
    "status": bindparam("v_status"), "updated": bindparam("v_now"), "lease_until": None,
    "worker_id": None, "last_error": bindparam("v_last_error", type_=outbox.c.last_error.type),
}  # fmt: skip
_FINISH = {
    "queued": update(outbox)
    .where(_MINE)
    .values(_ENDED | {"next_attempt_at": bindparam("v_next"), "data_at": None}),
    "sent": update(outbox)
    .where(_MINE)
    .values(
        _ENDED
        | {
            "finished": bindparam("v_now"),
            "payload": None,
            "message_id": bindparam("v_message_id"),
            "server": bindparam("v_server"),
            "definition_id": bindparam("v_definition_id"),
        }
    ),
    "final": update(outbox)
    .where(_MINE)
    .values(_ENDED | {"finished": bindparam("v_now"), "payload": None}),
}
_INSERT_MESSAGE = insert(outbox)
_INSERT_ATTEMPT = insert(attempts)


def _mine(claim: Claim) -> dict[str, Any]:
    return {"m_id": claim.id, "m_worker": claim.worker_id, "m_attempt": claim.attempt}


def _claim(row: Any, worker_id: str) -> Claim:
    versions = getattr(row, "versions", None)  # read with the claim (pg_claims.py)
    return Claim(
        id=row.id, app_id=row.app_id, definition_ids=tuple(row.definition_ids or ()),
        recipient=row.recipient, usage_type=row.usage_type, payload=dict(row.payload or {}),
        locale=row.locale, attempt=row.attempts, max_attempts=row.max_attempts,
        expires_at=row.expires_at, worker_id=worker_id,
        versions=(versions[0], versions[1]) if versions else None,
    )  # fmt: skip


def attempt_log(claim: Claim, end: Finish, detail: str | None, now: float) -> dict[str, Any]:
    """The attempts row of one ended attempt (both outboxes write this same row)."""
    error = end.last_error or {}
    return {
        "message_id": claim.id, "attempt": claim.attempt, "worker_id": claim.worker_id,
        "started": claim.started, "finished": now, "outcome": end.outcome,
        "error_code": error.get("code"), "smtp_code": error.get("smtpCode"),
        "server": end.server or error.get("server"), "detail": detail,
    }  # fmt: skip


class Outbox:
    """The outbox tables of one database; writes go through the database's committer."""

    def __init__(self, db: QueueDatabase, lease: float) -> None:
        self.db = db
        self.lease = lease
        self._has_apps: bool | None = None  # PostgreSQL: the store's tables are here too

    async def enqueue(self, new: NewMessage) -> tuple[str, bool]:
        """Insert the message; returns (id, created). With an idempotency key already used by
        the app, returns the existing message's id and False (nothing is inserted); raises
        the store's 422 refusal when that message was queued for a different request."""
        now = time.time()
        message_id = new_message_id()
        values = {
            "id": message_id, "app_id": new.app_id, "definition_ids": list(new.definition_ids),
            "recipient": new.recipient, "usage_type": new.usage_type, "payload": new.payload,
            "locale": new.locale, "status": "queued", "attempts": 0,
            "max_attempts": new.max_attempts, "next_attempt_at": now,
            "expires_at": new.expires_at, "idempotency_key": new.idempotency_key,
            "request_hash": new.request_hash, "created": now, "updated": now,
        }  # fmt: skip

        try:
            isolated = new.idempotency_key is not None
            await self.db.write(self._insert_op(values), isolated=isolated, durable=True)
            return message_id, True
        except IntegrityError:
            if new.idempotency_key is None:
                raise
            existing = await self.find_by_key(new.app_id, new.idempotency_key, new.request_hash)
            if existing is None:
                raise
            return existing, False

    async def find_by_key(
        self, app_id: str, key: str, request_hash: str | None = None
    ) -> str | None:
        """The id of the app's message queued with `key`; with `request_hash`, refuses (the
        store's `idempotency_key_reused`, 422) one queued for another request. Rows queued
        before hashes were kept have none and are not compared."""
        query = select(outbox.c.id, outbox.c.request_hash).where(
            outbox.c.app_id == app_id, outbox.c.idempotency_key == key
        )
        row = await self.db.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        if request_hash is not None and row.request_hash not in (None, request_hash):
            raise reused(key)
        return str(row.id)

    async def claim_due(self, worker_id: str, limit: int) -> list[Claim]:
        """Claim up to `limit` due rows, oldest first."""
        return await self.db.write(self._claim_due_op(self._claim_params(worker_id), limit))

    async def claim_overdue(self, worker_id: str, limit: int, age: float) -> list[Claim]:
        """Claim up to `limit` rows due for `age` seconds or longer, oldest first."""
        params = self._claim_params(worker_id)
        params |= {"m_limit": limit, "m_due": params["m_now"] - age}
        if not self.db.is_sqlite:  # as driver SQL, with the apps' versions (pg_claims.py)
            claim = pg_claims.ClaimRows(params, await self._with_versions(), overdue=True)
            rows = await self.db.write(claim)
            return sorted((_claim(row, worker_id) for row in rows), key=lambda c: c.id)

        def op(conn: Connection) -> list[Claim]:
            rows = conn.execute(_CLAIM_OVERDUE, params).all()
            return sorted((_claim(row, worker_id) for row in rows), key=lambda c: c.id)

        return await self.db.write(OneStatement(op))

    async def claim_ids(self, message_ids: list[str], worker_id: str) -> list[Claim]:
        """Claim, in one statement, those of these rows that are still queued (a batch job's
        rows; the others were delivered or taken by someone else meanwhile)."""
        params = self._claim_params(worker_id) | {"m_ids": message_ids}
        if not self.db.is_sqlite:  # with the apps' versions, as driver SQL (pg_claims.py)
            rows = await self.db.write(pg_claims.claim_rows(params, await self._with_versions()))
            return sorted((_claim(row, worker_id) for row in rows), key=lambda c: c.id)

        def op(conn: Connection) -> list[Claim]:
            rows = conn.execute(_CLAIM_IDS, params).all()
            return sorted((_claim(row, worker_id) for row in rows), key=lambda c: c.id)

        return await self.db.write(OneStatement(op))

    async def _with_versions(self) -> bool:
        """PostgreSQL: whether claims can read the apps' versions (the store's tables here)."""
        if self._has_apps is None:
            self._has_apps = await self.db.read(pg_claims.has_apps)
        return self._has_apps

    def _claim_params(self, worker_id: str) -> dict[str, Any]:
        now = time.time()
        return {"m_now": now, "m_worker": worker_id, "m_lease": now + self.lease}

    async def mark_data(self, claim: Claim) -> None:
        """Record, durably, that this attempt is about to hand the content to the server.
        Raises LeaseLost when the row is no longer this claim's (then nothing is sent)."""
        if await self.db.write(self._mark_data_op(claim, time.time()), durable=True) != 1:
            raise LeaseLost(claim.id)

    async def finish(self, claim: Claim, end: Finish, detail: str | None = None) -> bool:
        """Apply the attempt's outcome and log the attempt, in one transaction; False when
        the row was no longer this claim's (nothing changed)."""
        return bool(await self.db.write(self._finish_op(claim, end, detail, time.time())))

    # The hot writes as operations for the committer; `SqliteOutbox` (sqlite_outbox.py) runs
    # the same statements as pre-written SQL on the driver, the rest of the class as is.

    def _insert_op(self, values: dict[str, Any]) -> Op:
        # A PostgreSQL batch's enqueues run as one statement (merging.py).
        return InsertMessages(_INSERT_MESSAGE, values)

    def _claim_due_op(self, params: dict[str, Any], limit: int) -> Callable[..., list[Claim]]:
        params = params | {"m_limit": limit}
        worker_id = params["m_worker"]

        def op(conn: Connection) -> list[Claim]:
            rows = conn.execute(_CLAIM_DUE, params).all()
            return sorted((_claim(row, worker_id) for row in rows), key=lambda c: c.id)

        return op

    def _mark_data_op(self, claim: Claim, now: float) -> Callable[[Connection], int]:
        # Mergeable: a PostgreSQL batch's marks run as one statement (merging.py).
        return MarkData(_MARK_DATA, _mine(claim) | {"m_now": now})

    def _finish_op(
        self, claim: Claim, end: Finish, detail: str | None, now: float
    ) -> Callable[[Connection], bool]:
        params = _mine(claim) | {
            "v_status": end.status, "v_now": now, "v_last_error": end.last_error,
            "v_next": end.next_attempt_at, "v_message_id": end.message_id,
            "v_server": end.server, "v_definition_id": end.definition_id,
        }  # fmt: skip
        statement = _FINISH[end.status] if end.status in _FINISH else _FINISH["final"]
        # Mergeable: a PostgreSQL batch's "sent" completions run as one statement.
        return FinishAttempt(
            statement, params, attempt_log(claim, end, detail, now), _INSERT_ATTEMPT
        )

    async def recover(self) -> dict[str, int]:
        """Settle rows whose worker died or whose code expired (see recovery.py)."""
        return await self.db.write(recovery.recover_op(time.time()))

    async def recover_rows(self, message_ids: list[str]) -> dict[str, int]:
        """Settle claimed rows whose worker is known dead (a stopped heartbeat), lease or not."""
        return await self.db.write(recovery.settle_op(outbox.c.id.in_(message_ids), time.time()))

    async def recover_dead_local(self, host: str, alive: Callable[[int], bool]) -> dict[str, int]:
        """Settle rows claimed by worker processes of this host that no longer exist, at
        once: a restarted worker does not wait for their leases to run out."""
        query = select(outbox.c.worker_id).where(outbox.c.status == "sending").distinct()
        found = await self.db.read(lambda conn: list(conn.execute(query).scalars()))
        dead = [w for w in found if w and (pid := recovery.local_pid(w, host)) and not alive(pid)]
        if not dead:
            return {"requeued": 0, "unknown": 0}
        return await self.db.write(recovery.settle_op(outbox.c.worker_id.in_(dead), time.time()))

    async def get(self, message_id: str) -> Any:
        query = select(outbox).where(outbox.c.id == message_id)
        return await self.db.read(lambda conn: conn.execute(query).first())

    async def recent(self, query: RecentQuery) -> list[Any]:
        """Up to `query.size + 1` of the app's rows, newest first (the extra one says whether
        a next page exists), after the cursor's (created, id) when there is one."""
        wanted = (
            select(outbox)
            .where(outbox.c.app_id == query.app_id)
            .order_by(outbox.c.created.desc(), outbox.c.id.desc())
            .limit(query.size + 1)
        )
        if query.status is not None:
            wanted = wanted.where(outbox.c.status == query.status)
        if query.after is not None:
            created, row_id = query.after
            # A row value, not an OR of two conditions: a range scan of the (app_id,
            # created, id) index on SQLite and PostgreSQL alike.
            wanted = wanted.where(tuple_(outbox.c.created, outbox.c.id) < tuple_(created, row_id))
        return await self.db.read(lambda conn: list(conn.execute(wanted).all()))

    async def attempts_of(self, message_id: str) -> list[Any]:
        query = select(attempts).where(attempts.c.message_id == message_id)
        return await self.db.read(lambda conn: list(conn.execute(query.order_by(attempts.c.id))))

    async def queued_ids(self, older_than: float, limit: int = 1000) -> list[str]:
        """Queued rows due for longer than `older_than` seconds (for re-dispatch)."""
        query = (
            select(outbox.c.id)
            .where(outbox.c.status == "queued")
            .where(outbox.c.next_attempt_at <= time.time() - older_than)
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
        )
        return await self.db.read(lambda conn: list(conn.execute(query).scalars()))

    async def stats(self, app_id: str | None = None) -> dict[str, Any]:
        """Depth by status, oldest queued age, sent and failed in the last minute: of one app's
        messages with `app_id`, else of all (`stats.queue_stats`)."""
        return await queue_stats(self.db, app_id)
