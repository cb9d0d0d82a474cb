"""`create_app(settings)`: the admin API as a FastAPI app.

The lifespan opens the store (`Service.open`: migrations on SQLite, keys loaded) and closes
pooled SMTP connections and the database at shutdown. Tests and embedding hosts may pass a
ready `Service` instead. Routers are plain modules: native `/v1` routes in `routes/` (those
only an admin asks for, `ADMIN_ROUTERS`, imported and installed by their first request), one
module per seed dialect in `dialects/` (see dialects/README.md; each is imported and installed
by its first request, `dialects/loader.py`; both through `lazy_routers.py`), the admin page in
`web/` (a client of the `/v1` routes, served at `/`). The queue is the service's `Sender`:
built here from the settings, its worker started with the app (embedded engine), and its state
served by `routes/queue.py`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from smtp_connector import __version__
from smtp_connector.queue import Queue, QueueOptions, RetryPolicy
from smtp_connector.store import Service

from . import edge, fast_send, heap, openapi
from .dialects import loader as dialects
from .errors import install_handlers
from .input_guard import InputGuard
from .lazy_routers import Places, Reaches, defer, import_routes
from .limits import AuthThrottle, BodyLimit
from .routes import health, me, messages, queue
from .settings import Settings
from .telemetry import settled_signals
from .web import install as install_page
from .web.docs import install as install_docs

DESCRIPTION = """Stored SMTP server definitions per app, checked and used for sending
verification-code emails. Authenticate with `Authorization: Bearer KEY`
(`smtp-connector keys create`). Secrets are write-only: responses show `__CENSORED__`."""


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        if owned:
            app.state.service, queue = _take_opened(app) or await open_service(settings)
            app.state.queue = queue
            worker = settings.queue_worker
            await queue.start(worker=worker if worker is not None else queue.engine == "embedded")
            app.state.service.keep_fresh()  # keys and versions refreshed off the request path
            heap.settle()  # start-up's objects out of the collector's way (see heap.py)
        try:
            yield
        finally:
            if owned:
                await app.state.service.aclose()  # closes the queue too (its sender)

    signals = settled_signals(FastAPI)  # OpenTelemetry asked once, not per request
    extra: dict[str, Any] = {} if signals is None else {"telemetry": signals}
    app = FastAPI(
        title="smtp-connector",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: web/docs.py instead
        redoc_url=None,
        **extra,
    )
    app.state.settings = settings
    app.state.auth_throttle = AuthThrottle(
        settings.auth_failure_limit, settings.auth_failure_window
    )
    if service is not None:
        app.state.service = service
        app.state.queue = queue_of(service)
    install_handlers(app)
    app.add_middleware(InputGuard)  # inside the body cap: it reads bodies the cap allowed
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    places = Places()  # where the routers installed on first use go (lazy_routers.py)
    for name in ROUTERS:  # the native routers, in this order
        if name in ADMIN_ROUTERS:
            places.reserve(name, len(app.router.routes))  # its place, installed on first use
        else:
            app.include_router(_EAGER[name].router)
    dialect_routes = len(app.router.routes)  # the seeds' dialects go here, installed on first use
    install_page(app)  # `/` and `/static/…`: the admin page, a client of the routes above
    install_docs(app)  # `/docs` and `/redoc` with their assets served from this origin
    openapi.install(app)  # the error bodies' schemas, added when the document is first built
    fast_send.install(app, settings.max_body_bytes)  # the send route's short path (see there)
    edge.install(app, body_timeout=settings.body_timeout,
                 max_concurrency=settings.max_concurrency)  # fmt: skip  # around both paths
    dialects.install(app, places, anchor=dialect_routes)  # each on its first request
    app.state.admin_routers = defer(app, places, ADMIN_ROUTERS, _load_admin_router)
    return app


# The native routers in the order of the route table (and the OpenAPI document). Those an
# admin form or tool asks for, not a sender, are each imported and installed by their first
# request (`lazy_routers.py`) in their place: a path reaches one when it could match one of its
# routes, or the same path with its trailing slash added or taken away (Starlette's redirect);
# `{app_id}` as Starlette's path parameter matches, `[^/]+`. A path that merely extends a
# prefix (`/v1/templatesx`) loads that router too, harmlessly: no route matches it either way.
ROUTERS = ("health", "me", "apps", "servers", "messages", "presets", "templates",
           "app_templates", "queue")  # fmt: skip
_EAGER = {"health": health, "me": me, "messages": messages, "queue": queue}


def _begins_with(pattern: str) -> Reaches:
    compiled = re.compile(pattern)
    return lambda path: compiled.match(path) is not None


ADMIN_ROUTERS: dict[str, Reaches] = {
    "apps": _begins_with(r"/v1/apps(?:/[^/]+)?/*$"),  # not /v1/apps/{id}/…: other routers'
    "servers": _begins_with("/v1/apps/[^/]+/servers"),
    "presets": _begins_with("/v1/presets"),
    "templates": _begins_with("/v1/templates"),
    "app_templates": _begins_with("/v1/apps/[^/]+/templates"),
}


def _load_admin_router(app: FastAPI, name: str) -> None:
    app.include_router(import_routes(f"{__package__}.routes.{name}").router)


def install_admin_routers(app: FastAPI) -> None:
    """Install every deferred native router now (tests that walk `app.routes`)."""
    app.state.admin_routers.install_all()


def build_queue(settings: Settings) -> Queue:
    """The outbox and engine the settings ask for (engine auto: by database)."""
    policy = RetryPolicy(lease=settings.queue_lease)
    options = QueueOptions(
        engine=settings.queue_engine,  # type: ignore[arg-type]  # checked in Settings
        concurrency=settings.queue_concurrency,
        policy=policy,
    )
    return Queue(settings.database_url, options)


async def open_service(settings: Settings) -> tuple[Service, Queue]:
    """The store with the queue as its sender, as `serve` and `worker` run it; the queue is
    closed again if the store cannot open (closing the service later closes both)."""
    queue = build_queue(settings)
    try:
        service = await Service.open(
            settings.database_url, settings.secret_key, migrate=settings.migrate,
            sender=queue.sender_factory, policy=settings.service_policy(),
            max_definitions_per_app=settings.max_definitions_per_app,
        )  # fmt: skip
    except BaseException:
        await queue.aclose()
        raise
    return service, queue


async def open_early(app: FastAPI) -> None:
    """Open the app's store and queue now, before its server serves, and check the queue's
    tables (PostgreSQL, on the store's connection: procrastinate waits for its first use):
    `serve` refuses a wrong, unreachable or unmigrated database with the store's own error
    before the port answers. The lifespan then takes these instead of
    opening the database a second time."""
    service, queue = await open_service(app.state.settings)
    try:
        if queue.distributed is not None:
            await queue.distributed.require_schema(service.database.engine)
    except BaseException:
        await service.aclose()  # closes the queue too
        raise
    app.state.opened = (service, queue)


def _take_opened(app: FastAPI) -> tuple[Service, Queue] | None:
    """What `open_early` opened, handed over once (None: the lifespan opens its own)."""
    opened: tuple[Service, Queue] | None = getattr(app.state, "opened", None)
    if opened is not None:
        del app.state.opened
    return opened


def queue_of(service: Service) -> Queue | None:
    """The queue behind a ready-made service (tests, embedding hosts), if it has one."""
    sender = service.messages.sender
    dispatcher = getattr(sender, "dispatcher", None)
    return dispatcher if isinstance(dispatcher, Queue) else None
