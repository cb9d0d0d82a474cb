"""The dialect routers installed on first use (`server/dialects/loader.py`): a fresh app answers
a dialect's first request, concurrent first requests included, exactly as an app with every
dialect installed up front does, and its route table and OpenAPI document end up the same."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api

from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.server.dialects import loader
from smtp_connector.store import Service

# One request per dialect without a key (its own 401 envelope) and one with a key that reads.
FIRST_REQUESTS = [
    ("GET", "/private/smtps/findByApp?idapp=nope", {}),
    ("GET", "/api/v1/app-integrations/smtp", {"Brand-URL": "brand"}),
    ("GET", "/api/2.0/smtpsettings/smtp", {}),
    ("GET", "/smtpserver/", {}),
    ("GET", "/api/email-templates", {}),
]


def fresh_app(service: Service, *, eager: bool = False) -> Any:
    app = create_app(Settings(), service=service)
    if eager:
        loader.install_all(app)
    return app


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if isinstance(body, dict):
        body.pop("time", None)  # privacyIDEA's envelope says when it answered
    return response.status_code, body


def route_table(app: Any) -> list[tuple[str, str, list[str]]]:
    return [(type(r).__name__, str(getattr(r, "path", "")), sorted(getattr(r, "methods", None)
             or [])) for r in app.router.routes]  # fmt: skip


async def test_each_prefix_names_its_module() -> None:
    for name, prefix in loader.DIALECTS:
        module = importlib.import_module(f"smtp_connector.server.dialects.{name}")
        assert prefix == module.PREFIX


async def test_a_dialects_first_request_is_answered_as_when_installed_at_start(api: Api) -> None:
    headers = await api.key()
    async with client(fresh_app(api.service, eager=True)) as eager:
        expected = [answer(await eager.request(m, p, headers=h)) for m, p, h in FIRST_REQUESTS]
        expected += [answer(await eager.request(m, p, headers=h | headers))
                     for m, p, h in FIRST_REQUESTS]  # fmt: skip
    assert {status for status, _ in expected[:5]} == {401}
    assert [status for status, _ in expected[5:]] == [406, 404, 200, 200, 200]  # no such app
    for index, (method, path, extra) in enumerate(FIRST_REQUESTS):
        for keyed in (False, True):  # the dialect's very first request, then a keyed one
            app = fresh_app(api.service)
            sent = extra | headers if keyed else extra
            async with client(app) as lazy:
                got = answer(await lazy.request(method, path, headers=sent))
            assert got == expected[index + 5 * keyed], path
            assert set(app.state.dialects.counts) == {loader.DIALECTS[index][0]}


async def test_concurrent_first_requests_install_each_dialect_once(api: Api) -> None:
    headers = await api.key()
    async with client(fresh_app(api.service, eager=True)) as eager:
        expected = [answer(await eager.request(m, p, headers=h | headers))
                    for m, p, h in FIRST_REQUESTS]  # fmt: skip
        eager_routes = route_table(eager._transport.app)  # type: ignore[attr-defined]
    app = fresh_app(api.service)
    async with client(app) as lazy:
        calls = [lazy.request(m, p, headers=h | headers) for m, p, h in FIRST_REQUESTS * 4]
        got = [answer(r) for r in await asyncio.gather(*calls)]
    assert got == expected * 4
    assert route_table(app) == eager_routes  # each route once, in its place


async def test_route_table_and_document_are_the_same_whatever_the_order_of_first_use(
    api: Api,
) -> None:
    eager = fresh_app(api.service, eager=True)
    install_admin_routers(eager)  # as the document installs them in the lazy app
    eager_routes, eager_document = route_table(eager), eager.openapi()
    app = fresh_app(api.service)
    async with client(app) as lazy:
        for method, path, extra in reversed(FIRST_REQUESTS[1:]):  # the last dialect first
            await lazy.request(method, path, headers=extra)
        assert set(app.state.dialects.waiting) == {"smtps"}
        document = (await lazy.get("/openapi.json")).json()  # installs the one still waiting
    assert not app.state.dialects.waiting
    assert route_table(app) == eager_routes
    assert document == eager_document
    assert [path for path in document["paths"]] == list(eager_document["paths"])
    assert {prefix for _, prefix in loader.DIALECTS} <= {
        prefix for _, prefix in loader.DIALECTS for path in document["paths"]
        if path.startswith(prefix)
    }  # fmt: skip


# Paths that contain a dialect's prefix without beginning with it: mid-path or in a query.
# None reaches a dialect route or envelope, so none may load one (a client could otherwise make
# a fresh serve import every dialect with one unauthenticated request), and each is answered
# as by the app with every dialect installed.
INSIDE_A_PATH = [
    "/v1/apps/x/private/smtps/findByApp",
    "/static/api/v1/app-integrations/smtp",
    "/x/api/2.0/smtpsettings/smtp",
    "/v1/smtpserver/",
    "/v1/apps/api/email-templates",
    "/x/private/smtps/api/v1/app-integrations/smtp/api/2.0/smtpsettings/smtpserver/"
    "api/email-templates",
    "/?next=/smtpserver/",
]
# Paths no native admin router (server/app.py's ADMIN_ROUTERS) has a route for: they load
# none of those either.
NOT_REACHING = [
    "/healthz", "/v1/apps/x/messages", "/v1/apps/x/y/templates", "/v1/apps/x/y/servers",
    "/v1/appsx", "/x/v1/presets", "/v1/preset", "/?next=/v1/templates", "/v1/apps/x/messages/",
]  # fmt: skip
# Paths that begin with a prefix but extend its last segment: no route of the dialect, but its
# error envelope (errors.in_territory), so the dialect is loaded and answers as when eager.
EXTENDING_A_PREFIX = [
    ("/private/smtpsx", "smtps"),
    ("/api/v1/app-integrations/smtpx/1", "app_integrations"),
    ("/api/2.0/smtpsettingsx", "portal_settings"),
    ("/smtpserverx/", "privacyidea"),
    ("/api/email-templatesx", "logto_templates"),
]


def whole(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, type and body: JSON envelopes as `answer` reads them, anything else (an HTML
    page, a redirect) as its bytes."""
    kind = response.headers.get("content-type")
    if kind == "application/json":
        status, body = answer(response)
        return status, kind, body
    return response.status_code, kind, response.content


async def test_a_prefix_inside_a_path_loads_no_dialect(api: Api) -> None:
    headers = await api.key()
    paths = INSIDE_A_PATH + NOT_REACHING
    async with client(fresh_app(api.service, eager=True)) as eager:
        install_admin_routers(eager._transport.app)  # type: ignore[attr-defined]
        expected = [whole(await eager.get(path, headers=headers)) for path in paths]
    app = fresh_app(api.service)
    async with client(app) as lazy:
        got = [whole(await lazy.get(path, headers=headers)) for path in paths]
    assert got == expected
    assert app.state.dialects.counts == {} and app.state.admin_routers.counts == {}
    assert set(app.state.dialects.waiting) == {name for name, _ in loader.DIALECTS}


async def test_a_path_extending_a_prefix_is_answered_as_when_installed_at_start(
    api: Api,
) -> None:
    headers = await api.key()
    async with client(fresh_app(api.service, eager=True)) as eager:
        expected = [whole(await eager.get(path, headers=headers))
                    for path, _ in EXTENDING_A_PREFIX]  # fmt: skip
    assert {status for status, _, _ in expected} == {404}
    for (path, name), answered in zip(EXTENDING_A_PREFIX, expected, strict=True):
        app = fresh_app(api.service)
        async with client(app) as lazy:
            assert whole(await lazy.get(path, headers=headers)) == answered, path
        assert set(app.state.dialects.counts) == {name}
