"""Templates per app: store, list, replace, delete, history and revert — every rule once.

The rules, for every API that stores templates (the native `/v1/apps/{id}/templates` and
Logto's `/api/email-templates` dialect alike):
- a template reaches only its own app: every call loads the app through `load_app` (a key
  bound to another app is refused) and every query is limited to that app's id;
- usage type and language tag are checked (`check_key`); tags match case-insensitively and
  are kept as given;
- at most `max_bytes` per template (413) and `max_per_app` templates per app (422), both the
  operator's (`TemplateLimits`);
- before anything is stored, the template is compiled and rendered once in the library's
  sandbox with a sample payload (`check` — template_render.py): a syntax error (with its line)
  or a template bomb (output size, loop iterations, render time) is a 422 `template_error`,
  a bad `sendFrom`/`replyTo` too; a code usage type without the code placeholder is a warning;
- every save is a new `version`, kept in the history (the last `HISTORY_KEPT`, with who and
  when); a revert saves an old version again as a new one; deleting a template deletes its
  history;
- every change bumps the app's `templates_version`, which a send compares with its snapshot
  (template_chain.py), and writes an audit row (names, never the texts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smtp_connector import ConnectorError

from . import audit
from .apps import load_app
from .database import Database
from .domain import Actor
from .errors import ServiceError, conflict_on_duplicate, not_found
from .pages import Page, check_limit, decode_cursor, encode_cursor
from .tables import AppRow, AppTemplateHistoryRow, AppTemplateRow, utcnow
from .template_models import (
    DETAIL_FIELDS,
    HISTORY_KEPT,
    MAX_TEMPLATES_ENV,
    HistoryEntry,
    Saved,
    TemplateInput,
    TemplateLimits,
    TemplateView,
    check_input,
    check_key,
    history_entry,
    locale_key,
    template_view,
)

OnChange = Callable[[str], Awaitable[None]]
# (app's sender/locale facts, usage type, locale, template) -> warnings; raises template_error.
Check = Callable[[str, str, str, TemplateInput], Awaitable[list[str]]]
TEMPLATE = "Template"


class TemplateService:
    """The domain layer of stored templates (see the module docstring for its rules)."""

    def __init__(
        self, database: Database, on_change: OnChange, check: Check, limits: TemplateLimits
    ) -> None:
        self._db = database
        self._on_change = on_change
        self._check = check
        self.limits = limits

    # -- reading ---------------------------------------------------------------------------

    async def page(
        self, actor: Actor, app_id: str, *, usage_type: str | None = None,
        locale: str | None = None, limit: int | None = None, cursor: str | None = None,
    ) -> Page[TemplateView]:  # fmt: skip
        """The app's templates by usage type, then tag; filtered by usage type and/or tag
        (case-insensitive); `limit` at a time, `cursor` from the previous page."""
        size = check_limit(limit)
        kind = f"templates:{app_id}"
        query = select(AppTemplateRow).where(AppTemplateRow.app_id == app_id)
        if usage_type:
            query = query.where(AppTemplateRow.usage_type == usage_type)
        if locale:
            query = query.where(AppTemplateRow.locale_key == locale_key(locale))
        if cursor is not None:
            after = decode_cursor(kind, cursor)
            if len(after) != 2 or not all(isinstance(part, str) for part in after):
                raise ServiceError("invalid", "cursor is not one this list gave out.",
                                   label="invalid_request")  # fmt: skip
            query = query.where(
                (AppTemplateRow.usage_type > after[0])
                | ((AppTemplateRow.usage_type == after[0]) & (AppTemplateRow.locale_key > after[1]))
            )
        query = query.order_by(AppTemplateRow.usage_type, AppTemplateRow.locale_key)
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            rows = list((await session.scalars(query.limit(size + 1))).all())
        if len(rows) <= size:
            return Page([template_view(row) for row in rows], None)
        last = rows[size - 1]
        next_cursor = encode_cursor(kind, [last.usage_type, last.locale_key])
        return Page([template_view(row) for row in rows[:size]], next_cursor)

    async def get(self, actor: Actor, app_id: str, usage_type: str, locale: str) -> TemplateView:
        check_key(usage_type, locale)
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            return template_view(await _load(session, app_id, usage_type, locale))

    async def get_by_id(self, actor: Actor, template_id: str) -> TemplateView:
        """A template by its id (Logto's `/api/email-templates/{id}`): another app's is "not
        found", as an unknown id is, so ids cannot be probed across apps."""
        async with self._db.transaction() as session:
            row = await session.get(AppTemplateRow, template_id)
            if row is None or not actor.can_access(row.app_id):
                raise not_found(TEMPLATE, template_id)
            return template_view(row)

    async def history(
        self, actor: Actor, app_id: str, usage_type: str, locale: str
    ) -> list[HistoryEntry]:
        """The kept versions, newest first (404 when the template does not exist)."""
        check_key(usage_type, locale)
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            row = await _load(session, app_id, usage_type, locale)
            query = _history_of(row).order_by(AppTemplateHistoryRow.version.desc())
            return [history_entry(entry) for entry in (await session.scalars(query)).all()]

    # -- writing ---------------------------------------------------------------------------

    async def put(
        self, actor: Actor, app_id: str, usage_type: str, locale: str, data: TemplateInput
    ) -> Saved:
        """Create or replace the app's template for (usage type, locale), checked first."""
        check_key(usage_type, locale)
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)  # 403/404 before anything about the body
        check_input(data, self.limits)
        warnings = await self._check(app_id, usage_type, locale, data)
        with conflict_on_duplicate(f"The {usage_type}/{locale} template was saved concurrently."):
            [(view, created)] = await self._store(
                actor, app_id, [(usage_type, locale, data)], "saved"
            )
        await self._on_change(app_id)
        return Saved(view.model_copy(update={"warnings": warnings}), created)

    async def put_many(
        self, actor: Actor, app_id: str, items: Sequence[tuple[str, str, TemplateInput]]
    ) -> list[Saved]:
        """Several templates as one change (Logto's PUT list, an import): every one checked
        as `put` checks it, then all stored in one transaction, or none (the first refusal is
        raised, its message starting `templates[i] (usage/locale)`); a later item for the same
        key replaces an earlier one. One templates-version bump."""
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
        found = []
        for index, (usage_type, locale, data) in enumerate(items):
            with _naming(index, usage_type, locale):
                check_key(usage_type, locale)
                check_input(data, self.limits)
                found.append(await self._check(app_id, usage_type, locale, data))
        if not items:
            return []
        with conflict_on_duplicate("These templates were saved concurrently; send them again."):
            stored = await self._store(actor, app_id, items, "saved")
        await self._on_change(app_id)
        return [
            Saved(view.model_copy(update={"warnings": warnings}), created)
            for (view, created), warnings in zip(stored, found, strict=True)
        ]

    async def revert(
        self, actor: Actor, app_id: str, usage_type: str, locale: str, version: int
    ) -> Saved:
        """Save kept `version` again, as a new version (404 when it is not kept)."""
        check_key(usage_type, locale)
        async with self._db.transaction() as session:
            await load_app(session, actor, app_id)
            row = await _load(session, app_id, usage_type, locale)
            query = _history_of(row).where(AppTemplateHistoryRow.version == version)
            old = await session.scalar(query)
            if old is None:
                raise ServiceError(
                    "not_found",
                    f"Version {version} of the {usage_type}/{locale} template is not kept: "
                    f"see GET …/{usage_type}/{locale}/history (the last {HISTORY_KEPT} are).",
                    subject="Template version",
                )
            data = TemplateInput.model_validate(
                {"subject": old.subject, "content": old.content, "contentType": old.content_type,
                 "replyTo": old.reply_to, "sendFrom": old.send_from, "text": old.text_content}
            )  # fmt: skip
        check_input(data, self.limits)  # the operator may have lowered the cap since
        warnings = await self._check(app_id, usage_type, locale, data)
        [(saved, _)] = await self._store(actor, app_id, [(usage_type, locale, data)], "reverted")
        await self._on_change(app_id)
        return Saved(saved.model_copy(update={"warnings": warnings}), False)

    async def delete(self, actor: Actor, app_id: str, usage_type: str, locale: str) -> None:
        """Delete the template and its history (sends fall back along the chain)."""
        check_key(usage_type, locale)
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            row = await _load(session, app_id, usage_type, locale)
            await self._remove(session, actor, app, [row])
        await self._on_change(app_id)

    async def delete_many(
        self, actor: Actor, app_id: str, *, usage_type: str | None = None,
        locale: str | None = None,
    ) -> int:  # fmt: skip
        """Delete the app's templates matching the filters (all without any); how many were."""
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            query = select(AppTemplateRow).where(AppTemplateRow.app_id == app_id)
            if usage_type:
                query = query.where(AppTemplateRow.usage_type == usage_type)
            if locale:
                query = query.where(AppTemplateRow.locale_key == locale_key(locale))
            rows = list((await session.scalars(query)).all())
            if rows:
                await self._remove(session, actor, app, rows)
        if rows:
            await self._on_change(app_id)
        return len(rows)

    async def _remove(
        self, session: AsyncSession, actor: Actor, app: AppRow, rows: list[AppTemplateRow]
    ) -> None:
        for row in rows:
            await session.execute(delete(AppTemplateHistoryRow).where(*_history_key(row)))
            await session.delete(row)
            audit.record(session, actor, "template.delete", app_id=app.id, target=row.id,
                         usageType=row.usage_type, locale=row.locale)  # fmt: skip
        app.templates_version += 1

    async def _store(
        self, actor: Actor, app_id: str, writes: Sequence[tuple[str, str, TemplateInput]],
        action: str,
    ) -> list[tuple[TemplateView, bool]]:  # fmt: skip
        """Write the rows, their history entries and the app's new templates version, in one
        transaction (a refusal, e.g. the cap, stores none of them)."""
        stored = []
        async with self._db.transaction() as session:
            app = await _lock_app(session, actor, app_id)
            for usage_type, locale, data in writes:
                stored.append(await self._write(session, actor, app_id, usage_type, locale,
                                                data, action))  # fmt: skip
            app.templates_version += 1
        return stored

    async def _write(
        self, session: AsyncSession, actor: Actor, app_id: str, usage_type: str, locale: str,
        data: TemplateInput, action: str,
    ) -> tuple[TemplateView, bool]:  # fmt: skip
        row = await _find(session, app_id, usage_type, locale)
        created = row is None
        if row is None:
            await self._refuse_over_limit(session, app_id)
            row = AppTemplateRow(
                app_id=app_id, usage_type=usage_type, locale=locale,
                locale_key=locale_key(locale), version=0,  # its history went with a delete
            )  # fmt: skip
            session.add(row)
        for name, value in data.details().items():
            setattr(row, name, value)
        row.locale = locale  # as last given (matched case-insensitively)
        row.version = (row.version or 0) + 1
        row.updated_at, row.updated_by = utcnow(), actor.name[:200]
        await session.flush()
        _add_history(session, row, action)
        await _trim_history(session, row)
        audit.record(session, actor, f"template.{'create' if created else 'update'}",
                     app_id=app_id, target=row.id, usageType=usage_type, locale=locale,
                     version=row.version, change=action)  # fmt: skip
        return template_view(row), created

    async def _refuse_over_limit(self, session: AsyncSession, app_id: str) -> None:
        held = await session.scalar(
            select(func.count()).select_from(AppTemplateRow).where(AppTemplateRow.app_id == app_id)
        )
        if held is not None and held >= self.limits.max_per_app:
            raise ServiceError(
                "unprocessable",
                f"This save would give app {app_id!r} more templates than the most one app may "
                f"have ({self.limits.max_per_app}): delete templates it no longer uses, or "
                f"replace existing ones. (The operator sets the limit: {MAX_TEMPLATES_ENV}.)",
                label="too_many_templates",
            )


async def _lock_app(session: AsyncSession, actor: Actor, app_id: str) -> AppRow:
    """The app, written first (a no-op) so concurrent saves of one app count and version one
    after the other (the row lock on PostgreSQL, the write lock on SQLite)."""
    app = await load_app(session, actor, app_id)
    touch = update(AppRow).where(AppRow.id == app.id).values(modified=AppRow.modified)
    await session.execute(touch.execution_options(synchronize_session=False))
    await session.refresh(app)
    return app


async def _find(
    session: AsyncSession, app_id: str, usage_type: str, locale: str
) -> AppTemplateRow | None:
    return await session.scalar(
        select(AppTemplateRow).where(
            AppTemplateRow.app_id == app_id,
            AppTemplateRow.usage_type == usage_type,
            AppTemplateRow.locale_key == locale_key(locale),
        )
    )


async def _load(session: AsyncSession, app_id: str, usage_type: str, locale: str) -> AppTemplateRow:
    row = await _find(session, app_id, usage_type, locale)
    if row is None:
        raise ServiceError(
            "not_found",
            f"App {app_id!r} has no {usage_type} template for locale {locale!r} (its sends use "
            "the next template in the chain).",
            subject=TEMPLATE,
        )
    return row


@contextmanager
def _naming(index: int, usage_type: str, locale: str) -> Iterator[None]:
    """A refusal of one item of a list, saying which item."""
    try:
        yield
    except ConnectorError as error:
        error.message = f"templates[{index}] ({usage_type}/{locale}): {error.message}"
        error.args = (error.message,)
        raise


def _history_key(row: AppTemplateRow) -> tuple[Any, ...]:
    return (
        AppTemplateHistoryRow.app_id == row.app_id,
        AppTemplateHistoryRow.usage_type == row.usage_type,
        AppTemplateHistoryRow.locale_key == row.locale_key,
    )


def _history_of(row: AppTemplateRow) -> Any:
    return select(AppTemplateHistoryRow).where(*_history_key(row))


def _add_history(session: AsyncSession, row: AppTemplateRow, action: str) -> None:
    details = {name: getattr(row, name) for name in DETAIL_FIELDS}
    session.add(
        AppTemplateHistoryRow(
            app_id=row.app_id, usage_type=row.usage_type, locale_key=row.locale_key,
            locale=row.locale, version=row.version, action=action, changed_at=row.updated_at,
            changed_by=row.updated_by, **details,
        )
    )  # fmt: skip


async def _trim_history(session: AsyncSession, row: AppTemplateRow) -> None:
    """Keep the last HISTORY_KEPT versions."""
    await session.execute(
        delete(AppTemplateHistoryRow).where(
            *_history_key(row), AppTemplateHistoryRow.version <= row.version - HISTORY_KEPT
        )
    )
