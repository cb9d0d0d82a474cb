"""The dialect routers, each imported and registered when it is first needed.

Importing a dialect module declares its models and its routes' parameters, bodies and
responses (FastAPI analyses each route when it is declared): about a tenth of `serve`'s start
for the five, and their share of its idle memory, in a deployment that may speak none of them.
So `install` registers none; a dialect is imported and installed (`module.install(app)`, as
before) by the first request whose path begins with its prefix (`errors.in_territory`: where
its routes and its error envelope are; a path that only contains a prefix, `/v1/x/smtpserver/`,
does not load it), before any middleware or route sees that request (its body cap, its error
envelope and its routes then apply as if installed at start), and all of them before the
OpenAPI document is first built, so `/openapi.json` and `/docs` list every route. Installing
runs no `await`: two first requests on the event loop cannot both install a dialect, nor see
it half installed. The routes take the place in the route table they had when installed at
start (after the native routes, in this order), so routing and the document's order do not
change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from ..errors import in_territory

# (module in this package, the path prefix of all its routes), in the order installed at start.
DIALECTS: tuple[tuple[str, str], ...] = (
    ("smtps", "/private/smtps"),
    ("app_integrations", "/api/v1/app-integrations/smtp"),
    ("portal_settings", "/api/2.0/smtpsettings"),
    ("privacyidea", "/smtpserver"),
    ("logto_templates", "/api/email-templates"),
)


class _Pending:
    """The app's dialects not installed yet, and where their routes go."""

    def __init__(self, app: FastAPI, anchor: int) -> None:
        self.app = app
        self.anchor = anchor  # the first dialect's routes go here
        self.counts: dict[str, int] = {}  # installed dialect -> how many routes it added
        self.waiting = dict(DIALECTS)

    def install(self, name: str) -> None:
        """Import dialect `name` and install it, its routes moved to their place."""
        if self.waiting.pop(name, None) is None:
            return
        routes = self.app.router.routes
        before = len(routes)
        importlib.import_module(f"{__package__}.{name}").install(self.app)
        added = routes[before:]
        del routes[before:]
        order = [dialect for dialect, _ in DIALECTS]
        place = self.anchor + sum(
            count for dialect, count in self.counts.items()
            if order.index(dialect) < order.index(name)
        )  # fmt: skip
        routes[place:place] = added
        self.counts[name] = len(added)

    def install_for(self, path: str) -> None:
        """Install every waiting dialect whose routes or error envelope `path` reaches. Not a
        substring test: a path that only contains prefixes (`/v1/x/smtpserver/`) reaches none
        and loads none (or a client could load every dialect with one request)."""
        for name, prefix in list(self.waiting.items()):
            if in_territory(path, prefix):
                self.install(name)

    def install_all(self) -> None:
        for name, _ in DIALECTS:
            self.install(name)


def install(app: FastAPI, *, anchor: int) -> None:
    """Install the dialects lazily, their routes at index `anchor` of the route table when they
    come; call it after `openapi.install` and the other middleware-stack wrappers (the check
    for a first request runs before all of them)."""
    pending = _Pending(app, anchor)
    app.state.dialects = pending
    document = app.openapi

    def openapi() -> dict[str, Any]:
        pending.install_all()
        return document()

    app.openapi = openapi  # type: ignore[method-assign]
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: _FirstUse(build(), pending)  # type: ignore[method-assign]


def install_all(app: FastAPI) -> None:
    """Install every dialect now (tests that walk `app.routes`, embedding hosts)."""
    app.state.dialects.install_all()


class _FirstUse:
    """ASGI: a request to a waiting dialect's path installs that dialect first; with none
    left waiting it only passes requests on."""

    def __init__(self, app: Callable[..., Any], pending: _Pending) -> None:
        self.app = app
        self.pending = pending

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.pending.waiting and scope["type"] != "lifespan":
            self.pending.install_for(scope.get("path", ""))
        await self.app(scope, receive, send)
