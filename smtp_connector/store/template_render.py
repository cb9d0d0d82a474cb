"""Templates rendered as a send renders them, without sending: the check at save and the preview.

Both use a connector configured like the app's sending connector in everything that decides
how a mail renders (the sender and so the `application.name` default, the default locale, the
special-use-domain switch, the library's render limits) that never connects anywhere, with the
app's template provider (template_chain.py). So a preview shows the words, From and Reply-To a
user would get, and a template is refused at save by the very sandbox and bounds that would
refuse it at send: compiled (a syntax error with its line), run once on a sample payload
(output size, loop iterations, render time), its `sendFrom`/`replyTo` parsed. That CPU work
runs in the connector build threads, never on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import Field

from smtp_connector.addresses import Address
from smtp_connector.compose.provider import template_from_details
from smtp_connector.config import EmailTemplate
from smtp_connector.errors import ConnectorError
from smtp_connector.usage import CODELESS_USAGE_TYPES

from .apps import load_app
from .configs import AppSender, mail_sender
from .database import Database
from .definitions import ordered_definitions
from .domain import Actor, Wire
from .errors import APP, not_found
from .tables import AppRow, DefinitionRow
from .template_chain import AppTemplates, Level, find_app_template, load_snapshot, resolve
from .template_models import (
    LOCALE_PATTERN,
    USAGE_PATTERN,
    TemplateInput,
    TemplateLimits,
    check_input,
    details_mapping,
    locale_key,
)

if TYPE_CHECKING:
    from smtp_connector import SmtpConnector, TemplateProvider

T = TypeVar("T")
Run = Callable[[Callable[[], T]], Awaitable[T]]
STAND_IN_FROM = "no-reply@example.com"
SAMPLE_CODE = "123456"
SAMPLE_LINK = "https://example.com/invitation/accept?token=example"
# A stored template must render a sample in half the time a send allows (the library's 1 s
# render budget): a real payload may cost more than the sample, and a save is answered
# within a second even when the template is a render-time bomb.
SAVE_RENDER_TIMEOUT_MS = 500
NO_SENDER = (
    "The app has no sender yet: the preview shows a stand-in From; set fromEmail on the app "
    "or on its server definition."
)


class PreviewRequest(Wire):
    """What to preview: the stored chain's template for (usageType, locale), or `template` as
    if it were stored for them; with `payload`, or a sample one (code 123456, a link for an
    invitation)."""

    usage_type: str = Field(default="SignIn", pattern=USAGE_PATTERN)
    locale: str | None = Field(default=None, max_length=35, pattern=LOCALE_PATTERN)
    template: TemplateInput | None = None
    payload: dict[str, Any] | None = None


class Preview(Wire):
    """The mail a send would render, and where its template came from (`posted`: the
    request's own)."""

    usage_type: str = Field(description="the template's usage type (Generic where it filled in)")
    locale: str | None = None
    level: Literal["posted", "app", "defaultLocale", "config", "shipped"]
    subject: str
    text: str | None = None
    html: str | None = None
    from_: str = Field(alias="from")
    reply_to: str | None = None
    warnings: list[str] = Field(default_factory=list)


def render_config(rows: Sequence[DefinitionRow], app: AppSender | None) -> dict[str, Any]:
    """The render-deciding part of the app's sending config (configs.connector_config), for
    a connector that never connects: no host of the app's, no secret."""
    sender = mail_sender(rows, app) or (STAND_IN_FROM, None)
    config: dict[str, Any] = {
        "host": "localhost",
        "fromEmail": sender[0],
        "allowSpecialUseDomains": bool(rows and rows[0].allow_special_use_domains),
        "disableFileAccess": True,
        "disableUrlAccess": True,
    }
    if sender[1]:
        config["fromName"] = sender[1]
    if app is not None and app.default_locale:
        config["defaultLocale"] = app.default_locale
    return config


# The library names its own settings in a few template refusals; the service has none of them
# (its limits are the library's defaults), so they are left out, or said in the API's terms.
_LIBRARY_TERMS = (
    (re.compile(r" \(`(renderTimeout|maxOutputBytes|maxPayloadBytes)`\)"), ""),
    (
        re.compile(r"set `allowSpecialUseDomains: true` in the config[^;.]*"),
        "set `allowSpecialUseDomains` on the app's server definition (a local relay only)",
    ),
)


@contextmanager
def in_service_terms() -> Iterator[None]:
    """A template refusal's message without the library's config keys."""
    try:
        yield
    except ConnectorError as error:
        for pattern, replacement in _LIBRARY_TERMS:
            error.message = pattern.sub(replacement, error.message)
        error.args = (error.message,)
        raise


def sample_payload(usage_type: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": SAMPLE_CODE}
    if usage_type in CODELESS_USAGE_TYPES:
        payload["link"] = SAMPLE_LINK
    return payload


class Posted:
    """A provider answering the posted template for its (usage type, locale) and the app's
    stored ones otherwise: the preview of an unsaved edit goes through the same chain."""

    def __init__(self, stored: AppTemplates, template: EmailTemplate, key: tuple[str, str]):
        self.stored, self.posted, self.key = stored, template, key
        self.version = (stored.version, id(template))

    def template(self, usage_type: str, locale: str | None) -> EmailTemplate | None:
        if (usage_type, locale_key(locale or "")) == self.key:
            return self.posted
        return self.stored.template(usage_type, locale)


def _connector(config: dict[str, Any], provider: TemplateProvider | None = None) -> SmtpConnector:
    """A connector for a render: loaded here, on the first preview, so `serve` starts
    without Jinja and the SMTP client."""
    from smtp_connector.connector import SmtpConnector

    return SmtpConnector(config, template_provider=provider)


def _address(address: Address | None) -> str | None:
    if address is None:
        return None
    mailbox = f"{address.local}@{address.domain}"
    return f"{address.display_name} <{mailbox}>" if address.display_name else mailbox


class TemplateRenderer:
    """Checks templates before they are stored and previews the app's mails."""

    def __init__(self, database: Database, run: Run[Any], limits: TemplateLimits) -> None:
        self._db = database
        self._run = run
        self._limits = limits

    async def _app_parts(
        self, actor: Actor | None, app_id: str
    ) -> tuple[dict[str, Any], AppTemplates, bool]:
        """(render config, the app's provider at its current snapshot, whether the app has a
        sender of its own)."""
        async with self._db.transaction() as session:
            if actor is not None:
                app = await load_app(session, actor, app_id)
            else:  # a save's check: the save loaded the app for its actor already
                found = await session.get(AppRow, app_id)
                if found is None:
                    raise not_found(APP, app_id)
                app = found
            rows = await ordered_definitions(session, app_id, active_only=True)
            snapshot = await load_snapshot(
                session, app_id, app.templates_version, app.default_locale
            )
            sender = AppSender.of(app)
        has_sender = mail_sender(rows, sender) is not None
        return render_config(rows, sender), AppTemplates(app_id, snapshot), has_sender

    async def check(
        self, app_id: str, usage_type: str, locale: str, data: TemplateInput
    ) -> list[str]:
        """Refuse (`template_error`) what the sandbox would refuse at send; the warnings."""
        config, _, _ = await self._app_parts(None, app_id)
        config["renderTimeout"] = SAVE_RENDER_TIMEOUT_MS
        details = library_details(data)

        def work() -> list[str]:  # (check_template returns its warnings, issues none)
            with in_service_terms():
                connector = _connector(config)
                return connector.check_template(details, usage_type, locale)

        return await self._run(work)

    async def preview(self, actor: Actor, app_id: str, request: PreviewRequest) -> Preview:
        """Render as a send of (usageType, locale) would, the edge check's findings as
        warnings (a send with this payload would be refused: it says why)."""
        config, stored, has_sender = await self._app_parts(actor, app_id)
        usage, locale = request.usage_type, request.locale
        found: list[str] = [] if has_sender else [NO_SENDER]
        provider: AppTemplates | Posted = stored
        posted = None
        if request.template is not None:
            check_input(request.template, self._limits)
            posted = template_from_details(library_details(request.template), usage, locale)
            provider = Posted(stored, posted, (usage, locale_key(locale or "")))
        payload = request.payload if request.payload is not None else sample_payload(usage)

        def work() -> Preview:
            with in_service_terms():  # no catch_warnings: it is not thread-safe
                connector = _connector(config, provider)
                if posted is not None:
                    found.extend(connector.check_template(posted, usage, locale))
                rendered = connector.render(usage, payload, locale)
                try:
                    found.extend(connector.check_payload(usage, payload, locale))
                except ConnectorError as error:
                    found.append(f"A send with this payload would be refused: {error.message}")
                chosen = resolve(connector, stored, usage, locale)
            level = "posted" if posted is not None and chosen.template == posted else chosen.level
            return Preview.model_validate({
                "usageType": chosen.usage_type, "locale": chosen.locale, "level": level,
                "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
                "from": _address(rendered.from_address), "replyTo": _address(rendered.reply_to),
                "warnings": found,
            })  # fmt: skip

        return await self._run(work)

    async def levels(
        self, actor: Actor, app_id: str, usage_types: Sequence[str], locales: Sequence[str]
    ) -> list[dict[str, Any]]:
        """For each usage type × locale, the level a send's template comes from (the admin's
        grid): `{"usageType", "locale", "level", "templateUsageType", "templateLocale"}`."""
        config, stored, _ = await self._app_parts(actor, app_id)

        def work() -> list[dict[str, Any]]:
            connector = _connector(config, stored)
            cells = []
            for usage in usage_types:
                for locale in locales:
                    chosen = resolve(connector, stored, usage, locale)
                    cells.append({
                        "usageType": usage, "locale": locale, "level": chosen.level,
                        "templateUsageType": chosen.usage_type, "templateLocale": chosen.locale,
                    })  # fmt: skip
            return cells

        return await self._run(work)


def library_details(data: TemplateInput) -> dict[str, Any]:
    """The library's template-details mapping of `data`."""
    return details_mapping(
        data.subject, data.content, data.content_type,
        text=data.text, reply_to=data.reply_to, send_from=data.send_from,
    )  # fmt: skip


__all__ = ["Level", "Preview", "PreviewRequest", "TemplateRenderer", "find_app_template"]
