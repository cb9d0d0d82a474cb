"""Routers imported and installed by their first request, each in its place in the route table.

Importing a router's module declares its models and its routes' parameters, bodies and
responses (FastAPI analyses each route when it is declared): start-up CPU for routes a fresh
`serve` may not be asked for before long (the seed dialects, the presets and the templates'
admin routes). A `Deferred` group installs none of its routers at start; a router is imported
and installed by the first request whose path it `reaches`, before any middleware or route sees
that request, and every one of them before the OpenAPI document is first built, so
`/openapi.json` and `/docs` list every route. The validators of its routes are built as it is
installed (`build_validators`), not by the first request that uses them. Installing runs no
`await`: two first requests on the event loop cannot both install a router, nor see it half
installed.

Routing and the document's order depend on the route table's order, so each router's routes
go where an app that installed everything at start has them: a `Places` table, shared by every
group of one app, remembers where each deferred router's routes would start among the routes
installed at start (its anchor) and how many routes each installed router added.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_fields_from_routes
from pydantic.warnings import UnsupportedFieldAttributeWarning
from starlette.requests import Request

from smtp_connector.store.domain import build_wire_models

from .errors import Failure, log, render

Reaches = Callable[[str], bool]  # does a request to this path need the router?
Load = Callable[[FastAPI, str], None]  # import router `name` and install it on the app
MAX_UNREACHED = 4096  # paths remembered as reaching no waiting router (then forgotten at once)


class Places:
    """Where deferred routers' routes go in one app's route table, whatever the order in which
    they are installed."""

    def __init__(self) -> None:
        self.anchors: dict[str, int] = {}  # router -> its index among the start's routes
        self.counts: dict[str, int] = {}  # installed router -> how many routes it added

    def reserve(self, name: str, anchor: int) -> None:
        """Routers are reserved in the order an eager app installs them."""
        self.anchors[name] = anchor

    def place(self, name: str) -> int:
        """The index of `name`'s first route: its anchor, after the routes of every router
        reserved before it that is installed already."""
        order = list(self.anchors)
        before = order.index(name)
        return self.anchors[name] + sum(
            count for other, count in self.counts.items() if order.index(other) < before
        )


class Deferred:
    """A group of routers not installed yet: name -> what reaches it."""

    def __init__(self, app: FastAPI, places: Places, waiting: dict[str, Reaches], load: Load):
        self.app = app
        self.places = places
        self.waiting = dict(waiting)
        self.load = load
        self.counts: dict[str, int] = {}  # this group's installed routers -> routes added
        # Paths that reach no waiting router. Routers only ever stop waiting, so such a path
        # never reaches one later: a send to the same app's path, every request, is one set
        # lookup instead of asking each router (the apps router's pattern backtracks over the
        # app id: ~10,000 instructions a send, issue 26 §1).
        self.unreached: set[str] = set()

    def install(self, name: str) -> None:
        """Import router `name` and install it, its routes moved to their place. If that fails
        (a broken install), nothing of it stays and it waits still: the next request retries."""
        if name not in self.waiting:
            return
        routes = self.app.router.routes
        before = len(routes)
        try:
            self.load(self.app, name)
            added = routes[before:]
            build_validators(added)
        finally:
            del routes[before:]
        del self.waiting[name]
        place = self.places.place(name)
        routes[place:place] = added
        self.places.counts[name] = self.counts[name] = len(added)

    def install_for(self, path: str) -> None:
        """Install every waiting router that a request to `path` reaches."""
        if path in self.unreached:
            return
        reached = False
        for name, reaches in list(self.waiting.items()):
            if reaches(path):
                self.install(name)
                reached = True
        if not reached:
            if len(self.unreached) >= MAX_UNREACHED:  # any client picks the paths: bounded
                self.unreached.clear()
            self.unreached.add(path)

    def install_all(self) -> None:
        for name in list(self.waiting):
            self.install(name)


def import_routes(module: str) -> ModuleType:
    """Import a deferred router's module, then build the store's `Wire` models declared so far
    (store/domain.py), so FastAPI reads built models when the loader installs its routes."""
    imported = importlib.import_module(module)
    build_wire_models()
    return imported


def build_validators(routes: list[Any]) -> None:
    """Build the validators and serializers FastAPI left unbuilt for `routes` (those of a
    model declared with `defer_build`, store/domain.py's `Wire`), so no request builds one;
    pydantic's warning about a field's metadata is silenced, as FastAPI does when it builds."""
    for field in get_fields_from_routes(routes):
        # FastAPI's field keeps its adapter privately: a release without it leaves the build
        # to pydantic's first use, as before this existed, never a route that fails to install.
        adapter = getattr(field, "_type_adapter", None)
        if adapter is not None and getattr(adapter, "pydantic_complete", True) is False:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UnsupportedFieldAttributeWarning)
                adapter.rebuild()


def defer(app: FastAPI, places: Places, waiting: dict[str, Reaches], load: Load) -> Deferred:
    """Install the routers in `waiting` lazily (each reserved in `places` already); call it
    after `openapi.install` and the other middleware-stack wrappers (the check for a first
    request runs before all of them)."""
    pending = Deferred(app, places, waiting, load)
    document = app.openapi

    def openapi() -> dict[str, Any]:
        pending.install_all()
        return document()

    app.openapi = openapi  # type: ignore[method-assign]
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: _FirstUse(build(), pending)  # type: ignore[method-assign]
    return pending


def not_loaded(scope: Any, exc: Exception) -> Any:
    """The 500 for a request whose router could not be installed, rendered as the app renders
    errors (errors.render; a dialect that did not load has no envelope yet: the native one):
    which module is missing, not a traceback (that goes to the log)."""
    log.error("could not install the routes for %s", scope.get("path", ""), exc_info=exc)
    what = f" ({type(exc).__name__}: {exc.name})" if isinstance(exc, ImportError) else ""
    message = (f"This server could not load the routes for this path{what}; its installation "
               "may be incomplete: reinstall smtp-connector, or see the server's log.")  # fmt: skip
    return render(Request(scope), Failure(500, "internal_error", message))


class _FirstUse:
    """ASGI: a request to a waiting router's path installs that router first; with none left
    waiting it only passes requests on.

    A plain method that returns what the wrapped app's call returns (its coroutine), not a
    coroutine of its own: the installing runs no `await` anyway, and every request passes two
    of these (the admin routers' and the dialects'), each a coroutine frame created, resumed
    and torn down around the request for nothing once it has checked (issue 26 §1). The caller
    awaits the inner app's coroutine directly; an error while installing is raised, or answered,
    at the same point of that caller's `await` as before."""

    def __init__(self, app: Callable[..., Any], pending: Deferred) -> None:
        self.app = app
        self.pending = pending

    def __call__(self, scope: Any, receive: Any, send: Any) -> Awaitable[None]:
        if self.pending.waiting and scope["type"] != "lifespan":
            try:
                self.pending.install_for(scope.get("path", ""))
            except Exception as exc:  # outside the app's handlers: answered here, as they would
                if scope["type"] != "http":
                    raise
                answer: Awaitable[None] = not_loaded(scope, exc)(scope, receive, send)
                return answer
        called: Awaitable[None] = self.app(scope, receive, send)
        return called
