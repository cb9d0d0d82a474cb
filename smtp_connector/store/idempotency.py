"""`Idempotency-Key` for sends, as Stripe's API and the IETF draft define it.

- an empty key is refused (400): it would make every keyless-looking request one request;
- the key is stored with a fingerprint of the request (SHA-256 of its canonical JSON); the
  same key with a different request is refused (422), never answered with another request's
  message;
- a repeat answers what the first request got: for a queued message its current state (the
  outbox row, see `smtp_connector.queue`), for a direct send the first answer, kept here for
  `KEEP_FOR` seconds;
- a repeat while the first is still being sent is refused (409): retry after its answer.

A direct send that failed before the server had the message releases its key, so the caller's
retry with the same key sends; a lost reply after the content (`delivery_unknown`) is kept like
a success: that is exactly the answer a retry must get again, without a second code.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .domain import MessageRequest
from .errors import ServiceError, invalid
from .schema import idempotent_sends
from .sending import SendOutcome

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

KEY_MAX = 200
KEEP_FOR = 24 * 3600.0  # seconds a direct send's answer is replayed for its key
# A direct send still "in flight" after this long died with its process (a send's own deadline
# is a minute by default): whether the server took it is unknown, and that is the answer.
IN_FLIGHT_LEASE = 600.0
PURGE_EVERY = 300.0

LOST_FIRST = (
    "The first request with this Idempotency-Key did not finish (the service stopped while "
    "sending it?): whether the SMTP server accepted the message is unknown. Do not retry; if "
    "it does not arrive, let the user ask for a new code."
)

# The statements, built once, as Core (a send's path loads no ORM): the key's row by its
# primary key, the claim, the answer, the release of a key still in flight, the purge.
_SENDS = idempotent_sends.c
_THIS = and_(_SENDS.app_id == bindparam("app"), _SENDS.idempotency_key == bindparam("key"))
_FIND = select(_SENDS.request_hash, _SENDS.state, _SENDS.response, _SENDS.created,
               _SENDS.expires_at).where(_THIS)  # fmt: skip
_DROP = delete(idempotent_sends).where(_THIS)
_CLAIM = insert(idempotent_sends)
_COMPLETE = update(idempotent_sends).where(_THIS)
_RELEASE = delete(idempotent_sends).where(_THIS, _SENDS.state == "in_flight")
_PURGE = delete(idempotent_sends).where(_SENDS.expires_at <= bindparam("now"))


def check_key(raw: str | None) -> str | None:
    """The key to use, None for none; refuses one that is empty or too long (400)."""
    if raw is None:
        return None
    if not raw.strip():
        raise invalid(
            "Idempotency-Key is empty: send a unique value per logical request (a UUID, or "
            "your own id for the sign-up), or leave the header out."
        )
    if len(raw) > KEY_MAX:
        raise invalid(f"Idempotency-Key is longer than {KEY_MAX} characters.")
    return raw


def request_fingerprint(request: MessageRequest) -> str:
    """SHA-256 of the request as validated, in canonical JSON: the same request written with
    other spacing, key order or defaults spelt out has the same fingerprint."""
    canonical = json.dumps(
        request.model_dump(mode="json", by_alias=True),
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def reused(key: str) -> ServiceError:
    return ServiceError(
        "mismatch",
        f"Idempotency-Key {key!r} was already used with a different request: a repeated "
        "request must be the same as the first. Use a new key for a new request.",
        label="idempotency_key_reused",
    )


def in_use(key: str) -> ServiceError:
    return ServiceError(
        "conflict",
        f"A request with Idempotency-Key {key!r} is still being sent: wait for its answer "
        "(or retry in a few seconds to get it).",
        label="idempotency_key_in_use",
    )


class IdempotencyLog:
    """The `idempotent_sends` table: claim a key before a direct send, then complete or
    release it."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._next_purge = 0.0

    async def claim(self, app_id: str, key: str, fingerprint: str) -> SendOutcome | None:
        """None: this request now holds the key (send, then `complete` or `release`). Else the
        replayed answer; raises `reused` (other request) or `in_use` (first still sending)."""
        now = time.time()
        this = {"app": app_id, "key": key}
        try:
            async with self._db.engine.begin() as connection:
                await self._purge(connection, now)
                row = (await connection.execute(_FIND, this)).first()
                if row is not None and row.expires_at <= now:
                    await connection.execute(_DROP, this)
                    row = None
                if row is not None:
                    return _answer(row, key, fingerprint, now)
                await connection.execute(_CLAIM, {
                    "app_id": app_id, "idempotency_key": key, "request_hash": fingerprint,
                    "state": "in_flight", "response": None, "created": now,
                    "expires_at": now + KEEP_FOR,
                })  # fmt: skip
        except IntegrityError:  # a concurrent first request took the key a moment ago
            async with self._db.engine.connect() as connection:
                row = (await connection.execute(_FIND, this)).first()
            if row is None:
                raise in_use(key) from None
            return _answer(row, key, fingerprint, now)
        return None

    async def find(self, app_id: str, key: str, fingerprint: str) -> SendOutcome | None:
        """The answer of a direct send made with this key, if any (a queued send checks it, so
        a key is one request whichever way its definition sends)."""
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(_FIND, {"app": app_id, "key": key})).first()
        if row is None or row.expires_at <= time.time():
            return None
        return _answer(row, key, fingerprint, time.time())

    async def complete(self, app_id: str, key: str, answer: dict[str, Any]) -> None:
        async with self._db.engine.begin() as connection:
            values = {"app": app_id, "key": key, "state": "done", "response": answer}
            await connection.execute(_COMPLETE, values)

    async def release(self, app_id: str, key: str) -> None:
        """The send failed before the server had the message: the key may send again."""
        async with self._db.engine.begin() as connection:
            await connection.execute(_RELEASE, {"app": app_id, "key": key})

    async def _purge(self, connection: AsyncConnection, now: float) -> None:
        """Expired answers go, at most every `PURGE_EVERY` seconds per process."""
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        await connection.execute(_PURGE, {"now": now})


def _answer(row: Row[*tuple[Any, ...]], key: str, fingerprint: str, now: float) -> SendOutcome:
    """What a request with a key already stored gets, from the stored row's hash, state,
    answer and age (the same rule for a claim that found the key and for a queued send's look)."""
    if row.request_hash != fingerprint:
        raise reused(key)
    if row.state == "done" and row.response is not None:
        return SendOutcome.replay(row.response)
    if now - row.created < IN_FLIGHT_LEASE:
        raise in_use(key)
    return SendOutcome.replay({"status": "delivery_unknown", "message": LOST_FIRST})
