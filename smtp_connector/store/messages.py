"""Sending an app's mail through its active definitions, in priority order (failover is the
library's: the first definition is the top-level server, the others `servers[]`).

Per send, the store is read at most once (the app's `definitions_version` and
`templates_version`, remembered and re-read in the background every fraction of a second,
dropped at once by a change made through this process); the connector for that version is
cached, and its template snapshot reloaded only when the templates changed, so a warm send
costs no query at all, only the SMTP exchange.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from smtp_connector.errors import ConnectorError, secret_safe_logger

from .build_rows import ServerRow, read_for_build
from .configs import build_connector
from .connectors import ConnectorCache, LiveConnector, Versions
from .database import Database
from .domain import Actor, MessageRequest
from .errors import APP, ServiceError, invalid, not_found, refuse_other_app
from .idempotency import IdempotencyLog, check_key, request_fingerprint
from .pages import Page
from .policy import ServicePolicy
from .precheck import check_preparation, check_request
from .recent import RecentMessage, RecentQuery
from .schema import apps
from .secrets import SecretBox
from .sending import DirectSender, MessageStatus, Sender, SendJob, SendOutcome, request_job
from .shared_reads import SharedReads
from .template_chain import AppTemplates, refresh

if TYPE_CHECKING:
    from smtp_connector import RenderedEmail, SmtpConnector

log = secret_safe_logger("smtp_connector.store")
# MessageService._build: an app's connector at a definitions version, from the one it replaces.
_Build = Callable[[str, int, LiveConnector | None], Awaitable[LiveConnector]]
_APP = apps.c
# An app's versions (a request's when not remembered, a queued job's for the jobs of a batch
# together in deliver_now), built once; no row: no such app.
_APP_VERSIONS = select(_APP.definitions_version, _APP.templates_version).where(
    _APP.id == bindparam("app")
)
# The background refresh's query (built once): these apps' versions.
_VERSIONS = select(_APP.id, _APP.definitions_version, _APP.templates_version).where(
    _APP.id.in_(bindparam("apps", expanding=True))
)


class MessageService:
    """`send` for the API; `deliver_now` for queue workers (issue 15)."""

    def __init__(
        self,
        database: Database,
        box: SecretBox,
        connectors: ConnectorCache,
        sender: Callable[[Callable[[SendJob], Awaitable[SendOutcome]]], Sender] = DirectSender,
        policy: ServicePolicy | None = None,
    ) -> None:
        self._db = database
        self._box = box
        self._policy = policy or ServicePolicy()
        self._connectors = connectors
        self._idempotency = IdempotencyLog(database)
        self._job_versions = SharedReads(self._read_versions)
        self.sender: Sender = sender(self.deliver_now)

    async def send(
        self,
        actor: Actor,
        app_id: str,
        request: MessageRequest,
        *,
        idempotency_key: str | None = None,
    ) -> SendOutcome:
        """Deliver now, or hand to the `Sender` when the first-tried definition has `enqueue`.
        With `idempotency_key`, a repeated request answers the first one's outcome (see
        idempotency.py). A lost reply after the content answers `delivery_unknown`."""
        key = check_key(idempotency_key)
        if request.expires_at is not None and request.expires_at <= datetime.now(UTC):
            raise invalid("expiresAt is in the past: nothing would be sent.")
        versions = await self._version(actor, app_id)
        async with self._lease(app_id, versions) as live:
            prepare = check_preparation(live.connector, request)
            if prepare is not None:  # a template not analysed before: off the loop (precheck.py)
                await self._connectors.run_check(prepare)
            warnings = check_request(live.connector, request)  # refused before 200/202
            # Made once, with the definitions a queued job keeps (none for a direct send):
            # no second SendJob per queued request (issue 26).
            job = request_job(
                app_id, request.to, request.usage_type, request.payload, request.locale,
                live.definition_ids if live.enqueue else (), key,
                request_fingerprint(request) if key else None, request.expires_at,
                request.max_attempts,
            )  # fmt: skip
            outcome = await self._send_checked(live, job, key)
        outcome.warnings = warnings
        return outcome

    async def _send_checked(
        self, live: LiveConnector, job: SendJob, key: str | None
    ) -> SendOutcome:
        """Queue `job` (the first-tried definition has `enqueue`) or deliver it now."""
        if live.enqueue:
            if key is not None:  # the same key sent directly before: the same request
                assert job.request_hash is not None
                earlier = await self._idempotency.find(job.app_id, key, job.request_hash)
                if earlier is not None:
                    return earlier
            return await self.sender.enqueue(job)
        if key is None:
            return await self._deliver_direct(live, job)
        return await self._deliver_once(live, job, key)

    async def _deliver_once(self, live: LiveConnector, job: SendJob, key: str) -> SendOutcome:
        """A direct send under an idempotency key: claimed first, its answer kept."""
        assert job.request_hash is not None
        queued = await self.sender.replay(job.app_id, key, job.request_hash)
        if queued is not None:  # the same key was queued before (the definition changed)
            return queued
        earlier = await self._idempotency.claim(job.app_id, key, job.request_hash)
        if earlier is not None:
            return earlier
        try:
            outcome = await self._deliver_direct(live, job)
        except Exception:  # the server did not take it (or a bug): the key may send again
            await self._idempotency.release(job.app_id, key)
            raise
        await self._idempotency.complete(job.app_id, key, outcome.to_dict())
        return outcome

    async def _deliver_direct(self, live: LiveConnector, job: SendJob) -> SendOutcome:
        """`_deliver`, except that a reply lost after the message's content is an outcome, not
        an error: a 5xx/502 there would invite the retry that sends a second code."""
        try:
            return await self._deliver(live, job)
        except ConnectorError as error:
            if error.stage != "after_data" or isinstance(error, ServiceError):
                raise
            definition = live.definition_for(error.server)
            return SendOutcome("delivery_unknown", unknown=error, definition_id=definition)

    async def _version(self, actor: Actor, app_id: str) -> Versions:
        """The app's definitions and templates versions: cached for a moment (see
        ConnectorCache)."""
        refuse_other_app(actor, app_id)
        known = self._connectors.known_version(app_id)
        if known is not None:
            return known
        generation = self._connectors.generation(app_id)
        versions = await self._read_versions(app_id)
        if versions is None:
            raise not_found(APP, app_id)
        self._connectors.saw_version(app_id, versions, generation)
        return versions

    async def refresh_versions(self) -> None:
        """Re-read the remembered apps' versions in one query (freshness.py), so that sends
        find them current without a query of their own."""
        apps, started = self._connectors.remembered_versions()
        if not apps:
            return
        async with self._db.engine.connect() as connection:  # Core: no ORM session to build
            rows = await connection.execute(_VERSIONS, {"apps": list(apps)})
            versions = {app_id: Versions(defs, templates) for app_id, defs, templates in rows}
        self._connectors.refreshed(apps, started, versions)

    async def deliver_now(self, job: SendJob) -> SendOutcome:
        """Deliver `job` through the app's current definitions and templates, their versions
        read from the database for the job (not the second-long cache of the request path): a
        worker may be another process, and a template saved just before the job was queued
        must be the one it renders. The jobs of a claimed batch share that read
        (shared_reads.py); a queue that read the versions in the claim's own transaction (the
        embedded SQLite outbox: after the job was queued, as new as this read) hands them in
        `job.versions`. Raises ConnectorError."""
        if job.versions is not None:
            # Not remembered for the request path: a change made since the claim may already
            # have dropped this process's entry, and must not be undone by an older read.
            versions = Versions(*job.versions)
        else:
            versions = await self._read_job_versions(job.app_id)
        async with self._lease(job.app_id, versions) as live:
            return await self._deliver(live, job)

    async def _read_job_versions(self, app_id: str) -> Versions:
        generation = self._connectors.generation(app_id)
        versions = await self._job_versions.get(app_id)
        if versions is None:
            raise ServiceError("not_found", f"App {app_id!r} no longer exists.")
        self._connectors.saw_version(app_id, versions, generation)
        return versions

    async def _read_versions(self, app_id: str) -> Versions | None:
        async with self._db.engine.connect() as connection:  # Core: no ORM session per read
            row = (await connection.execute(_APP_VERSIONS, {"app": app_id})).first()
        return None if row is None else Versions(row.definitions_version, row.templates_version)

    async def status(self, actor: Actor, message_id: str) -> MessageStatus | None:
        """A queued message's state; None when unknown or another app's (for a bound key)."""
        status = await self.sender.status(message_id)
        if status is None or (status.app_id is not None and not actor.can_access(status.app_id)):
            return None
        return status

    async def render(
        self,
        actor: Actor,
        app_id: str,
        usage_type: str,
        payload: Mapping[str, Any],
        locale: str | None = None,
    ) -> RenderedEmail:
        """What a send through the app would put in the mail, rendered by the very connector
        sends use (same templates, same application name and sender): the admin page's
        preview. `unavailable` (409) when the app has no active definition to send with."""
        versions = await self._version(actor, app_id)
        async with self._lease(app_id, versions) as live:
            return live.connector.render(usage_type, payload, locale)

    async def recent(
        self,
        actor: Actor,
        app_id: str,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[RecentMessage] | None:
        """The app's queued messages, newest first, recipients masked (recent.py); None when
        this service keeps no queue. Another app's (for a bound key) or an unknown app: refused
        as every app route refuses them."""
        refuse_other_app(actor, app_id)
        if await self._read_versions(app_id) is None:
            raise not_found(APP, app_id)
        return await self.sender.recent(RecentQuery.parse(app_id, status, limit, cursor))

    async def _deliver(self, live: LiveConnector, job: SendJob) -> SendOutcome:
        result = await live.connector.send(job.to, job.usage_type, job.payload, job.locale)
        last = result.attempt_log[-1].server if result.attempt_log else None
        return SendOutcome("sent", result=result, definition_id=live.definition_for(last))

    def _lease(self, app_id: str, versions: Versions) -> _Lease:
        """The app's connector at `versions` for the length of an `async with` (see _Lease)."""
        return _Lease(self._connectors, self._db, self._build, app_id, versions)

    async def _build(
        self, app_id: str, version: int, previous: LiveConnector | None
    ) -> LiveConnector:
        """The app's connector, made in the build threads (see connectors.py) from one Core
        read (build_rows.py); the one it replaces lends its compiled templates, so the first
        sends do not compile on the loop, and, when it is this app's, its template snapshot."""
        read = await read_for_build(self._db, app_id)
        if read is not None:
            version = read.version
        if read is None or not read.raw:
            raise ServiceError(
                "unavailable",
                f"App {app_id!r} has no active server definition: add one, or run check on a "
                "disabled one to re-enable it.",
            )
        # Another app's connector lends compiled templates only, never its app's templates.
        own = previous.templates if previous is not None else None
        templates = own if own is not None and own.app_id == app_id else AppTemplates(app_id)
        earlier = previous.connector if previous else None
        policy, box = self._policy, self._box

        def work() -> tuple[SmtpConnector, list[ServerRow], dict[str, str]]:
            rows = read.servers()
            built = build_connector(rows, box, policy, app=read.sender, compose_from=earlier,
                                    template_provider=templates)  # fmt: skip
            # Results name the primary by address, failover servers by id; errors name any by
            # address (two definitions of one address: the first-tried one is named).
            labels = {f"{row.host}:{row.port}": row.id for row in reversed(rows)}
            labels |= {row.id: row.id for row in rows}
            return built, rows, labels

        started = time.perf_counter()
        log.info("building the connector of app %s (%d definitions)", app_id, len(read.raw))
        try:
            connector, rows, labels = await self._connectors.run_build(work)
        finally:
            log.info("finished building the connector of app %s in %.1f ms", app_id,
                     (time.perf_counter() - started) * 1000)  # fmt: skip
        return LiveConnector(
            connector=connector,
            version=version,
            definition_ids=tuple(row.id for row in rows),
            enqueue=rows[0].enqueue,
            templates=templates,
            labels=labels,
        )


class _Lease:
    """The app's connector at `versions.definitions` (ConnectorCache.acquire), its template
    snapshot brought to `versions.templates` (template_chain.refresh) before anything renders.

    A plain async context manager over the cache's `acquire` and `release` rather than
    `asynccontextmanager` generators: every send enters one, and each generator layer (its
    frames, its `athrow` path) was a measurable part of a queued request's CPU (issue 26 §1)."""

    __slots__ = ("_app_id", "_build", "_connectors", "_db", "_live", "_versions")
    _live: LiveConnector  # the entry acquired, once entered

    def __init__(
        self, connectors: ConnectorCache, database: Database, build: _Build, app_id: str,
        versions: Versions,
    ) -> None:  # fmt: skip
        self._connectors = connectors
        self._db = database
        self._build = build
        self._app_id = app_id
        self._versions = versions

    async def __aenter__(self) -> LiveConnector:
        app_id, version, build = self._app_id, self._versions.definitions, self._build
        # A built connector with current templates (the warm send) costs no coroutine.
        live = self._connectors.take_built(app_id, version)
        if live is None:
            live = await self._connectors.acquire(
                app_id, version, lambda previous: build(app_id, version, previous)
            )
        self._live = live
        templates = live.templates
        if templates is not None and templates.version < self._versions.templates:
            try:
                await refresh(self._db, templates, self._versions.templates)
            except BaseException:  # the lease is let go, as a `with` body's error would
                self._connectors.release(live)
                raise
        return live

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: Any
    ) -> None:
        self._connectors.release(self._live)
