"""What an idle `serve` leaves unloaded and the first request of each kind loads (store/parts.py:
the definitions, checks and templates' services; store/domain.py's `Wire` models, built when a
router that uses them is installed; server/lazy_routers.py): in a fresh interpreter, against a
real SQLite store and a real SMTP server, two first requests of each kind at once both answer
as usual, and the module is loaded once. A part or router whose module cannot be imported is
a 500 JSON naming it (never a traceback in the body), and the next request tries again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SECRET_KEY, SMTP_PASSWORD, SMTP_USER, loopback_policy

from smtp_connector.server import Settings, create_app
from smtp_connector.store import CLI_ACTOR, SCOPES, AppCreate, Service

PARTS = {  # the store's modules only an admin request uses: the `Service` attribute building each
    "definitions": "smtp_connector.store.definitions",
    "checks": "smtp_connector.store.checks",
    "templates": "smtp_connector.store.templates",
    "template_render": "smtp_connector.store.template_render",
    "template_tests": "smtp_connector.store.template_send",
}

# A fresh interpreter: the app on a migrated SQLite store, then the first requests, two at a time.
PROGRAM = r"""
import asyncio, json, sys
import httpx
from smtp_connector.server import Settings, create_app
from smtp_connector.store import CLI_ACTOR, SCOPES, Service, domain
from service_support import definition, loopback_policy

PARTS = json.loads(sys.argv[3])

def loaded():
    built = sorted(m.__name__ for m in [domain.Wire, *_subclasses(domain.Wire)]
                   if m.__pydantic_complete__)
    return {"modules": sorted(n for n in PARTS.values() if n in sys.modules), "built": built}

def _subclasses(model):
    for sub in model.__subclasses__():
        yield sub
        yield from _subclasses(sub)

async def main(url, port):
    service = await Service.open(url, migrate=True, policy=loopback_policy())
    app = create_app(Settings(), service=service)
    seen = {"idle": loaded()}
    key = (await service.keys.create(CLI_ACTOR, SCOPES))[1]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        anonymous = await client.get("/v1/apps/shop/servers")
        seen["anonymous"] = [anonymous.status_code, loaded()]
        client.headers["Authorization"] = f"Bearer {key}"
        made = await client.post("/v1/apps", json={"name": "Shop", "id": "shop",
                                                   "testEmail": "ops@example.org"})
        seen["app"] = [made.status_code, loaded()]
        await client.post("/v1/apps", json={"name": "Other", "id": "other"})
        other = (await service.keys.create(CLI_ACTOR, SCOPES, app="other"))[1]
        reader = (await service.keys.create(CLI_ACTOR, ["smtpserver_read"]))[1]
        one = definition(port)
        # The first requests that reach the definitions' part are hostile or mistaken ones.
        first = {}
        for name, token, body in [("other tenant", other, one), ("read-only", reader, one),
                                  ("no host", key, {k: v for k, v in one.items() if k != "host"}),
                                  ("broken json", key, None)]:
            kwargs = {"content": b'{"host": '} if body is None else {"json": body}
            answer = await client.post("/v1/apps/shop/servers", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}, **kwargs)
            first[name] = [answer.status_code, answer.json()]
        listed = await client.get("/v1/apps/shop/servers")
        seen["first"] = [first, listed.json()]
        pair = await asyncio.gather(client.post("/v1/apps/shop/servers", json=one),
                                    client.post("/v1/apps/shop/servers", json=one | {"port": port}))
        ids = [r.json().get("id") for r in pair]
        seen["definitions"] = [[r.status_code for r in pair], loaded()]
        pair = await asyncio.gather(*(client.post(f"/v1/apps/shop/servers/{i}/check") for i in ids))
        seen["checks"] = [[(r.status_code, r.json()["ok"]) for r in pair], loaded()]
        pair = await asyncio.gather(client.get("/v1/apps/shop/templates"),
                                    client.get("/v1/apps/shop/templates"))
        seen["templates"] = [[(r.status_code, r.json()) for r in pair], loaded()]
    await service.aclose()
    print(json.dumps(seen))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_an_idle_app_loads_no_admin_part_and_two_first_requests_of_each_kind_both_answer(
    tmp_path: Path, make_server: Any
) -> None:
    server = make_server(auth_required=True, users={SMTP_USER: SMTP_PASSWORD})
    tests = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, f"sqlite:///{tmp_path / 'parts.db'}", str(server.port),
         json.dumps(PARTS)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PYTHONPATH": str(tests), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    # idle: none of the parts, and of the wire models only the one every send validates
    assert seen["idle"] == {"modules": [], "built": ["MessageRequest"]}
    # an unauthenticated client reaches the router, not the store's parts
    assert seen["anonymous"][0] == 401
    assert seen["anonymous"][1]["modules"] == []
    # installing the servers' router built the models its routes and the store's code use
    assert {"Definition", "DefinitionCreate", "DefinitionPatch"} <= set(
        seen["anonymous"][1]["built"]
    )
    assert seen["app"][0] == 201
    assert seen["app"][1]["modules"] == []
    # First use by another tenant's key, a read-only key, a body without a host and a broken
    # body: each refused as without first use, in the API's terms, and nothing stored.
    first, listed = seen["first"]
    assert first["other tenant"][0] == 403
    assert "limited to another app" in first["other tenant"][1]["error"]["message"]
    assert first["read-only"][0] == 403
    assert "smtpserver_write" in first["read-only"][1]["error"]["message"]
    assert first["no host"] == [422, {"error": {"code": "invalid_request", "smtpCode": None,
        "server": None, "message": "Invalid request: `host`: Field required"}}]  # fmt: skip
    assert first["broken json"][0] == 422
    assert first["broken json"][1]["error"]["message"].startswith("Malformed JSON body")
    assert listed == [], listed
    codes, after = seen["definitions"]
    assert codes == [201, 201]
    assert after["modules"] == [PARTS["definitions"]]
    assert {"Definition", "DefinitionCreate", "App", "AppCreate"} <= set(after["built"])
    answers, after = seen["checks"]
    assert answers == [[200, True], [200, True]]
    assert len(server.messages) == 2  # each check sent its test mail
    assert after["modules"] == sorted([PARTS["definitions"], PARTS["checks"]])
    answers, after = seen["templates"]
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert {PARTS["templates"], PARTS["template_render"]} <= set(after["modules"])


async def test_every_part_is_what_an_eager_service_built(database_url: str) -> None:
    """Each part is built once, of its class, with the service's own database, box and limits."""
    service = await Service.open(database_url, SECRET_KEY, migrate=True, policy=loopback_policy())
    try:
        for name, module in PARTS.items():
            part = getattr(service, name)
            assert type(part).__module__ == module
            assert getattr(service, name) is part and vars(service)[name] is part
        assert service.definitions.max_per_app == service.max_definitions_per_app
    finally:
        await service.aclose()


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`broken(name)`: importing module `name` fails as in an incomplete install, until undone."""

    def breaking(name: str) -> None:
        monkeypatch.setitem(sys.modules, name, None)  # `import` then raises ImportError

    return breaking


async def test_a_part_that_cannot_be_imported_is_a_500_naming_it_and_the_next_request_retries(
    sqlite_url: str, broken: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await Service.open(sqlite_url, migrate=True, policy=loopback_policy())
    key = (await service.keys.create(CLI_ACTOR, SCOPES))[1]
    await service.apps.create(CLI_ACTOR, AppCreate(name="Shop", id="shop"))
    app = create_app(Settings(), service=service)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            broken(PARTS["definitions"])
            response = await client.get("/v1/apps/shop/servers", headers=headers)
            assert response.status_code == 500
            error = response.json()["error"]
            assert error["code"] == "internal_error"
            assert PARTS["definitions"] in error["message"] and "reinstall" in error["message"]
            assert "Traceback" not in response.text and "File " not in response.text
            assert "halted" not in response.text  # the module's name, not the error's text
            assert "definitions" not in vars(service)
            monkeypatch.delitem(sys.modules, PARTS["definitions"])  # the install is repaired
            response = await client.get("/v1/apps/shop/servers", headers=headers)
            assert response.status_code == 200 and response.json() == []
    finally:
        await service.aclose()


@pytest.mark.parametrize(
    ("path", "module"),
    [("/v1/presets", "smtp_connector.server.routes.presets"),
     ("/smtpserver/", "smtp_connector.server.dialects.privacyidea")],
)  # fmt: skip
async def test_a_router_that_cannot_be_imported_is_a_500_json_naming_it_then_retried(
    sqlite_url: str, broken: Any, monkeypatch: pytest.MonkeyPatch, path: str, module: str
) -> None:
    """In the native envelope: a dialect that did not load has not registered its own yet."""
    service = await Service.open(sqlite_url, migrate=True, policy=loopback_policy())
    key = (await service.keys.create(CLI_ACTOR, SCOPES))[1]
    app = create_app(Settings(), service=service)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {key}"}
    routes = len(app.router.routes)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            broken(module)
            response = await client.get(path, headers=headers)
            assert response.status_code == 500
            error = response.json()["error"]
            assert error["code"] == "internal_error"
            assert module in error["message"] and "reinstall" in error["message"]
            assert "Traceback" not in response.text and "halted" not in response.text
            assert len(app.router.routes) == routes  # nothing of it stayed
            monkeypatch.delitem(sys.modules, module)  # the install is repaired
            response = await client.get(path, headers=headers)
            assert response.status_code == 200 and response.json()
            assert len(app.router.routes) > routes
    finally:
        await service.aclose()
