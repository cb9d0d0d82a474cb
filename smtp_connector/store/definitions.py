"""Server definitions: CRUD plus the rules that keep secrets write-only.

The rules, in one place so that no dialect can get them wrong:
- responses carry `"__CENSORED__"` for a stored secret and `""` for none;
- saving `"__CENSORED__"` back, or leaving the field out, keeps the stored secret; `""` clears;
- a change to where the password goes or how it is protected needs the password again
  (protection.py);
- hosts are stored in one canonical form and checked against the network policy (network.py);
- S/MIME material is PEM text, or a path only where the operator allows it (smime_material.py);
- at most one `isDefault` per app (setting it clears the others);
- at most `max_per_app` definitions per app (the operator's setting, default 50): each one
  costs every send of the app a little, and its connector's build a few milliseconds;
- every change bumps the app's `definitions_version` (senders rebuild their connector) and
  writes an audit row naming the changed fields, never their values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from . import definition_rows as rows
from .apps import load_app, refuse_other_app
from .configs import validate_definition
from .database import Database
from .domain import (
    CENSORED,
    DEFINITION_DEFAULTS,
    Actor,
    Definition,
    DefinitionCreate,
    DefinitionPatch,
    LastError,
    SmimeInput,
    SmimeView,
)
from .errors import APP, DEFINITION, ServiceError, conflict_on_duplicate, not_found
from .pages import MAX_LIMIT, Page, definitions_order, definitions_page
from .policy import DEFAULT_MAX_PER_APP, ServicePolicy
from .protection import refuse_secret_travel, transport_of
from .secrets import SecretBox
from .smime_material import check_path, is_path
from .tables import AppRow, DefinitionRow, aware, utcnow

OnChange = Callable[[str], Awaitable[None]]
_PLAIN_FIELDS = frozenset(
    {
        "name", "host", "port", "username", "security", "auth", "ntlm", "priority", "status",
        "is_default", "from_email", "from_name", "timeout", "enqueue", "description", "debug",
        "integration_id", "tls_ca", "verify_certificate", "allow_special_use_domains",
    }
)  # fmt: skip
_NULLABLE = frozenset(
    {"name", "username", "from_email", "from_name", "description", "integration_id", "tls_ca"}
)


def censor(token: str | None) -> str:
    return CENSORED if token else ""


def definition_view(row: DefinitionRow) -> Definition:
    """The public view of a row; secrets replaced by `__CENSORED__`."""
    last = LastError.model_validate(row.last_error) if row.last_error else None
    return Definition(
        **{name: getattr(row, name) for name in ("id", "app_id", *sorted(_PLAIN_FIELDS))},
        password=censor(row.password_enc),
        smime=SmimeView(
            enabled=row.smime,
            certificate=row.smime_certificate,
            private_key=row.smime_private_key_path or censor(row.smime_private_key_enc),
            private_key_password=censor(row.smime_key_password_enc),
            dont_send_on_error=row.smime_dont_send_on_error,
        ),
        num_errors=row.num_errors,
        last_error=last,
        created=aware(row.created),
        modified=aware(row.modified),
    )


def merge_secret(box: SecretBox, stored: str | None, incoming: str | None) -> str | None:
    """The encrypted value to store: keep on None/`__CENSORED__`, clear on `""`, else encrypt."""
    if incoming is None or incoming == CENSORED:
        return stored
    if incoming == "":
        return None
    return box.encrypt(incoming)


def _new_password(patch: DefinitionPatch) -> bool:
    return "password" in patch.model_fields_set and patch.password not in (None, CENSORED)


def check_smime_input(smime: SmimeInput | None, actor: Actor | None, policy: ServicePolicy) -> None:
    """Refuse S/MIME file paths the actor may not use (PEM text always passes)."""
    if smime is None:
        return
    for name, wire in (("certificate", "smime.certificate"), ("private_key", "smime.privateKey")):
        value = getattr(smime, name)
        if is_path(value):
            check_path(value, wire, actor, policy.smime_dir)


def apply_patch(box: SecretBox, row: DefinitionRow, patch: DefinitionPatch) -> list[str]:
    """Copy the given fields onto `row`; returns the changed field names (for the audit)."""
    fields = patch.model_fields_set
    for name in _PLAIN_FIELDS & fields:
        value = getattr(patch, name)
        if value is not None or name in _NULLABLE:  # null means "unset" only where allowed
            setattr(row, name, value)
    if "password" in fields:
        row.password_enc = merge_secret(box, row.password_enc, patch.password)
    if "smime" in fields and patch.smime is not None:
        _apply_smime(box, row, patch.smime)
    return sorted(fields)


def _apply_smime(box: SecretBox, row: DefinitionRow, smime: SmimeInput) -> None:
    given = smime.model_fields_set
    if smime.enabled is not None:
        row.smime = smime.enabled
    if "certificate" in given:
        row.smime_certificate = smime.certificate or None
    if smime.dont_send_on_error is not None:
        row.smime_dont_send_on_error = smime.dont_send_on_error
    if is_path(smime.private_key):
        row.smime_private_key_path, row.smime_private_key_enc = smime.private_key, None
    elif smime.private_key not in (None, CENSORED):
        row.smime_private_key_path = None
        row.smime_private_key_enc = merge_secret(box, row.smime_private_key_enc, smime.private_key)
    row.smime_key_password_enc = merge_secret(
        box, row.smime_key_password_enc, smime.private_key_password
    )


async def bump_version(session: AsyncSession, app: AppRow) -> None:
    app.definitions_version += 1
    app.modified = utcnow()


async def clear_other_defaults(session: AsyncSession, row: DefinitionRow) -> None:
    if row.is_default:
        await session.execute(
            update(DefinitionRow)
            .where(DefinitionRow.app_id == row.app_id, DefinitionRow.id != row.id)
            .values(is_default=False)
        )


class DefinitionService:
    def __init__(
        self, database: Database, box: SecretBox, on_change: OnChange, policy: ServicePolicy,
        max_per_app: int = DEFAULT_MAX_PER_APP,
    ) -> None:  # fmt: skip
        self._db = database
        self._box = box
        self._on_change = on_change
        self._policy = policy
        self.max_per_app = max_per_app

    async def list(self, actor: Actor, app_id: str, limit: int = MAX_LIMIT) -> list[Definition]:
        """The app's definitions in the order sends try them (priority, then default first),
        at most `limit` (the dialects' lists, which have no paging of their own)."""
        return (await self.page(actor, app_id, limit)).items

    async def page(
        self, actor: Actor, app_id: str, limit: int | None = None, cursor: str | None = None
    ) -> Page[Definition]:
        """`list`, a page at a time: `cursor` is the previous page's `next_cursor`."""
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            found = await definitions_page(session, app_id, limit, cursor)
            return Page([definition_view(row) for row in found.items], found.next_cursor)

    async def get(self, actor: Actor, app_id: str, definition_id: str) -> Definition:
        async with self._db.transaction() as session:
            return definition_view(await self._load(session, actor, app_id, definition_id))

    async def locate(self, actor: Actor, definition_id: str) -> Definition:
        """The definition with this id in whichever app holds it, for APIs that address a
        definition by its id alone (seed 000). A definition in an app the actor may not use
        is reported missing, like an unknown id: an id alone must not probe other apps."""
        async with self._db.transaction() as session:
            row = await session.get(DefinitionRow, definition_id)
            if row is None or not actor.can_access(row.app_id):
                raise not_found(DEFINITION, definition_id)
            return definition_view(row)

    async def find_by_name(self, actor: Actor, app_id: str, name: str) -> Definition | None:
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            row = await definition_by_name(session, app_id, name)
            return definition_view(row) if row else None

    async def create(self, actor: Actor, app_id: str, data: DefinitionCreate) -> Definition:
        with conflict_on_duplicate(f"A definition named {data.name!r} exists."):
            return await self._create(actor, app_id, data)

    async def _create(self, actor: Actor, app_id: str, data: DefinitionCreate) -> Definition:
        check_smime_input(data.smime, actor, self._policy)
        await self._policy.network.check_host(data.host)
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            await refuse_over_limit(session, app, self.max_per_app)
            if data.name and await definition_by_name(session, app_id, data.name):
                raise ServiceError("conflict", f"A definition named {data.name!r} exists.")
            row = DefinitionRow(app_id=app_id, **DEFINITION_DEFAULTS, num_errors=0)
            row.smime, row.smime_dont_send_on_error = False, True
            fields = apply_patch(self._box, row, data)
            validate_definition(row, self._box, self._policy.smime_dir)
            session.add(row)
            await session.flush()
            await clear_other_defaults(session, row)
            await bump_version(session, app)
            audit.record(
                session, actor, "definition.create", app_id=app_id, target=row.id,
                fields=fields, server=f"{row.host}:{row.port}",
            )  # fmt: skip
            view = definition_view(row)
        await self._on_change(app_id)
        return view

    async def update(
        self, actor: Actor, app_id: str, definition_id: str, patch: DefinitionPatch
    ) -> Definition:
        with conflict_on_duplicate(f"A definition named {patch.name!r} exists."):
            return await self._update(actor, app_id, definition_id, patch)

    async def _update(
        self, actor: Actor, app_id: str, definition_id: str, patch: DefinitionPatch
    ) -> Definition:
        """Core statements, no ORM session (definition_rows.py: the loop's CPU per update)."""
        check_smime_input(patch.smime, actor, self._policy)
        if patch.host is not None:
            await self._policy.network.check_host(patch.host)
        refuse_other_app(actor, app_id)
        async with self._db.engine.begin() as connection:
            found, row = await rows.read_definition(connection, app_id, definition_id)
            if not found:
                raise not_found(APP, app_id)
            if row is None:
                raise not_found(DEFINITION, definition_id)
            renamed = patch.name and patch.name != row.name
            if renamed and await rows.name_taken(connection, app_id, str(patch.name)):
                raise ServiceError("conflict", f"A definition named {patch.name!r} exists.")
            before, transport = rows.snapshot(row), transport_of(row)
            fields = apply_patch(self._box, row, patch)
            refuse_secret_travel(transport, row, new_password=_new_password(patch))
            validate_definition(row, self._box, self._policy.smime_dir)
            row.modified = utcnow()
            await rows.write_definition(connection, row, before)
            await rows.bump_version(connection, app_id)
            await audit.write(
                connection, actor, "definition.update", app_id=app_id, target=row.id,
                fields=fields, server=f"{row.host}:{row.port}",
            )  # fmt: skip
            view = definition_view(row)
        await self._on_change(app_id)
        return view

    async def delete(self, actor: Actor, app_id: str, definition_id: str) -> None:
        async with self._db.transaction() as session:
            row = await self._load(session, actor, app_id, definition_id)
            await session.delete(row)
            await bump_version(session, await load_app(session, actor, app_id))
            audit.record(session, actor, "definition.delete", app_id=app_id, target=definition_id)
        await self._on_change(app_id)

    async def _load(
        self, session: AsyncSession, actor: Actor, app_id: str, definition_id: str
    ) -> DefinitionRow:
        await load_app(session, actor, app_id)
        row = await session.get(DefinitionRow, definition_id)
        if row is None or row.app_id != app_id:
            raise not_found(DEFINITION, definition_id)
        return row


async def refuse_over_limit(session: AsyncSession, app: AppRow, limit: int) -> None:
    """409 when the app already holds `limit` definitions. The app's row is written first (a
    no-op): that takes its lock on PostgreSQL and SQLite's write lock, so concurrent creates
    count one after the other and cannot both take the last place."""
    touch = update(AppRow).where(AppRow.id == app.id).values(modified=AppRow.modified)
    await session.execute(touch.execution_options(synchronize_session=False))
    await session.refresh(app)  # its version as the previous writer left it
    held = await session.scalar(
        select(func.count()).select_from(DefinitionRow).where(DefinitionRow.app_id == app.id)
    )
    if held is not None and held >= limit:
        raise ServiceError(
            "conflict",
            f"App {app.id!r} already has {held} server definitions, the most one app may have "
            f"({limit}): delete one it no longer uses, or update an existing one. (The "
            "operator sets the limit: SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP.)",
            label="too_many_definitions",
        )


async def definition_by_name(session: AsyncSession, app_id: str, name: str) -> DefinitionRow | None:
    query = select(DefinitionRow).where(DefinitionRow.app_id == app_id, DefinitionRow.name == name)
    return (await session.scalars(query)).first()


async def ordered_definitions(
    session: AsyncSession, app_id: str, *, active_only: bool = False
) -> list[DefinitionRow]:
    """Priority 0 first; among equal priorities the default one, then the oldest."""
    query = select(DefinitionRow).where(DefinitionRow.app_id == app_id)
    if active_only:
        query = query.where(DefinitionRow.status == "active")
    return list((await session.scalars(definitions_order(query))).all())


def row_snapshot(row: DefinitionRow) -> dict[str, Any]:
    """Column values of a row (secrets still encrypted), for building unsaved variants."""
    return {c.key: getattr(row, c.key) for c in DefinitionRow.__table__.columns}
