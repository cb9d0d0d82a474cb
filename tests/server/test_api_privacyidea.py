"""The privacyIDEA dialect (seed 003) in-process: create/list/update/delete/send_test_email
with privacyIDEA's parameter names, form and JSON bodies, its envelope and auth header."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, free_port

from smtp_connector.store import CENSORED, CLI_ACTOR
from smtp_connector.store.tables import DefinitionRow

USER = "pi-mailer@example.com"
FIELDS = {
    "server", "port", "username", "password", "sender", "tls", "timeout", "enqueue_job",
    "description", "smime", "dont_send_on_error", "private_key", "private_key_password",
    "certificate",
}  # fmt: skip


async def raw_key(api: Api, *scopes: str, app: str | None = None) -> dict[str, str]:
    """privacyIDEA's form: `Authorization: KEY` without a scheme."""
    headers = await api.key(*scopes, app=app)
    return {"Authorization": headers["Authorization"].removeprefix("Bearer ")}


def assert_envelope(body: dict, value: object) -> None:
    assert body["jsonrpc"] == "2.0" and body["id"] == 1
    assert isinstance(body["time"], float) and body["version"].startswith("smtp-connector")
    assert body["result"] == {"status": True, "value": value}


async def stored_password(api: Api, name: str) -> str | None:
    from sqlalchemy import select

    async with api.service.database.transaction() as session:
        row = await session.scalar(select(DefinitionRow).where(DefinitionRow.name == name))
        assert row is not None
        return api.service.box.decrypt(row.password_enc) if row.password_enc else None


async def test_round_trip(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await raw_key(api)
    form = {"server": "127.0.0.1", "port": str(server.port), "username": USER,
            "password": SMTP_PASSWORD, "sender": "otp@example.com", "tls": "0",
            "description": "primary", "timeout": "5"}  # fmt: skip
    created = await api.client.post("/smtpserver/themis", data=form, headers=h)
    assert created.status_code == 200, created.text
    assert_envelope(created.json(), True)

    listed = await api.client.get("/smtpserver/", headers=h)
    value = listed.json()["result"]["value"]
    assert set(value) == {"themis"} and set(value["themis"]) == FIELDS
    entry = value["themis"]
    assert (entry["server"], entry["port"], entry["tls"], entry["timeout"]) == (
        "127.0.0.1", server.port, False, 5,
    )  # fmt: skip
    assert entry["password"] == CENSORED and SMTP_PASSWORD not in listed.text

    # The web UI sends back what it listed: the censored password keeps the stored one.
    resent = entry | {"description": "changed"}
    updated = await api.client.post("/smtpserver/themis", json=resent, headers=h)
    assert updated.status_code == 200, updated.text
    assert await stored_password(api, "themis") == SMTP_PASSWORD
    listed = (await api.client.get("/smtpserver/", headers=h)).json()["result"]["value"]
    assert listed["themis"]["description"] == "changed"

    # Test email with the censored password and the stored host/port/user: allowed.
    test = {"identifier": "themis", "recipient": "admin@example.org", **entry}
    sent = await api.client.post("/smtpserver/send_test_email", json=test, headers=h)
    assert_envelope(sent.json(), True)
    (received,) = server.messages
    assert received.rcpt_tos == ["admin@example.org"] and received.auth_login == USER.encode()
    assert received.mail_from == "otp@example.com"

    deleted = await api.client.delete("/smtpserver/themis", headers=h)
    assert_envelope(deleted.json(), True)
    gone = await api.client.delete("/smtpserver/themis", headers=h)
    assert gone.status_code == 404
    assert gone.json()["result"]["status"] is False
    assert gone.json()["result"]["error"]["code"] == 601


async def test_definitions_live_in_the_privacyidea_app(api: Api) -> None:
    h = await raw_key(api)
    await api.client.post("/smtpserver/a", json={"server": "smtp.example.com"}, headers=h)
    apps = await api.service.apps.list(CLI_ACTOR)
    assert [app.name for app in apps] == ["privacyidea"]
    definitions = await api.service.definitions.list(CLI_ACTOR, apps[0].id)
    assert [(d.name, d.port, d.security, d.auth) for d in definitions] == [("a", 25, "none", False)]


async def test_secret_rules(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await raw_key(api)
    base = {"server": "127.0.0.1", "port": server.port, "username": USER,
            "password": SMTP_PASSWORD, "sender": "otp@example.com"}  # fmt: skip
    await api.client.post("/smtpserver/main", json=base, headers=h)

    moved = await api.client.post(
        "/smtpserver/main", json=base | {"server": "localhost", "password": CENSORED}, headers=h
    )
    assert moved.status_code == 400
    assert moved.json()["result"]["status"] is False
    assert moved.json()["detail"]["error_code"] == "invalid_config"

    # The test button cannot send the stored password to a port of the caller's choice.
    trap = {"identifier": "main", "recipient": "a@example.org", **base,
            "port": free_port(), "password": CENSORED}  # fmt: skip
    refused = await api.client.post("/smtpserver/send_test_email", json=trap, headers=h)
    assert refused.status_code == 400 and SMTP_PASSWORD not in refused.text

    cleared = await api.client.post("/smtpserver/main", json={"password": ""}, headers=h)
    assert cleared.status_code == 200 and await stored_password(api, "main") is None


async def test_failed_test_email_reports_the_error(api: Api) -> None:
    h = await raw_key(api)
    params = {"identifier": "x", "recipient": "a@example.org", "server": "127.0.0.1",
              "port": free_port(), "sender": "otp@example.com", "timeout": 3}  # fmt: skip
    failed = await api.client.post("/smtpserver/send_test_email", json=params, headers=h)
    assert failed.status_code == 200
    body = failed.json()
    assert body["result"] == {"status": True, "value": False}
    assert body["detail"]["error"]["code"] == "connection_failed"


async def test_auth_and_errors_in_the_envelope(api: Api) -> None:
    none = await api.client.get("/smtpserver/")
    assert none.status_code == 401 and none.json()["result"]["error"]["code"] == 4033
    bearer = await api.key("smtpserver_read")
    assert (await api.client.get("/smtpserver/", headers=bearer)).status_code == 200
    reader = await raw_key(api, "smtpserver_read")
    denied = await api.client.post("/smtpserver/x", json={"server": "h.example"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["detail"]["error_code"] == "forbidden"
    writer = await raw_key(api)
    missing = await api.client.post("/smtpserver/x", json={"port": "25"}, headers=writer)
    assert missing.status_code == 400 and "server" in missing.json()["result"]["error"]["message"]
    bad_json = await api.client.post(
        "/smtpserver/x", content=b"{oops", headers=writer | {"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    bad_port = await api.client.post(
        "/smtpserver/x", data={"server": "h.example", "port": "abc"}, headers=writer
    )
    assert bad_port.status_code == 400


async def test_key_bound_to_another_app_is_refused(api: Api) -> None:
    admin = await api.key()
    await api.client.post("/v1/apps", json={"name": "shop", "id": "shop"}, headers=admin)
    bound = await raw_key(api, app="shop")
    refused = await api.client.post("/smtpserver/x", json={"server": "h.example"}, headers=bound)
    assert refused.status_code == 403
