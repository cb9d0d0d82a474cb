"""Finding 5, in process on SQLite and PostgreSQL: the cap on definitions per app (every API's
create refuses beyond it, in its own envelope) and real pagination of the native lists
(`limit`, an opaque `cursor`, the next page in a `Link` header, the body still an array).
The main test, builds off the event loop, runs a real `serve`: tests/security/test_tenant_builds.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SECRET_KEY, definition, loopback_policy

from smtp_connector import ConnectorError
from smtp_connector.server import Settings, create_app
from smtp_connector.server.settings import MAX_DEFINITIONS_ENV
from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service, ServiceError

CAP = 3
NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


@pytest.fixture
async def capped(database_url: str) -> AsyncIterator[tuple[Service, httpx.AsyncClient, dict]]:
    service = await Service.open(database_url, SECRET_KEY, migrate=True,
                                 policy=loopback_policy(), max_definitions_per_app=CAP)  # fmt: skip
    _, raw = await service.keys.create(CLI_ACTOR, ("smtpserver_read", "smtpserver_write"))
    app = create_app(Settings(), service=service)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield service, client, {"Authorization": f"Bearer {raw}"}
    await service.aclose()


def server(n: int) -> dict[str, object]:
    return definition(2500 + n, username=None, password=None, name=f"s{n}", priority=n % 2)


async def test_the_cap_refuses_one_more_with_what_to_do(capped: tuple) -> None:
    _, client, headers = capped
    await client.post("/v1/apps", json={"name": "shop", "id": "shop"}, headers=headers)
    base = "/v1/apps/shop/servers"
    created = [await client.post(base, json=server(n), headers=headers) for n in range(CAP)]
    assert [r.status_code for r in created] == [201] * CAP
    refused = await client.post(base, json=server(CAP), headers=headers)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "too_many_definitions"
    assert f"already has {CAP} server definitions" in error["message"]
    assert "delete one it no longer uses" in error["message"]
    assert len((await client.get(base, headers=headers)).json()) == CAP
    # Room again after a delete; an update of an existing one never counts.
    first = created[0].json()["id"]
    patched = await client.patch(f"{base}/{first}", json={"description": "x"}, headers=headers)
    assert patched.status_code == 200
    assert (await client.delete(f"{base}/{first}", headers=headers)).status_code == 204
    assert (await client.post(base, json=server(CAP), headers=headers)).status_code == 201


async def test_every_dialect_answers_the_cap_in_its_envelope(capped: tuple) -> None:
    service, client, headers = capped
    await service.apps.create(CLI_ACTOR, AppCreate(name="shop", id="shop"))
    for n in range(CAP):
        data = DefinitionCreate.model_validate(server(n))
        await service.definitions.create(CLI_ACTOR, "shop", data)
    smtps = await client.post("/private/smtps/save", json={
        "idapp": "shop", "host": "mail.example.com", "port": 587}, headers=headers)  # fmt: skip
    assert smtps.status_code in (406, 409) and "already has 3" in smtps.json()["message"]
    integrations = await client.post(
        "/api/v1/app-integrations/smtp",
        json={"name": "x", "host": "mail.example.com", "port": 587},
        headers=headers | {"Brand-URL": "shop"},
    )
    assert integrations.status_code == 409, integrations.text
    assert integrations.json()["success"] is False
    assert "already has 3" in integrations.json()["message"]
    # privacyIDEA's own app, filled to the cap, then one more through its API
    for n in range(CAP):
        form = {"server": "mail.example.com", "port": str(2600 + n), "sender": "a@example.org"}
        ok = await client.post(f"/smtpserver/p{n}", data=form, headers=headers)
        assert ok.json()["result"]["status"] is True, ok.text
    pi = await client.post("/smtpserver/p9", data=form, headers=headers)
    assert pi.status_code == 409 and pi.json()["result"]["status"] is False
    assert "already has 3" in json.dumps(pi.json())


async def test_concurrent_creates_never_pass_the_cap(capped: tuple) -> None:
    """Ten creates at once for the last places: the app is locked while counting."""
    service, _, _ = capped
    await service.apps.create(CLI_ACTOR, AppCreate(name="race", id="race"))

    async def create(n: int) -> object:
        data = DefinitionCreate.model_validate(server(n))
        return await service.definitions.create(CLI_ACTOR, "race", data)

    outcomes = await asyncio.gather(*(create(n) for n in range(10)), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(outcomes) - len(refused) == CAP
    assert len(await service.definitions.list(CLI_ACTOR, "race")) == CAP
    for error in refused:
        assert isinstance(error, ServiceError) and error.label == "too_many_definitions", error


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).max_definitions_per_app == 50
    assert Settings.from_env({MAX_DEFINITIONS_ENV: "7"}).max_definitions_per_app == 7
    for bad in ("0", "many", "-3", "1e3"):
        with pytest.raises(ConnectorError) as info:
            Settings.from_env({MAX_DEFINITIONS_ENV: bad})
        assert MAX_DEFINITIONS_ENV in info.value.message and repr(bad) in info.value.message


async def follow(client: httpx.AsyncClient, url: str, headers: dict) -> list[list[dict]]:
    """Every page, by the Link headers."""
    pages = []
    while True:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        if link is None:
            return pages
        match = NEXT.match(link)
        assert match, link
        url = match.group(1)


async def test_apps_are_paged_by_link_headers(api: object) -> None:
    client, service = api.client, api.service  # type: ignore[attr-defined]
    headers = await api.key()  # type: ignore[attr-defined]
    names = [f"app-{n:02d}" for n in range(7)]
    for name in reversed(names):
        await service.apps.create(CLI_ACTOR, AppCreate(name=name))
    pages = await follow(client, "/v1/apps?limit=3", headers)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a["name"] for p in pages for a in p] == names
    whole = await client.get("/v1/apps", headers=headers)
    assert "link" not in whole.headers and len(whole.json()) == 7

    # A tenant key pages its own app only, whatever cursor it brings.
    bound = await api.key(app=(await service.apps.find_by_name(CLI_ACTOR, "app-05")).id)  # type: ignore[attr-defined,union-attr]
    forged = base64.urlsafe_b64encode(b'["apps",[""]]').decode().rstrip("=")
    mine = await client.get(f"/v1/apps?cursor={forged}", headers=bound)
    assert [a["name"] for a in mine.json()] == ["app-05"]


async def test_the_default_page_is_100(api: object) -> None:
    service = api.service  # type: ignore[attr-defined]
    headers = await api.key()  # type: ignore[attr-defined]
    for n in range(101):
        await service.apps.create(CLI_ACTOR, AppCreate(name=f"a{n:03d}"))
    first = await api.client.get("/v1/apps", headers=headers)  # type: ignore[attr-defined]
    assert len(first.json()) == 100 and 'rel="next"' in first.headers["link"]
    assert "limit=100" in first.headers["link"]


async def test_servers_are_paged_in_send_order(api: object) -> None:
    client, service = api.client, api.service  # type: ignore[attr-defined]
    headers = await api.key()  # type: ignore[attr-defined]
    await service.apps.create(CLI_ACTOR, AppCreate(name="shop", id="shop"))
    for n, (priority, default) in enumerate([(5, False), (0, False), (5, True), (0, False),
                                             (10, False), (5, False)]):  # fmt: skip
        body = server(n) | {"priority": priority, "isDefault": default}
        await client.post("/v1/apps/shop/servers", json=body, headers=headers)
    whole = (await client.get("/v1/apps/shop/servers", headers=headers)).json()
    pages = await follow(client, "/v1/apps/shop/servers?limit=2", headers)
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [d["id"] for p in pages for d in p] == [d["id"] for d in whole]
    assert [d["priority"] for d in whole] == [0, 0, 5, 5, 5, 10]
    assert whole[2]["isDefault"] is True

    # A definition added between two pages shows up on a later one; none repeats.
    first = await client.get("/v1/apps/shop/servers?limit=3", headers=headers)
    await client.post("/v1/apps/shop/servers", json=server(9) | {"priority": 7}, headers=headers)
    match = NEXT.match(first.headers["link"])
    assert match
    rest = await follow(client, match.group(1), headers)
    seen = [d["id"] for d in first.json()] + [d["id"] for p in rest for d in p]
    assert len(seen) == len(set(seen)) == 7


async def test_bad_paging_parameters_are_refused_clearly(api: object) -> None:
    client, service = api.client, api.service  # type: ignore[attr-defined]
    headers = await api.key()  # type: ignore[attr-defined]
    for name in ("one", "two"):
        await service.apps.create(CLI_ACTOR, AppCreate(name=name, id=name))
    for query in ("limit=0", "limit=501", "limit=ten"):
        refused = await client.get(f"/v1/apps?{query}", headers=headers)
        assert refused.status_code == 422 and "limit" in refused.json()["error"]["message"]
    apps_cursor = base64.urlsafe_b64encode(b'["apps",["one"]]').decode()
    other_app = base64.urlsafe_b64encode(b'["servers:two",[0,false,"2020-01-01",""]]').decode()
    wrong_shape = base64.urlsafe_b64encode(b'["servers:one",["x"]]').decode()
    for cursor in ("garbage!", "W10", apps_cursor, other_app, wrong_shape, "x" * 3000):
        refused = await client.get(f"/v1/apps/one/servers?cursor={cursor}", headers=headers)
        assert refused.status_code in (400, 422), (cursor, refused.text)
        error = refused.json()["error"]
        assert error["code"] in ("invalid_request",), error
    assert (
        "leave it out to start"
        in (await client.get("/v1/apps?cursor=garbage", headers=headers)).json()["error"]["message"]
    )
    with pytest.raises(ServiceError):
        await service.apps.page(CLI_ACTOR, limit=0)
