"""API keys: random, shown once, stored as a SHA-256 hash, with scopes and an optional app.

A key looks like `sck_<id>_<secret>`; the id part lets `keys list` / `keys revoke` name a key
without ever showing it, and the hash of the whole key is what the database keeps.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smtp_connector.errors import ErrorCode

from . import audit
from .database import Database
from .domain import SCOPES, Actor, ApiKeyInfo
from .errors import ServiceError, invalid, not_found
from .tables import ApiKeyRow, AppRow, utcnow

KEY_PREFIX = "sck_"


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
    """Keys and their checks. A successful check is remembered for `cache_ttl` seconds (by the
    key's hash), sparing a query per request; revoking a key or deleting an app through this
    process forgets the affected keys at once, doing either from another process (the CLI,
    another serve) takes effect within `cache_ttl`."""

    CACHE_SIZE = 4096

    def __init__(self, database: Database, cache_ttl: float = 2.0) -> None:
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
        async with self._db.transaction() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
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
        async with self._db.transaction() as session:
            rows = (await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created))).all()
            return [_info(row) for row in rows]

    async def revoke(self, actor: Actor, key_id: str) -> ApiKeyInfo:
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
