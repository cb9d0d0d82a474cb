"""Which template a send uses: the app's stored templates as the connector's template provider.

The whole chain, for a send of (usage type, locale) by an app:

1. the app's template for the usage type in the requested locale (`en-US`, then `en`);
2. the same in the app's `defaultLocale` (then its language; `en` when the app sets none);
3. the definition's or config's own templates (the library's config `templates`);
4. the shipped template in the requested locale (then the default locale's);
5. the shipped English template;

and where a usage type has nothing at any of these levels (a custom one), `Generic` fills in
through the same chain, as Logto's `getI18nEmailTemplate` does.

Steps 1-2 are `find_app_template`, answered by `AppTemplates` (the library's `TemplateProvider`:
sync, over an in-memory `Snapshot` of the app's rows with the app's `templates_version` as its
`version`, so compose caches key by version); steps 3-5 and the Generic fill-in are the
library's own selection (compose/selection.py). A send, a queued send's worker, the edge check
and the preview all render through one connector holding this provider: there is no second
rendering path. `resolve` says which level answered, for the preview and the admin's grid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import bindparam, select

from smtp_connector.compose.provider import template_from_details
from smtp_connector.config import EmailTemplate
from smtp_connector.errors import ConnectorError, secret_safe_logger

from .database import Database
from .schema import app_templates, apps
from .template_models import locale_key, template_details

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from smtp_connector import SmtpConnector
    from smtp_connector.config.views import TemplateView

log = secret_safe_logger("smtp_connector.store")

FALLBACK_LOCALE = "en"  # an app without defaultLocale: the library's default
Level = Literal["app", "defaultLocale", "config", "shipped"]
AppLevel = Literal["app", "defaultLocale"]


@dataclass(frozen=True)
class Snapshot:
    """An app's stored templates at one `templates_version`, keyed by (usage type, tag key)."""

    version: int = 0
    default_locale: str | None = None
    templates: Mapping[tuple[str, str], EmailTemplate] = field(default_factory=dict)


@dataclass(frozen=True)
class AppFind:
    """An app template found by steps 1-2, the step that found it, and the tag key it has."""

    template: EmailTemplate
    level: AppLevel
    locale_key: str


def app_locale_chain(locale: str | None, default_locale: str | None) -> list[tuple[str, AppLevel]]:
    """Tag keys to try, in order, each with its step: the requested tag and its language,
    then the app's default tag and its language; no key twice."""
    chain: list[tuple[str, AppLevel]] = []
    steps: tuple[tuple[str | None, AppLevel], ...] = (
        (locale, "app"),
        (default_locale or FALLBACK_LOCALE, "defaultLocale"),
    )
    for tag, level in steps:
        if not tag:
            continue
        key = locale_key(tag)
        for candidate in (key, key.split("-")[0]):
            if candidate not in (known for known, _ in chain):
                chain.append((candidate, level))
    return chain


def find_app_template(snapshot: Snapshot, usage_type: str, locale: str | None) -> AppFind | None:
    """Steps 1-2 of the chain: the app's own template for `usage_type`, or None."""
    for key, level in app_locale_chain(locale, snapshot.default_locale):
        found = snapshot.templates.get((usage_type, key))
        if found is not None:
            return AppFind(found, level, key)
    return None


class AppTemplates:
    """The `TemplateProvider` of one app's connector: answers from its snapshot; `version` is
    the snapshot's `templates_version`, so the connector re-asks (and its caches re-key) only
    when the app's templates changed."""

    def __init__(self, app_id: str, snapshot: Snapshot | None = None) -> None:
        self.app_id = app_id
        self.snapshot = snapshot or Snapshot()
        self.refreshing = asyncio.Lock()

    @property
    def version(self) -> int:
        return self.snapshot.version

    def template(self, usage_type: str, locale: str | None) -> EmailTemplate | None:
        found = find_app_template(self.snapshot, usage_type, locale)
        return found.template if found is not None else None

    def replace(self, snapshot: Snapshot) -> None:
        """Take a newer snapshot (an older one, read by a slower concurrent refresh, is
        ignored)."""
        if snapshot.version >= self.snapshot.version:
            self.snapshot = snapshot


# Built once: the app's stored templates, and the app's versions and default locale (Core).
_TEMPLATES = select(app_templates).where(app_templates.c.app_id == bindparam("app"))
_APP = select(apps.c.templates_version, apps.c.default_locale).where(apps.c.id == bindparam("app"))


async def load_snapshot(
    reader: AsyncConnection | AsyncSession, app_id: str, version: int, default_locale: str | None
) -> Snapshot:
    """The app's templates as they are now: call inside the transaction (a connection's or a
    session's) that read the app's `templates_version` and `default_locale`."""
    rows = (await reader.execute(_TEMPLATES, {"app": app_id})).all()
    templates: dict[tuple[str, str], EmailTemplate] = {}
    for row in rows:
        try:
            templates[(row.usage_type, row.locale_key)] = template_from_details(
                template_details(row), row.usage_type, row.locale
            )
        except ConnectorError as error:  # checked at save; a library upgrade may disagree
            log.warning("app %s: stored template %s/%s skipped: %s", app_id, row.usage_type,
                        row.locale, error.message)  # fmt: skip
    return Snapshot(version, default_locale, templates)


async def refresh(database: Database, provider: AppTemplates, version: int) -> None:
    """Bring `provider` to at least `version` (the app's `templates_version` as a send just
    read it): one query for the rows, only when they changed; concurrent sends wait for one."""
    if provider.version >= version:
        return
    async with provider.refreshing:
        if provider.version >= version:
            return
        app_id = provider.app_id
        async with database.engine.connect() as connection:  # Core: no ORM rows to build
            app = (await connection.execute(_APP, {"app": app_id})).first()
            if app is None:
                return  # deleted meanwhile: the send fails on its own
            snapshot = await load_snapshot(connection, app_id, *app)
        provider.replace(snapshot)


@dataclass(frozen=True)
class Resolution:
    """Which template a send of (usage type, locale) renders, and the chain's step for it:
    `app` (1), `defaultLocale` (2), `config` (3), `shipped` (4-5). `usage_type` is the
    template's own (`Generic` where it filled in), `locale` its tag (None: no tag)."""

    level: Level
    usage_type: str
    locale: str | None
    template: TemplateView  # a model: `template_choice` gives shipped ones as `EmailTemplate`


def resolve(
    connector: SmtpConnector, provider: AppTemplates, usage_type: str, locale: str | None
) -> Resolution:
    """The chain's answer for (usage type, locale), asked of the connector sends use (raises
    the library's `template_not_found`)."""
    choice = connector.template_choice(usage_type, locale)
    template = choice.template
    if choice.source == "provider":
        found = find_app_template(provider.snapshot, template.usage_type, locale)
        level: Level = found.level if found is not None else "app"
    else:
        level = choice.source
    return Resolution(level, template.usage_type, template.locale, template)
