"""The native admin routers installed on first use (`server/app.py`'s `ADMIN_ROUTERS`, through
`server/lazy_routers.py`): a fresh app answers each router's first request as an app with every
router installed up front does (a path that reaches none loads none: test_dialects_lazy.py's
`NOT_REACHING`), and whatever the
order in which routers (native and dialects) are first used, the route table and the OpenAPI
document end up the same as the eager app's."""

from __future__ import annotations

from typing import Any

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import ADMIN_ROUTERS, install_admin_routers
from smtp_connector.server.dialects import loader
from smtp_connector.store import Service

# (method, path, the router it loads): lists, a route with parameters, a redirect to the route
# without the slash, a method the route does not allow, and an unknown name under the prefix.
FIRST_REQUESTS = [
    ("GET", "/v1/apps", "apps"),
    ("POST", "/v1/apps", "apps"),
    ("GET", "/v1/apps/no-such-app", "apps"),
    ("PUT", "/v1/apps/no-such-app", "apps"),
    ("GET", "/v1/apps//", "apps"),
    ("GET", "/v1/apps/no-such-app//", "apps"),
    ("GET", "/v1/apps/no-such-app/servers", "servers"),
    ("GET", "/v1/apps/no-such-app/servers/1", "servers"),
    ("GET", "/v1/apps/no-such-app/servers/", "servers"),
    ("DELETE", "/v1/apps/no-such-app/servers", "servers"),
    ("GET", "/v1/presets", "presets"),
    ("GET", "/v1/presets/sendgrid/warnings?username=me&fromEmail=a%40b.c", "presets"),
    ("GET", "/v1/presets/", "presets"),
    ("GET", "/v1/presets///", "presets"),
    ("DELETE", "/v1/presets", "presets"),
    ("GET", "/v1/presets/no-such-preset/warnings", "presets"),
    ("GET", "/v1/templates", "templates"),
    ("POST", "/v1/templates", "templates"),
    ("GET", "/v1/apps/no-such-app/templates", "app_templates"),
    ("GET", "/v1/apps/no-such-app/templates/SignIn/en", "app_templates"),
    ("GET", "/v1/apps/no-such-app/templates/", "app_templates"),
    ("POST", "/v1/apps/no-such-app/templates/preview", "app_templates"),
]
NAMES = [*ADMIN_ROUTERS, *(name for name, _ in loader.DIALECTS)]


def fresh_app(service: Service, *, eager: bool = False) -> Any:
    app = create_app(Settings(), service=service)
    if eager:
        install_admin_routers(app)
        loader.install_all(app)
    return app


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def whole(response: httpx.Response) -> tuple[int, str | None, bytes]:
    return response.status_code, response.headers.get("content-type"), response.content


def route_table(app: Any) -> list[tuple[str, str, str, str]]:
    """Each entry of the app's route table; an included router (FastAPI keeps one entry for
    it) by its prefix and its routes' paths and methods."""
    return [describe(route) for route in app.router.routes]


def describe(route: Any) -> tuple[str, str, str, str]:
    router = getattr(route, "original_router", None)
    if router is not None:
        paths = [f"{r.path} {sorted(getattr(r, 'methods', None) or [])}" for r in router.routes]
        return type(route).__name__, router.prefix, "; ".join(paths), ""
    methods = str(sorted(getattr(route, "methods", None) or []))
    endpoint = getattr(getattr(route, "endpoint", None), "__qualname__", "")
    return type(route).__name__, str(getattr(route, "path", "")), methods, endpoint


async def test_each_routers_first_request_is_answered_as_when_installed_at_start(
    api: Api,
) -> None:
    headers = await api.key()
    async with client(fresh_app(api.service, eager=True)) as eager:
        expected = [whole(await eager.request(m, p, headers=h))
                    for h in ({}, headers) for m, p, _ in FIRST_REQUESTS]  # fmt: skip
    assert 401 in {status for status, _, _ in expected[: len(FIRST_REQUESTS)]}
    assert {status for status, _, _ in expected[len(FIRST_REQUESTS) :]} >= {200, 307, 404, 405}
    for keyed, sent in enumerate(({}, headers)):
        for index, (method, path, name) in enumerate(FIRST_REQUESTS):
            app = fresh_app(api.service)
            async with client(app) as lazy:
                got = whole(await lazy.request(method, path, headers=sent))
            assert got == expected[index + len(FIRST_REQUESTS) * keyed], (method, path)
            assert set(app.state.admin_routers.counts) == {name}
            assert app.state.dialects.counts == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(NAMES), installed=st.integers(0, len(NAMES)))
def test_the_route_table_is_the_eager_ones_whatever_the_order_of_first_use(
    order: list[str], installed: int
) -> None:
    """Any routers installed in any order: each route in the place the eager app gives it;
    the rest installed by the document."""
    eager = create_app(Settings())
    install_admin_routers(eager)
    loader.install_all(eager)
    app = create_app(Settings())
    for name in order[:installed]:
        group = app.state.admin_routers if name in ADMIN_ROUTERS else app.state.dialects
        group.install(name)
    table = route_table(app)
    assert table == [entry for entry in route_table(eager) if entry in table]  # in their order
    install_admin_routers(app)
    loader.install_all(app)
    assert route_table(app) == route_table(eager)


async def test_the_document_is_the_eager_apps_after_some_first_requests(api: Api) -> None:
    eager = fresh_app(api.service, eager=True)
    eager_routes, eager_document = route_table(eager), eager.openapi()
    app = fresh_app(api.service)
    async with client(app) as lazy:
        for method, path, name in reversed(FIRST_REQUESTS):  # app templates first, then back
            if name != "presets":
                await lazy.request(method, path)
        assert set(app.state.admin_routers.waiting) == {"presets"}
        document = (await lazy.get("/openapi.json")).json()  # installs every one still waiting
    assert not app.state.admin_routers.waiting and not app.state.dialects.waiting
    assert route_table(app) == eager_routes
    assert document == eager_document
    assert list(document["paths"]) == list(eager_document["paths"])


# The attacker's first requests: a key bound to another app, a read-only key writing, and a
# malformed or oversized body, each as the very request that installs its router.
HOSTILE = [
    ("GET", "/v1/apps/victim/servers", None),
    ("POST", "/v1/apps/victim/servers", {"host": "127.0.0.1", "port": 25}),
    ("PUT", "/v1/apps/victim/templates/SignIn/en", {"subject": "x", "text": "{{code}}"}),
    ("DELETE", "/v1/apps/victim", None),
    ("POST", "/v1/apps", {"name": "new", "id": "new"}),
    ("PUT", "/v1/apps/victim/templates/SignIn/en", b'{"subject": '),  # cut off
    ("POST", "/v1/apps/victim/servers", b"[" * 100_000),  # deep and malformed
    ("POST", "/v1/apps/victim/templates/preview", b'{"x": "' + b"a" * 3_000_000 + b'"}'),
]


async def test_hostile_first_requests_are_refused_as_by_the_eager_app(api: Api) -> None:
    """A lazily installed router applies its checks to the request that installs it: another
    tenant's key, a read-only key and a bad body get the eager app's refusal, byte for byte."""
    from smtp_connector.store import CLI_ACTOR, AppCreate
    from smtp_connector.store.domain import READ_SCOPE

    for name in ("victim", "attacker"):
        await api.service.apps.create(CLI_ACTOR, AppCreate(name=name, id=name))
    keys = [await api.key(app="attacker"), await api.key(READ_SCOPE)]

    async def answer(app: Any, method: str, path: str, body: Any, key: dict[str, str]) -> Any:
        headers = {**key, "Content-Type": "application/json"}
        content = body if isinstance(body, bytes) else None
        async with client(app) as http:
            return whole(await http.request(method, path, headers=headers, content=content,
                                            json=None if content else body))  # fmt: skip

    for key in keys:
        for method, path, body in HOSTILE:
            expected = await answer(fresh_app(api.service, eager=True), method, path, body, key)
            readable = method == "GET" and key is keys[1]  # a read-only key may read
            refused = {400, 401, 403, 404, 413, 422} | ({200} if readable else set())
            assert expected[0] in refused, (method, path, expected)
            got = await answer(fresh_app(api.service), method, path, body, key)
            assert got == expected, (method, path)
    assert (await api.service.apps.get(CLI_ACTOR, "victim")).id == "victim"  # nothing changed
