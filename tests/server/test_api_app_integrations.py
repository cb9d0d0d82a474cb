"""App-integration SMTP records (seed 001) in-process, on SQLite and PostgreSQL: CRUD with the
seed's payload, `Brand-URL` and `Auth-Key` headers, its envelope for answers and errors,
write-only passwords, one default per app, and sends through the stored records to aiosmtpd."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api, client_for
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, free_port
from sqlalchemy import select

from smtp_connector.store import CENSORED, CLI_ACTOR, Service
from smtp_connector.store.tables import DefinitionRow

BASE = "/api/v1/app-integrations/smtp"
USER = "mailer@example.com"
DATA_FIELDS = {"id", "appIntegrationId", "name", "host", "port", "username", "password",
               "useTls", "isDefault", "description", "status"}  # fmt: skip


def seed_body(port: int, **fields: object) -> dict[str, object]:
    """The seed's example payload, pointed at a local server (no TLS: it has no trusted cert)."""
    return {"appIntegrationId": "sApKpllz4sAplsmzha", "name": "SMTP Integration",
            "host": "127.0.0.1", "port": port, "username": USER, "password": SMTP_PASSWORD,
            "useTls": False, "isDefault": True, "description": "SMTP Integration Description",
            "status": "1 - Active"} | fields  # fmt: skip


async def brand_headers(api: Api, *scopes: str, app: str | None = None) -> dict[str, str]:
    """The seed's form: `Auth-Key` plus `Brand-URL` naming the app."""
    key = (await api.key(*scopes, app=app))["Authorization"].removeprefix("Bearer ")
    return {"Auth-Key": key, "Brand-URL": "brand"}


async def make_app(api: Api, name: str = "brand") -> str:
    body = {"name": name, "testEmail": "ops@example.org"}
    created = await api.client.post("/v1/apps", json=body, headers=await api.key())
    assert created.status_code == 201
    return str(created.json()["id"])


def assert_ok(response, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["statusCode"], body["errors"]) == (True, status, [])
    assert body["message"] == "The request was successful."
    return body["data"]


def assert_error(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["statusCode"], body["data"]) == (False, status, None)
    assert body["errors"][0]["code"] == code and body["message"] == body["errors"][0]["message"]
    return str(body["message"])


async def stored_password(service: Service, record_id: str) -> str | None:
    async with service.database.transaction() as session:
        row = await session.scalar(select(DefinitionRow).where(DefinitionRow.id == record_id))
        assert row is not None
        return service.box.decrypt(row.password_enc) if row.password_enc else None


async def test_round_trip(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = await make_app(api)
    h = await brand_headers(api)
    created = await api.client.post(BASE, json=seed_body(server.port), headers=h)
    data = assert_ok(created, 201)
    assert set(data) == DATA_FIELDS and data["password"] == CENSORED
    assert (data["status"], data["isDefault"], data["useTls"]) == ("Active", True, False)
    assert data["appIntegrationId"] == "sApKpllz4sAplsmzha"
    record = f"{BASE}/{data['id']}"

    listed = await api.client.get(BASE, headers=h)
    assert assert_ok(listed) == [data]
    by_id = {**h, "Brand-URL": app_id}  # the app by id works as well as by name
    fetched = await api.client.get(record, headers=by_id)
    assert assert_ok(fetched) == data

    # A client sends back what it read: the censored password (and the id) keep the secret.
    echoed = data | {"description": "primary relay", "status": "0 - Inactive"}
    updated = await api.client.put(record, json=echoed, headers=h)
    assert assert_ok(updated)["status"] == "Inactive"
    assert await stored_password(api.service, data["id"]) == SMTP_PASSWORD
    active = await api.client.put(record, json={"status": "Active"}, headers=h)
    assert assert_ok(active)["description"] == "primary relay"

    # The stored record sends: with its credentials, to the app's recipients.
    sent = await api.client.post(
        f"/v1/apps/{app_id}/messages",
        json={"to": "user@example.org", "usageType": "SignIn", "payload": {"code": "482913"}},
        headers=await api.key(),
    )
    assert sent.status_code == 200, sent.text
    (received,) = server.messages
    assert received.auth_login == USER.encode() and b"482913" in received.content

    deleted = await api.client.delete(record, headers=h)
    assert assert_ok(deleted)["id"] == data["id"]
    assert_error(await api.client.get(record, headers=h), 404, "not_found")
    for response in (created, listed, fetched, updated, active, deleted):
        assert SMTP_PASSWORD not in response.text


async def test_one_default_per_brand(api: Api) -> None:
    await make_app(api)
    h = await brand_headers(api)
    first = assert_ok(await api.client.post(BASE, json=seed_body(2525, name="a"), headers=h), 201)
    second = assert_ok(await api.client.post(BASE, json=seed_body(2526, name="b"), headers=h), 201)
    listed = {r["id"]: r["isDefault"] for r in assert_ok(await api.client.get(BASE, headers=h))}
    assert listed == {first["id"]: False, second["id"]: True}
    duplicate = await api.client.post(BASE, json=seed_body(2527, name="a"), headers=h)
    assert "exists" in assert_error(duplicate, 409, "invalid_config")


async def test_use_tls_is_required_tls(api: Api, make_server: MakeServer) -> None:
    plain = make_server()
    app_id = await make_app(api)
    h = await brand_headers(api)
    record = assert_ok(
        await api.client.post(BASE, json=seed_body(plain.port, useTls=True), headers=h), 201
    )
    stored = await api.service.definitions.get(CLI_ACTOR, app_id, record["id"])
    assert stored.security == "starttls" and stored.auth
    # The plain server offers no STARTTLS: the check fails rather than send in clear.
    check = await api.client.post(
        f"/v1/apps/{app_id}/servers/{record['id']}/check", headers=await api.key()
    )
    assert check.status_code == 406 and check.json()["error"]["code"] == "tls_failed"
    assert plain.messages == []
    port_465 = {"port": 465, "password": SMTP_PASSWORD}
    moved = await api.client.put(f"{BASE}/{record['id']}", json=port_465, headers=h)
    assert assert_ok(moved)["useTls"] is True
    assert (await api.service.definitions.get(CLI_ACTOR, app_id, record["id"])).security == "tls"


async def test_host_change_without_password_refused(api: Api) -> None:
    await make_app(api)
    h = await brand_headers(api)
    record = assert_ok(await api.client.post(BASE, json=seed_body(2525), headers=h), 201)
    moved = await api.client.put(
        f"{BASE}/{record['id']}", json={"host": "attacker.example.net"}, headers=h
    )
    message = assert_error(moved, 400, "invalid_config")
    assert "`password`" in message and SMTP_PASSWORD not in moved.text
    with_password = await api.client.put(
        f"{BASE}/{record['id']}", json={"host": "smtp.example.net", "password": "n3w"}, headers=h
    )
    assert assert_ok(with_password)["host"] == "smtp.example.net"


async def test_bad_input_in_the_envelope(api: Api) -> None:
    await make_app(api)
    h = await brand_headers(api)
    for body, named in [(seed_body(2525) | {"port": "abc"}, "port"),
                        (seed_body(2525) | {"hots": "typo"}, "hots"),
                        (seed_body(2525) | {"status": "2 - Deleted"}, "status"),
                        ({"name": "x", "port": 25}, "host")]:  # fmt: skip
        refused = await api.client.post(BASE, json=body, headers=h)
        assert named in assert_error(refused, 422, "invalid_request")
        assert SMTP_PASSWORD not in refused.text
    malformed = await api.client.post(
        BASE, content=b'{"host": ', headers=h | {"Content-Type": "application/json"}
    )
    assert_error(malformed, 422, "invalid_request")
    no_brand = {"Auth-Key": h["Auth-Key"]}
    assert "Brand-URL" in assert_error(
        await api.client.get(BASE, headers=no_brand), 422, "invalid_request"
    )
    unknown = await api.client.get(BASE, headers=h | {"Brand-URL": "nobody"})
    assert_error(unknown, 404, "not_found")


async def test_auth_forms_and_refusals(service: Service) -> None:
    async with client_for(service, auth_failure_limit=3) as client:
        api = Api(client, service)
        await make_app(api)
        bearer = await api.key() | {"Brand-URL": "brand"}
        assert_ok(await client.get(BASE, headers=bearer))
        reader = await brand_headers(api, "smtpserver_read")
        assert_ok(await client.get(BASE, headers=reader))
        denied = await client.post(BASE, json=seed_body(2525), headers=reader)
        assert "smtpserver_write" in assert_error(denied, 403, "forbidden")
        assert_error(await client.get(BASE, headers={"Brand-URL": "brand"}), 401, "unauthorized")
        wrong = {"Auth-Key": "sck_not_a_key", "Brand-URL": "brand"}
        assert_error(await client.get(BASE, headers=wrong), 403, "forbidden")
        assert_error(await client.get(BASE, headers=wrong), 403, "forbidden")
        blocked = await client.get(BASE, headers=wrong)
        assert_error(blocked, 429, "rate_limited")
        assert int(blocked.headers["Retry-After"]) >= 1


async def test_key_bound_to_an_app(api: Api) -> None:
    mine = await make_app(api, "mine")
    await make_app(api, "other")
    bound = await brand_headers(api, app=mine)
    implicit = {"Auth-Key": bound["Auth-Key"]}  # no Brand-URL: the key's own app
    assert_ok(await api.client.post(BASE, json=seed_body(free_port()), headers=implicit), 201)
    assert len(assert_ok(await api.client.get(BASE, headers=bound | {"Brand-URL": "mine"}))) == 1
    other = await api.client.get(BASE, headers=bound | {"Brand-URL": "other"})
    assert_error(other, 403, "forbidden")
