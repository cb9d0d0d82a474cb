"""API keys: random, shown once, stored as a SHA-256 hash, with scopes and an optional app.

A key looks like `sck_<id>_<secret>`; the id part lets `keys list` / `keys revoke` name a key
without ever showing it, and the hash of the whole key is what the database keeps.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select

from smtp_connector.errors import ErrorCode

from . import audit
from .database import Database
from .domain import SCOPES, Actor, ApiKeyInfo
from .errors import ServiceError, invalid, not_found
from .schema import api_keys, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .tables import ApiKeyRow

KEY_PREFIX = "sck_"
# How long a key revoked (or its app deleted) by another process may still pass here, at most.
CACHE_TTL = 2.0


_KEYS = api_keys.c
# The refresh's query, built once: which of these hashes belong to keys not revoked.
_ALIVE = select(_KEYS.key_hash).where(
    _KEYS.key_hash.in_(bindparam("digests", expanding=True)), _KEYS.revoked.is_(None)
)
# A check's query (built once): the key with this hash, as a plain row (Core: no ORM).
_BY_HASH = select(_KEYS.id, _KEYS.name, _KEYS.scopes, _KEYS.app_id, _KEYS.revoked).where(
    _KEYS.key_hash == bindparam("digest")
)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=sorted(row.scopes.split(",")),
        app_id=row.app_id,
        created=row.created,
        revoked=row.revoked,
    )


class KeyService:
    """Keys and their checks. A successful check is remembered (by the key's hash), sparing a
    query per request. Revoking a key or deleting an app through this process forgets the
    affected keys at once; doing either from another process (the CLI, another serve) takes
    effect within `cache_ttl` seconds: `refresh` (run in the background by `serve`, see
    freshness.py) re-reads every remembered key in one query, so a request normally finds its
    key checked less than `cache_ttl` ago and never waits on the database; a remembered check
    older than that (the refresh fell behind) is redone on the request path, as a safety net
    that keeps the window whatever the load."""

    CACHE_SIZE = 4096
    REFRESH_CHUNK = 500  # keys per query of a refresh (well under any engine's bind limit)

    def __init__(self, database: Database, cache_ttl: float = CACHE_TTL) -> None:
        self._db = database
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[Actor, float]] = {}
        # Bumped by every forget: a check whose database read began before a revocation or an
        # app deletion committed answers from what it read, but must not cache it.
        self._generation = 0

    async def create(
        self, actor: Actor, scopes: Iterable[str], *, name: str | None = None,
        app: str | None = None,
    ) -> tuple[ApiKeyInfo, str]:  # fmt: skip
        """A new key; returns its info and the key itself (the only time it exists in clear).
        `app` is an app id or name; the key then reaches only that app."""
        wanted = sorted(set(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if not wanted or unknown:
            raise invalid(
                f"Unknown or missing scopes {unknown or wanted}: use "
                + " and/or ".join(sorted(SCOPES))
            )
        from .tables import ApiKeyRow

        key_id = secrets.token_hex(6)
        raw = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        async with self._db.transaction() as session:
            app_id = await self._resolve_app(session, app) if app else None
            row = ApiKeyRow(
                id=key_id,
                name=name,
                key_hash=hash_key(raw),
                prefix=raw[: len(KEY_PREFIX) + len(key_id)],
                scopes=",".join(wanted),
                app_id=app_id,
            )
            session.add(row)
            await session.flush()
            audit.record(session, actor, "key.create", app_id=app_id, target=key_id, scopes=wanted)
            return _info(row), raw

    async def authenticate(self, raw: str) -> Actor | None:
        """The actor for a presented key, or None for an unknown or revoked key."""
        if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
            return None
        digest = hash_key(raw)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[1] <= self.cache_ttl:
            return cached[0]
        generation = self._generation
        async with self._db.engine.connect() as connection:  # Core: no ORM session to build
            row = (await connection.execute(_BY_HASH, {"digest": digest})).first()
        if row is None or row.revoked is not None:
            self._cache.pop(digest, None)
            return None
        scopes = frozenset(row.scopes.split(","))
        actor = Actor(name=f"key:{row.id}" + (f" ({row.name})" if row.name else ""),
                      scopes=scopes, app_id=row.app_id)  # fmt: skip
        if generation != self._generation:
            return actor  # a key was revoked or an app deleted meanwhile: do not cache this
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (actor, time.monotonic())
        return actor

    async def refresh(self) -> None:
        """Re-read every remembered key in one query: revoked or deleted ones are forgotten,
        the others count as checked when the query began (what it read was true then)."""
        digests = list(self._cache)
        if not digests:
            return
        generation, started = self._generation, time.monotonic()
        alive: set[str] = set()
        async with self._db.engine.connect() as connection:  # Core: no ORM session to build
            for start in range(0, len(digests), self.REFRESH_CHUNK):
                chunk = digests[start : start + self.REFRESH_CHUNK]
                rows = await connection.execute(_ALIVE, {"digests": chunk})
                alive.update(rows.scalars())
        if generation != self._generation:
            return  # forgotten meanwhile: what was read may predate it; the next round decides
        for digest in digests:
            cached = self._cache.get(digest)
            if cached is None:
                continue
            if digest in alive:
                self._cache[digest] = (cached[0], max(cached[1], started))
            else:
                del self._cache[digest]

    def forget(self, app_id: str | None = None) -> None:
        """Drop cached checks: of the keys bound to `app_id` (its app was deleted, and with it
        the keys: the database cascades), or of every key. A re-created app with the same id
        is therefore never reached through a key of the deleted one."""
        self._generation += 1
        if app_id is None:
            self._cache.clear()
            return
        for digest, (actor, _) in list(self._cache.items()):
            if actor.app_id == app_id:
                del self._cache[digest]

    async def list(self) -> list[ApiKeyInfo]:
        from .tables import ApiKeyRow

        async with self._db.transaction() as session:
            rows = (await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created))).all()
            return [_info(row) for row in rows]

    async def revoke(self, actor: Actor, key_id: str) -> ApiKeyInfo:
        from .tables import ApiKeyRow

        async with self._db.transaction() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                raise not_found("API key", key_id)
            if row.revoked is None:
                row.revoked = utcnow()
                audit.record(session, actor, "key.revoke", app_id=row.app_id, target=key_id)
            info = _info(row)
        self.forget()  # once committed; keyed by hash, not id: forget every key
        return info

    async def _resolve_app(self, session: AsyncSession, app: str) -> str:
        from .tables import AppRow

        row = await session.get(AppRow, app) or await session.scalar(
            select(AppRow).where(AppRow.name == app)
        )
        if row is None:
            raise ServiceError(
                "not_found",
                f"No app with id or name {app!r}: create it first (POST /v1/apps).",
                code=ErrorCode.INVALID_CONFIG,
            )
        return row.id
