"""Pages of a list: `limit` items and an opaque cursor for the next ones (keyset paging).

A cursor holds the sort key of the last item given out, so the next page starts right after
it however many rows were added or removed meanwhile (an offset would skip or repeat rows),
and the query stays an index range scan however deep the page. It is base64url JSON tagged
with the list it belongs to: opaque to clients, not a secret (the query behind it is still
limited to what the key may see), refused when it does not decode or belongs to another list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Select, and_, false, or_, select

from .domain import Actor
from .errors import ServiceError
from .schema import server_definitions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .tables import AppRow, DefinitionRow

# The order's columns: Core's, the same objects the ORM class maps (a connector's build reads
# without the ORM, build_rows.py; the admin's pages with it).
_DEF = server_definitions.c

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_MAX_CURSOR = 2048


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this was the last page


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad(f"limit must be from 1 to {MAX_LIMIT}, got {limit}.")
    return limit


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([kind, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list[Any]:
    """The sort key in `cursor`; 400 for anything this list did not give out."""
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_kind, key = json.loads(raw)
        if found_kind != kind or not isinstance(key, list):
            raise ValueError
        return key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad(
            "cursor is not one this list gave out: pass the `cursor` from the `Link: <…>; "
            'rel="next"` header of the previous page unchanged, or leave it out to start '
            "from the first page."
        ) from None


def _bad(message: str) -> ServiceError:
    return ServiceError("invalid", message, label="invalid_request")


async def apps_page(
    session: AsyncSession, actor: Actor, limit: int | None, cursor: str | None
) -> Page[AppRow]:
    """Apps by name (names are unique); a key bound to an app sees only that one."""
    from .tables import AppRow

    size = check_limit(limit)
    query = select(AppRow).order_by(AppRow.name)
    if actor.app_id is not None:
        query = query.where(AppRow.id == actor.app_id)
    if cursor is not None:
        (name,) = _typed(decode_cursor("apps", cursor), str)
        query = query.where(AppRow.name > name)
    rows = await _fetch(session, query, size)
    return _page(rows, size, lambda row: encode_cursor("apps", [row.name]))


def definitions_order(query: Select[Any]) -> Select[Any]:
    """The order sends try definitions: priority 0 first; among equal priorities the default
    one, then the oldest (and the id, so that no two rows tie and pages never overlap)."""
    return query.order_by(_DEF.priority, _DEF.is_default.desc(), _DEF.created, _DEF.id)


async def definitions_page(
    session: AsyncSession, app_id: str, limit: int | None, cursor: str | None
) -> Page[DefinitionRow]:
    """The app's definitions in send order, `limit` at a time."""
    from .tables import DefinitionRow

    size = check_limit(limit)
    kind = f"servers:{app_id}"
    query = definitions_order(select(DefinitionRow).where(DefinitionRow.app_id == app_id))
    if cursor is not None:
        priority, default, created, row_id = _typed(
            decode_cursor(kind, cursor), int, bool, str, str
        )
        query = query.where(_after(priority, default, _moment(created), row_id))
    rows = await _fetch(session, query, size)
    return _page(
        rows, size,
        lambda r: encode_cursor(kind, [r.priority, r.is_default, r.created.isoformat(), r.id]),
    )  # fmt: skip


def _after(priority: int, default: bool, created: datetime, row_id: str) -> Any:
    """Rows after (priority, default, created, id) in `definitions_order`."""
    same = _DEF.priority == priority
    later_default = and_(same, _DEF.is_default.is_(False)) if default else false()
    same = and_(same, _DEF.is_default.is_(default))
    return or_(
        _DEF.priority > priority,
        later_default,
        and_(same, _DEF.created > created),
        and_(same, _DEF.created == created, _DEF.id > row_id),
    )


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _bad("cursor is not one this list gave out.") from None


def _typed(values: list[Any], *types: type) -> list[Any]:
    if len(values) != len(types) or not all(
        type(value) is kind for value, kind in zip(values, types, strict=True)
    ):
        raise _bad("cursor is not one this list gave out.")
    return values


async def _fetch(session: AsyncSession, query: Select[Any], size: int) -> list[Any]:
    return list((await session.scalars(query.limit(size + 1))).all())


def _page(rows: list[T], size: int, cursor_of: Any) -> Page[T]:
    """One more row than asked for was read: its presence says a next page exists."""
    if len(rows) <= size:
        return Page(rows, None)
    return Page(rows[:size], cursor_of(rows[size - 1]))
