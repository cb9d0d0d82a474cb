"""The native /v1 API in-process (SQLite and PostgreSQL): CRUD, write-only secrets, check,
send, auth (401/403/429, scopes, app-bound keys) and bad input that must never be a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api, client_for
from service_support import SMTP_PASSWORD, SMTP_USER, definition
from smtp_servers import MakeServer, dead_port

from smtp_connector.store import CENSORED, Service

USER = SMTP_USER


async def make_app(api: Api, headers: dict[str, str], name: str = "shop") -> str:
    response = await api.client.post(
        "/v1/apps", json={"name": name, "testEmail": "ops@example.org"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_apps_crud(api: Api) -> None:
    h = await api.key()
    created = await api.client.post(
        "/v1/apps", json={"name": "Shop", "id": "shop-1", "testEmail": "ops@example.org"}, headers=h
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": "shop-1", "name": "Shop", "testEmail": "ops@example.org",
        "fromEmail": None, "fromName": None, "defaultLocale": None,
    }  # fmt: skip
    assert (await api.client.get("/v1/apps", headers=h)).json() == [created.json()]
    patched = await api.client.patch("/v1/apps/shop-1", json={"testEmail": None}, headers=h)
    assert patched.json()["testEmail"] is None
    again = await api.client.post("/v1/apps", json={"name": "Shop"}, headers=h)
    assert again.status_code == 409
    assert (await api.client.delete("/v1/apps/shop-1", headers=h)).status_code == 204
    missing = await api.client.get("/v1/apps/shop-1", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_servers_crud_never_return_secrets(api: Api) -> None:
    h = await api.key()
    app_id = await make_app(api, h)
    base = f"/v1/apps/{app_id}/servers"
    responses = [await api.client.post(base, json=definition(2525, priority=0), headers=h)]
    assert responses[0].status_code == 201
    server_id = responses[0].json()["id"]
    responses.append(await api.client.get(base, headers=h))
    responses.append(await api.client.get(f"{base}/{server_id}", headers=h))
    # Saving the censored value back keeps the secret; changing other fields works.
    body = responses[-1].json() | {"description": "primary"}
    body = {k: v for k, v in body.items() if k not in _READ_ONLY}
    responses.append(await api.client.patch(f"{base}/{server_id}", json=body, headers=h))
    assert responses[-1].status_code == 200, responses[-1].text
    assert responses[-1].json()["password"] == CENSORED
    for response in responses:
        assert SMTP_PASSWORD not in response.text
    row = await _row(api.service, server_id)
    assert api.service.box.decrypt(row) == SMTP_PASSWORD

    cleared = await api.client.patch(f"{base}/{server_id}", json={"password": ""}, headers=h)
    assert cleared.json()["password"] == ""
    assert (await api.client.delete(f"{base}/{server_id}", headers=h)).status_code == 204
    assert (await api.client.get(f"{base}/{server_id}", headers=h)).status_code == 404


_READ_ONLY = {"id", "appId", "numErrors", "lastError", "created", "modified"}


async def _row(service: Service, server_id: str) -> str:
    from smtp_connector.store.tables import DefinitionRow

    async with service.database.transaction() as session:
        row = await session.get(DefinitionRow, server_id)
        assert row is not None and row.password_enc
        return row.password_enc


async def test_host_change_without_password_is_400(api: Api) -> None:
    h = await api.key()
    app_id = await make_app(api, h)
    base = f"/v1/apps/{app_id}/servers"
    server_id = (await api.client.post(base, json=definition(2525), headers=h)).json()["id"]
    refused = await api.client.patch(
        f"{base}/{server_id}", json={"host": "attacker.example.net"}, headers=h
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_config"
    assert "password" in refused.json()["error"]["message"]
    stored = (await api.client.get(f"{base}/{server_id}", headers=h)).json()
    assert stored["host"] == "127.0.0.1"


async def test_check_200_and_406(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await api.key()
    app_id = await make_app(api, h)
    base = f"/v1/apps/{app_id}/servers"
    good = (await api.client.post(base, json=definition(server.port), headers=h)).json()["id"]
    bad = (await api.client.post(base, json=definition(dead_port()), headers=h)).json()["id"]

    ok = await api.client.post(f"{base}/{good}/check", headers=h)
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert ok.json()["definition"]["status"] == "active"
    assert server.messages[0].rcpt_tos == ["ops@example.org"]

    failed = await api.client.post(f"{base}/{bad}/check", headers=h)
    assert failed.status_code == 406
    body = failed.json()
    assert body["error"]["code"] == "connection_failed"
    assert body["definition"]["status"] == "disabled"
    assert body["definition"]["numErrors"] == 1
    assert body["definition"]["lastError"]["code"] == "connection_failed"


async def test_send_through_stored_definitions(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await api.key()
    app_id = await make_app(api, h)
    base = f"/v1/apps/{app_id}/servers"
    await api.client.post(base, json=definition(dead_port(), priority=0), headers=h)
    live = (await api.client.post(base, json=definition(server.port), headers=h)).json()["id"]
    sent = await api.client.post(
        f"/v1/apps/{app_id}/messages",
        json={"to": "user@example.org", "usageType": "SignIn", "payload": {"code": "739201"}},
        headers=h,
    )
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert result["status"] == "sent" and result["definitionId"] == live
    assert result["server"] == f"127.0.0.1:{server.port}" and result["attempts"] == 2
    (received,) = server.messages
    assert received.rcpt_tos == ["user@example.org"] and b"739201" in received.content
    missing = await api.client.get("/v1/messages/does-not-exist", headers=h)
    assert missing.status_code == 404


async def test_auth_401_403_and_scopes(api: Api) -> None:
    reader = await api.key("smtpserver_read")
    no_key = await api.client.get("/v1/apps")
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthorized"
    unknown = await api.client.get("/v1/apps", headers={"Authorization": "Bearer sck_x_y"})
    assert unknown.status_code == 403
    assert (await api.client.get("/v1/apps", headers=reader)).status_code == 200
    write = await api.client.post("/v1/apps", json={"name": "x"}, headers=reader)
    assert write.status_code == 403 and "smtpserver_write" in write.json()["error"]["message"]

    writer = await api.key()
    key_id = writer["Authorization"].split("_")[1]
    from smtp_connector.store import CLI_ACTOR

    await api.service.keys.revoke(CLI_ACTOR, key_id)
    assert (await api.client.get("/v1/apps", headers=writer)).status_code == 403


async def test_repeated_failures_answered_429(service: Service) -> None:
    async with client_for(service, auth_failure_limit=3) as client:
        for _ in range(3):
            response = await client.get("/v1/apps", headers={"Authorization": "Bearer sck_bad"})
            assert response.status_code == 403
        blocked = await client.get("/v1/apps", headers={"Authorization": "Bearer sck_bad"})
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "rate_limited"
        assert int(blocked.headers["Retry-After"]) >= 1
        good = Api(client, service)
        assert (await client.get("/v1/apps", headers=await good.key())).status_code == 429


async def test_app_bound_keys(api: Api, make_server: MakeServer) -> None:
    server = make_server()
    admin = await api.key()
    mine = await make_app(api, admin, "mine")
    other = await make_app(api, admin, "other")
    bound = await api.key(app=mine)
    assert [a["id"] for a in (await api.client.get("/v1/apps", headers=bound)).json()] == [mine]
    assert (await api.client.get(f"/v1/apps/{other}", headers=bound)).status_code == 403
    assert (await api.client.get(f"/v1/apps/{other}/servers", headers=bound)).status_code == 403
    assert (await api.client.post("/v1/apps", json={"name": "n"}, headers=bound)).status_code == 403
    await api.client.post(
        f"/v1/apps/{mine}/servers", json=definition(server.port, username=None), headers=bound
    )
    sent = await api.client.post(
        f"/v1/apps/{mine}/messages",
        json={"to": "user@example.org", "payload": {"code": "1"}},
        headers=bound,
    )
    assert sent.status_code == 200 and len(server.messages) == 1
    refused = await api.client.post(
        f"/v1/apps/{other}/messages", json={"to": "user@example.org"}, headers=bound
    )
    assert refused.status_code == 403


async def test_bad_input_is_4xx_never_500(api: Api) -> None:
    h = await api.key()
    app_id = await make_app(api, h)
    base = f"/v1/apps/{app_id}/servers"
    json_h = h | {"Content-Type": "application/json"}
    malformed = await api.client.post(base, content=b'{"host": ', headers=json_h)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_request"
    wrong = await api.client.post(base, json=definition(2525) | {"port": "abc"}, headers=h)
    assert wrong.status_code == 422 and "port" in wrong.json()["error"]["message"]
    assert SMTP_PASSWORD not in wrong.text
    unknown = await api.client.post(base, json=definition(2525, hots="typo"), headers=h)
    assert unknown.status_code == 422 and "hots" in unknown.json()["error"]["message"]
    not_object = await api.client.post(base, json=[1, 2], headers=h)
    assert not_object.status_code == 422
    bad_security = await api.client.post(base, json=definition(25, security="ssl"), headers=h)
    assert bad_security.status_code == 422
    no_server = await api.client.post(
        f"/v1/apps/{app_id}/messages", json={"to": "user@example.org"}, headers=h
    )
    assert no_server.status_code == 409  # no active definition yet: says so
    await api.client.post(base, json=definition(dead_port()), headers=h)
    bad_recipient = await api.client.post(
        f"/v1/apps/{app_id}/messages", json={"to": "not an address"}, headers=h
    )
    assert bad_recipient.status_code == 400
    assert bad_recipient.json()["error"]["code"] == "invalid_recipient"

    big = json.dumps(definition(2525, description="x" * 2_000_000)).encode()
    too_large = await api.client.post(base, content=big, headers=json_h)
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(40):
            yield b" " * 65536

    streamed = await api.client.post(base, content=chunks(), headers=json_h)
    assert streamed.status_code == 413
