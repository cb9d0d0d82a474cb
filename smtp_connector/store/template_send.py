"""A test send of an app's template, saved or not (the admin page's "send a test" beside the
editor): the mail a user would get, through the app's active definitions, to an address the
admin gives.

It is the app's send in every way but two: the template may be an unsaved edit (answering for
its usage type and tag ahead of the stored ones, as in the preview), and the connector is a
throwaway with one try (as a definition's test send), so an edit never enters the app's
cached connector. The request is checked as a send is (recipient, payload, template) before
anything is sent, and audited (recipient domain only).
"""

from __future__ import annotations

from smtp_connector import SendResult
from smtp_connector.compose.provider import template_from_details

from . import audit
from .apps import load_app
from .checks import ONE_TRY
from .configs import AppSender, build_connector
from .database import Database
from .definitions import ordered_definitions
from .domain import Actor
from .errors import ServiceError
from .policy import ServicePolicy
from .secrets import SecretBox
from .template_chain import AppTemplates, load_snapshot
from .template_models import TemplateLimits, check_input, locale_key
from .template_render import (
    Posted,
    PreviewRequest,
    in_service_terms,
    library_details,
    sample_payload,
)


class TemplateTest(PreviewRequest):
    """What to send: `PreviewRequest`'s usage type, locale, optional unsaved template and
    payload, and the recipient."""

    to: str


class TemplateTestSender:
    def __init__(
        self, database: Database, box: SecretBox, policy: ServicePolicy, limits: TemplateLimits
    ) -> None:
        self._db = database
        self._box = box
        self._policy = policy
        self._limits = limits

    async def send(self, actor: Actor, app_id: str, request: TemplateTest) -> SendResult:
        """Send it once; raises the library's error (refused input, or the server's answer)."""
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            rows = await ordered_definitions(session, app_id, active_only=True)
            sender = AppSender.of(app)
            stored = AppTemplates(
                app_id,
                await load_snapshot(session, app_id, app.templates_version, app.default_locale),
            )
        if not rows:
            raise ServiceError(
                "unavailable",
                f"App {app_id!r} has no active server definition to send the test with.",
            )
        usage, locale = request.usage_type, request.locale
        provider: AppTemplates | Posted = stored
        if request.template is not None:
            check_input(request.template, self._limits)
            posted = template_from_details(library_details(request.template), usage, locale)
            provider = Posted(stored, posted, (usage, locale_key(locale or "")))
        payload = request.payload if request.payload is not None else sample_payload(usage)
        connector = build_connector(
            rows, self._box, self._policy, retry=ONE_TRY, app=sender, template_provider=provider
        )
        async with connector:
            with in_service_terms():
                connector.check_payload(usage, payload, locale, to=request.to)
            result = await connector.send(request.to, usage, payload, locale)
        async with self._db.transaction() as session:
            audit.record(session, actor, "template.test", app_id=app_id, usageType=usage,
                         locale=locale, to_domain=request.to.rpartition("@")[2])  # fmt: skip
        return result
