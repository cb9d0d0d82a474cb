"""The dialect routers, each imported and registered when it is first needed.

Importing a dialect module declares its models and its routes' parameters, bodies and
responses (FastAPI analyses each route when it is declared): about a tenth of `serve`'s start
for the five, and their share of its idle memory, in a deployment that may speak none of them.
So `install` registers none; a dialect is imported and installed (`module.install(app)`, as
before) by the first request whose path begins with its prefix (`errors.in_territory`: where
its routes and its error envelope are; a path that only contains a prefix, `/v1/x/smtpserver/`,
does not load it), before any middleware or route sees that request (its body cap, its error
envelope and its routes then apply as if installed at start), and all of them before the
OpenAPI document is first built, so `/openapi.json` and `/docs` list every route. The routes
take the place in the route table they had when installed at start (after the native routes,
in this order), so routing and the document's order do not change. The mechanism, shared with
the native admin routers, is `server/lazy_routers.py`.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..errors import in_territory
from ..lazy_routers import Places, Reaches, defer, import_routes

# (module in this package, the path prefix of all its routes), in the order installed at start.
DIALECTS: tuple[tuple[str, str], ...] = (
    ("smtps", "/private/smtps"),
    ("app_integrations", "/api/v1/app-integrations/smtp"),
    ("portal_settings", "/api/2.0/smtpsettings"),
    ("privacyidea", "/smtpserver"),
    ("logto_templates", "/api/email-templates"),
)


def install(app: FastAPI, places: Places, *, anchor: int) -> None:
    """Install the dialects lazily, their routes at index `anchor` of the start's route table
    when they come (`lazy_routers.defer`: call it after the other middleware-stack wrappers)."""
    for name, _ in DIALECTS:
        places.reserve(name, anchor)
    app.state.dialects = defer(app, places, {name: _reaches(prefix) for name, prefix in DIALECTS},
                               _load)  # fmt: skip


def install_all(app: FastAPI) -> None:
    """Install every dialect now (tests that walk `app.routes`, embedding hosts)."""
    app.state.dialects.install_all()


def _reaches(prefix: str) -> Reaches:
    """Not a substring test: a path that only contains prefixes (`/v1/x/smtpserver/`) reaches
    none and loads none (or a client could load every dialect with one request)."""
    return lambda path: in_territory(path, prefix)


def _load(app: FastAPI, name: str) -> None:
    import_routes(f"{__package__}.{name}").install(app)
