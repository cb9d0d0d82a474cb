"""`Service`: the domain layer in one object, the only thing routers and the CLI talk to.

It owns the database, the secret box and the connector cache, and exposes one service per
concern (apps, definitions, checks, messages, keys, audit, templates). Nothing in here knows HTTP:
routers translate requests into these calls and `ServiceError`/`ConnectorError` into their
dialect's error shape.

A send needs keys, messages and the audit log, which run Core statements (schema.py); the apps',
definitions', checks' and templates' services are built, and their modules imported, when
first asked for (`parts.py`): an admin's request, not a sender's, so an idle `serve` holds none
of them, nor SQLAlchemy's ORM that they work with (issue 26 §5's idle RSS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from . import audit
from .audit import AuditLog
from .connectors import ConnectorCache
from .database import Database, unavailable
from .domain import CLI_ACTOR, Actor
from .freshness import Freshness
from .keys import KeyService
from .messages import MessageService
from .migrate import prepare_schema
from .parts import part
from .policy import DEFAULT_MAX_PER_APP, ServicePolicy
from .schema import SECRET_COLUMNS
from .secrets import SecretBox, load_secret_box
from .sending import DirectSender, Sender, SendJob, SendOutcome
from .template_models import TemplateLimits

if TYPE_CHECKING:
    from .apps import AppService
    from .checks import CheckService
    from .definitions import DefinitionService
    from .template_render import TemplateRenderer
    from .template_send import TemplateTestSender
    from .templates import TemplateService

SenderFactory = Callable[[Callable[[SendJob], Awaitable[SendOutcome]]], Sender]


class Service:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        *,
        sender: SenderFactory = DirectSender,
        max_definitions_per_app: int = DEFAULT_MAX_PER_APP,
        policy: ServicePolicy | None = None,
        template_limits: TemplateLimits | None = None,
    ) -> None:
        """`template_limits`: the caps on stored templates (default: from the environment,
        SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP and SMTP_CONNECTOR_MAX_TEMPLATE_BYTES)."""
        self.database = database
        self.box = box
        self.policy = policy = policy or ServicePolicy()
        self.connectors = ConnectorCache()
        self.keys = KeyService(database)
        self.messages = MessageService(database, box, self.connectors, sender, policy)
        self.audit = AuditLog(database)
        self.max_definitions_per_app = max_definitions_per_app
        self.template_limits = template_limits or TemplateLimits.from_env()
        window = min(self.keys.cache_ttl, self.connectors.version_ttl)
        self.freshness = Freshness([self.keys.refresh, self.messages.refresh_versions], window)

    @classmethod
    async def open(
        cls,
        database_url: str,
        secret_key: str | None = None,
        *,
        migrate: bool | None = None,
        sender: SenderFactory = DirectSender,
        max_definitions_per_app: int = DEFAULT_MAX_PER_APP,
        policy: ServicePolicy | None = None,
    ) -> Service:
        """Connect, prepare the schema (migrate on SQLite by default, else require it
        current) and load the encryption keys; raises ConnectorError(invalid_config)."""
        database = Database(database_url)
        try:
            box = load_secret_box(database.url, secret_key)
            await prepare_schema(database, migrate=migrate)
        except DBAPIError as exc:
            await database.dispose()
            raise unavailable(database.url, exc) from None
        except BaseException:
            await database.dispose()
            raise
        return cls(
            database, box, sender=sender, policy=policy,
            max_definitions_per_app=max_definitions_per_app,
        )  # fmt: skip

    # Built on first use (parts.py): the same objects, with the same arguments, as before.
    @part
    def apps(self) -> AppService:
        from .apps import AppService

        return AppService(self.database, self._app_deleted)

    @part
    def definitions(self) -> DefinitionService:
        from .definitions import DefinitionService

        return DefinitionService(
            self.database, self.box, self.connectors.invalidate, self.policy,
            max_per_app=self.max_definitions_per_app,
        )  # fmt: skip

    @part
    def checks(self) -> CheckService:
        from .checks import CheckService

        return CheckService(self.database, self.box, self.connectors.invalidate, self.policy)

    @part
    def template_render(self) -> TemplateRenderer:
        from .template_render import TemplateRenderer

        return TemplateRenderer(self.database, self.connectors.run_build, self.template_limits)

    @part
    def templates(self) -> TemplateService:
        from .templates import TemplateService

        limits = self.template_limits
        return TemplateService(
            self.database, self._templates_changed, self.template_render.check, limits
        )

    @part
    def template_tests(self) -> TemplateTestSender:
        from .template_send import TemplateTestSender

        return TemplateTestSender(self.database, self.box, self.policy, self.template_limits)

    async def _templates_changed(self, app_id: str) -> None:
        """This process's next send of the app reads its templates version (and reloads)."""
        self.connectors.stale(app_id)

    async def _app_deleted(self, app_id: str) -> None:
        """Its keys (deleted with it) stop working at once, its connector is closed."""
        self.keys.forget(app_id)
        await self.connectors.invalidate(app_id)
        self.connectors.forget(app_id)

    def keep_fresh(self) -> None:
        """Refresh cached keys and versions in the background (long-running processes: serve,
        worker), so requests never wait on the database for them (see freshness.py)."""
        self.freshness.start()

    async def aclose(self) -> None:
        await self.freshness.aclose()
        await self.messages.sender.aclose()
        await self.connectors.aclose()
        await self.database.dispose()

    async def rotate_secrets(self, actor: Actor = CLI_ACTOR) -> int:
        """Re-encrypt every stored secret with the first key; returns how many were."""
        from .tables import DefinitionRow

        count = 0
        async with self.database.transaction() as session:
            rows = (await session.scalars(select(DefinitionRow))).all()
            for row in rows:
                for column in SECRET_COLUMNS:
                    token = getattr(row, column)
                    if token:
                        setattr(row, column, self.box.rotate(token))
                        count += 1
            audit.record(session, actor, "secrets.rotate", secrets=count, keys=self.box.key_count)
        return count
