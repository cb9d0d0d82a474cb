"""Apps (tenants): each owns its server definitions, test address and API keys.

Some dialects speak for one fixed app when the key is bound to none (privacyIDEA's
definitions, the portal's settings). The service creates those apps itself and finds them by
a stored marker (`kind`), never by name: a tenant who renamed its own app `privacyidea` would
otherwise receive the operator's later saves, passwords included. Their names are reserved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .database import Database
from .domain import Actor, App, AppCreate, AppPatch
from .errors import (
    APP,
    ServiceError,
    conflict_on_duplicate,
    forbidden,
    not_found,
    refuse_other_app,
)
from .pages import Page, apps_page
from .tables import AppRow, utcnow

OnChange = Callable[[str], Awaitable[None]]
# Apps the service creates for a dialect, by marker; the marker is also the app's name.
DIALECT_APPS = frozenset({"privacyidea", "portal", "logto"})


APP_SETTINGS = ("test_email", "from_email", "from_name", "default_locale")
# Fields a send reads (through the app's connector): changing one rebuilds that connector.
_SEND_SETTINGS = frozenset({"from_email", "from_name", "default_locale"})


def app_view(row: AppRow) -> App:
    return App(id=row.id, name=row.name, **{name: getattr(row, name) for name in APP_SETTINGS})


async def load_app(session: AsyncSession, actor: Actor, app_id: str) -> AppRow:
    """The app, if it exists and `actor` may use it (a bound key sees only its own app)."""
    refuse_other_app(actor, app_id)
    row = await session.get(AppRow, app_id)
    if row is None:
        raise not_found(APP, app_id)
    return row


class AppService:
    def __init__(self, database: Database, on_change: OnChange) -> None:
        self._db = database
        self._on_change = on_change

    async def create(self, actor: Actor, data: AppCreate, *, kind: str | None = None) -> App:
        if actor.app_id is not None:
            raise forbidden("An API key limited to one app cannot create apps.")
        if kind is None:
            _refuse_reserved(data.name)
        with conflict_on_duplicate(f"An app named {data.name!r} (or id {data.id!r}) exists."):
            async with self._db.transaction() as session:
                await self._unique(session, data.name, data.id)
                settings = {name: getattr(data, name) for name in APP_SETTINGS}
                row = AppRow(name=data.name, kind=kind, **settings)
                if data.id:
                    row.id = data.id
                session.add(row)
                await session.flush()
                audit.record(session, actor, "app.create", app_id=row.id, target=row.id)
                return app_view(row)

    async def list(self, actor: Actor) -> list[App]:
        query = select(AppRow).order_by(AppRow.name)
        if actor.app_id is not None:
            query = query.where(AppRow.id == actor.app_id)
        async with self._db.transaction() as session:
            return [app_view(row) for row in (await session.scalars(query)).all()]

    async def page(
        self, actor: Actor, limit: int | None = None, cursor: str | None = None
    ) -> Page[App]:
        """`list`, a page at a time (by name): `cursor` is the previous page's `next_cursor`."""
        async with self._db.transaction() as session:
            found = await apps_page(session, actor, limit, cursor)
            return Page([app_view(row) for row in found.items], found.next_cursor)

    async def get(self, actor: Actor, app_id: str) -> App:
        async with self._db.transaction() as session:
            return app_view(await load_app(session, actor, app_id))

    async def find_by_name(self, actor: Actor, name: str) -> App | None:
        """The app called `name`, or None; a bound key finds only its own app."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(AppRow).where(AppRow.name == name))
        if row is None:
            return None
        if not actor.can_access(row.id):
            raise forbidden(f"This API key is limited to another app, not {name!r}.")
        return app_view(row)

    async def find_dialect(self, actor: Actor, kind: str) -> App | None:
        """The service's app for dialect `kind`, or None before its first write."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(AppRow).where(AppRow.kind == kind))
        if row is None:
            return None
        if not actor.can_access(row.id):
            raise forbidden(f"This API key is limited to another app, not the {kind} app.")
        return app_view(row)

    async def ensure_dialect(self, actor: Actor, kind: str) -> App:
        """The service's app for dialect `kind`, created on first use (named `kind` when that
        name is free, as it is unless it was taken before names were reserved)."""
        found = await self.find_dialect(actor, kind)
        if found is not None:
            return found
        async with self._db.transaction() as session:
            taken = await session.scalar(select(AppRow.id).where(AppRow.name == kind))
        name = kind if taken is None else f"{kind} (service)"
        try:
            return await self.create(actor, AppCreate(name=name), kind=kind)
        except ServiceError as error:
            if error.reason != "conflict":
                raise
            found = await self.find_dialect(actor, kind)  # created concurrently
            if found is None:
                raise
            return found

    async def update(self, actor: Actor, app_id: str, patch: AppPatch) -> App:
        fields = patch.model_fields_set
        async with self._db.transaction() as session:
            row = await load_app(session, actor, app_id)
            if "name" in fields and patch.name and patch.name != row.name:
                if row.kind is None or patch.name.strip().lower() != row.kind:
                    _refuse_reserved(patch.name)
                await self._unique(session, patch.name, None)
                row.name = patch.name
            for name in fields & set(APP_SETTINGS):
                setattr(row, name, getattr(patch, name))
            if fields & _SEND_SETTINGS:
                row.definitions_version += 1  # the app's connector is rebuilt with them
            row.modified = utcnow()
            audit.record(
                session, actor, "app.update", app_id=app_id, target=app_id, fields=sorted(fields)
            )
            view = app_view(row)
        if fields & _SEND_SETTINGS:
            await self._on_change(app_id)
        return view

    async def delete(self, actor: Actor, app_id: str) -> None:
        """Delete the app with its definitions and the API keys bound to it (`on_change` makes
        the key cache forget them at once)."""
        async with self._db.transaction() as session:
            row = await load_app(session, actor, app_id)
            await session.delete(row)
            audit.record(session, actor, "app.delete", app_id=app_id, target=app_id)
        await self._on_change(app_id)

    async def _unique(self, session: AsyncSession, name: str, app_id: str | None) -> None:
        if await session.scalar(select(AppRow.id).where(AppRow.name == name)):
            raise ServiceError("conflict", f"An app named {name!r} already exists.")
        existing = await session.get(AppRow, app_id) if app_id else None
        if existing is not None:
            raise ServiceError("conflict", f"An app with id {app_id!r} already exists.")


def _refuse_reserved(name: str) -> None:
    if name.strip().lower() in DIALECT_APPS:
        raise ServiceError(
            "invalid",
            f"The app name {name!r} is reserved for the app the service keeps for its "
            f"{name.strip().lower()} API; choose another name.",
        )
