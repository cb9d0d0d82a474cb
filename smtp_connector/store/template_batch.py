"""Several templates saved as one change: Logto's `PUT /api/email-templates` list and
`smtp-connector templates import`. Both promise all or nothing, so every template is checked
before any is stored, with the same checks a single save makes (`check_key`, `check_input`, the
sandbox render of `TemplateRenderer.check`) plus the one a single save cannot know in advance:
that the batch's new templates fit under the app's cap. `check_batch` answers the refusals
(an import lists each failing file); `save_batch` then stores them one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConnectorError
from .domain import Actor
from .errors import ServiceError
from .template_models import (
    MAX_TEMPLATES_ENV,
    Saved,
    TemplateInput,
    check_input,
    check_key,
    locale_key,
)

if TYPE_CHECKING:
    from .service import Service


@dataclass(frozen=True)
class BatchItem:
    usage_type: str
    locale: str
    data: TemplateInput


@dataclass(frozen=True)
class Refusal:
    """Why the batch cannot be stored: item `index`'s error, or (index None) the batch's."""

    index: int | None
    error: ConnectorError


async def check_batch(
    service: Service, actor: Actor, app_id: str, items: list[BatchItem], *, every: bool = True
) -> list[Refusal]:
    """The refusals the batch would meet, nothing stored: the cap first (cheap; over it, no
    template is rendered), then each template; `every=False` stops at the first refused one
    (an HTTP request answers one error; a list of template bombs costs one render budget).
    The app is loaded first: a key bound to another app is refused before anything else."""
    held = await _held_keys(service, actor, app_id)
    new = {(item.usage_type, locale_key(item.locale)) for item in items} - held
    most = service.templates.limits.max_per_app
    if len(held) + len(new) > most:
        message = (
            f"App {app_id!r} has {len(held)} templates and these would add {len(new)}: one "
            f"app may have at most {most}. Delete templates it no longer uses, or send fewer "
            f"(the operator sets the limit: {MAX_TEMPLATES_ENV})."
        )
        return [Refusal(None, ServiceError("unprocessable", message, label="too_many_templates"))]
    refusals = []
    for index, item in enumerate(items):
        try:
            check_key(item.usage_type, item.locale)
            check_input(item.data, service.templates.limits)
            await service.template_render.check(app_id, item.usage_type, item.locale, item.data)
        except ConnectorError as error:
            refusals.append(Refusal(index, error))
            if not every:
                break
    return refusals


async def save_batch(
    service: Service, actor: Actor, app_id: str, items: list[BatchItem]
) -> list[Saved]:
    """Store a checked batch, in its order (a later item for the same key replaces an earlier
    one, as in Logto's upsert)."""
    return [
        await service.templates.put(actor, app_id, item.usage_type, item.locale, item.data)
        for item in items
    ]


async def _held_keys(service: Service, actor: Actor, app_id: str) -> set[tuple[str, str]]:
    """(usage type, tag key) of every template the app holds."""
    held: set[tuple[str, str]] = set()
    cursor: str | None = None
    while True:
        page = await service.templates.page(actor, app_id, limit=500, cursor=cursor)
        held.update((view.usage_type, locale_key(view.locale)) for view in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return held
