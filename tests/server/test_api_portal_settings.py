"""A portal's SMTP settings (seed 002) in-process, on SQLite and PostgreSQL: GET/POST/DELETE
with the seed's payload, cookie `asc_auth_key`, the portal API's wrapper for answers and errors,
the `portal` app, write-only passwords, NTLM, and sends through the settings to aiosmtpd."""

from __future__ import annotations

from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api, client_for
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer

from smtp_connector.store import CENSORED, CLI_ACTOR, AppPatch, Service

URL = "/api/2.0/smtpsettings/smtp"
USER = "notify@example.com"
EMPTY = {"host": None, "port": None, "senderAddress": None, "senderDisplayName": None,
         "credentialsUserName": None, "credentialsUserPassword": "", "enableSSL": False,
         "enableAuth": False, "useNtlm": False, "isDefaultSettings": True}  # fmt: skip


def seed_settings(port: int, **fields: object) -> dict[str, object]:
    """The seed's example, pointed at a local server (no SSL: it has no trusted cert)."""
    return {"host": "127.0.0.1", "port": port, "senderAddress": USER,
            "senderDisplayName": "Postman", "credentialsUserName": USER,
            "credentialsUserPassword": SMTP_PASSWORD, "enableSSL": False, "enableAuth": True,
            "useNtlm": False, "isDefaultSettings": False} | fields  # fmt: skip


async def cookie(api: Api, *scopes: str, app: str | None = None) -> dict[str, str]:
    """The seed's form: the key in the `asc_auth_key` cookie."""
    key = (await api.key(*scopes, app=app))["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"asc_auth_key={key}"}


def settings_of(response, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["count"], body["status"], body["statusCode"]) == (1, 0, 200)
    return body["response"]


def error_of(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["statusCode"], body["error"]["type"]) == (1, status, code)
    return str(body["error"]["message"])


async def test_round_trip(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await cookie(api)
    assert settings_of(await api.client.get(URL, headers=h)) == EMPTY
    saved = await api.client.post(URL, json=seed_settings(server.port), headers=h)
    settings = settings_of(saved)
    assert settings == seed_settings(server.port, credentialsUserPassword=CENSORED)
    (portal,) = await api.service.apps.list(CLI_ACTOR)
    assert portal.name == "portal"
    read = await api.client.get(URL, headers=h)
    assert settings_of(read) == settings

    # A console sends back what it read: the censored password keeps the stored one.
    echoed = await api.client.post(URL, json=settings | {"senderDisplayName": "Shop"}, headers=h)
    assert settings_of(echoed)["senderDisplayName"] == "Shop"
    await api.service.apps.update(CLI_ACTOR, portal.id, AppPatch(testEmail="ops@example.org"))
    check = await api.client.post(
        f"/v1/apps/{portal.id}/servers/{(await _only(api, portal.id))}/check",
        headers=await api.key(),
    )
    assert check.status_code == 200, check.text
    (received,) = server.messages
    assert received.auth_login == USER.encode() and received.mail_from == USER
    assert b"Shop" in received.content

    reset = await api.client.delete(URL, headers=h)
    assert settings_of(reset) == EMPTY
    assert settings_of(await api.client.get(URL, headers=h)) == EMPTY
    for response in (saved, read, echoed, reset):
        assert SMTP_PASSWORD not in response.text


async def test_names_match_case_insensitively(api: Api) -> None:
    h = await cookie(api)
    pascal = {"Host": "mail.example.com", "Port": "465", "SenderAddress": USER,
              "SenderDisplayName": "Postman", "CredentialsUserName": USER,
              "CredentialsUserPassword": "{password}", "EnableSSL": True, "EnableAuth": True,
              "UseNtlm": False, "IsDefaultSettings": False}  # fmt: skip
    settings = settings_of(await api.client.post(URL, json=pascal, headers=h))
    assert (settings["host"], settings["port"], settings["enableSSL"]) == (
        "mail.example.com",
        465,
        True,
    )
    (portal,) = await api.service.apps.list(CLI_ACTOR)
    stored = await api.service.definitions.get(CLI_ACTOR, portal.id, await _only(api, portal.id))
    assert stored.security == "tls"
    starttls = await api.client.post(
        URL, json={"port": 587, "credentialsUserPassword": "x"}, headers=h
    )
    assert settings_of(starttls)["enableSSL"] is True
    stored = await api.service.definitions.get(CLI_ACTOR, portal.id, stored.id)
    assert stored.security == "starttls"


async def test_host_change_without_password_refused(api: Api) -> None:
    h = await cookie(api)
    settings_of(await api.client.post(URL, json=seed_settings(2525), headers=h))
    moved = await api.client.post(URL, json={"host": "attacker.example.net"}, headers=h)
    message = error_of(moved, 400, "invalid_config")
    assert "`credentialsUserPassword`" in message and SMTP_PASSWORD not in moved.text
    assert settings_of(await api.client.get(URL, headers=h))["host"] == "127.0.0.1"


async def test_use_ntlm_authenticates_with_ntlm(
    api: Api, make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("spnego", reason="NTLM needs the ntlm extra (pyspnego)")
    users = tmp_path / "ntlm-users"
    users.write_text(f"CORP:mailer:{SMTP_PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    # The server offers PLAIN as well: only `useNtlm` can make the connector choose NTLM.
    server = make_server(ntlm=True, users={"CORP\\mailer": SMTP_PASSWORD})
    h = await cookie(api)
    body = seed_settings(server.port, credentialsUserName="CORP\\mailer", useNtlm=True)
    assert settings_of(await api.client.post(URL, json=body, headers=h))["useNtlm"] is True
    assert settings_of(await api.client.get(URL, headers=h))["useNtlm"] is True
    (portal,) = await api.service.apps.list(CLI_ACTOR)
    await api.service.apps.update(CLI_ACTOR, portal.id, AppPatch(testEmail="ops@example.org"))
    check = f"/v1/apps/{portal.id}/servers/{await _only(api, portal.id)}/check"
    assert (await api.client.post(check, headers=await api.key())).status_code == 200
    assert [mechanism for mechanism, _ in server.handler.auth_attempts] == ["NTLM"]
    assert server.messages[0].rcpt_tos == ["ops@example.org"]

    # Another mechanism is another way of putting the password on the wire: asked again.
    kept = await api.client.post(URL, json={"useNtlm": False}, headers=h)
    assert "`credentialsUserPassword`" in error_of(kept, 400, "invalid_config")
    off = await api.client.post(
        URL, json={"useNtlm": False, "credentialsUserPassword": SMTP_PASSWORD}, headers=h
    )
    assert settings_of(off)["useNtlm"] is False
    assert (await api.client.post(check, headers=await api.key())).status_code == 200
    assert server.handler.auth_attempts[-1][0] != "NTLM" and len(server.messages) == 2


async def test_bad_input(api: Api) -> None:
    h = await cookie(api)
    for body, named in [(seed_settings(25) | {"hots": "typo"}, "hots"),
                        (seed_settings(25) | {"port": "abc"}, "port"),
                        (seed_settings(25) | {"senderAddress": "nope"}, "senderAddress"),
                        (seed_settings(25, senderAddress=None), "senderAddress"),
                        (seed_settings(25, host=None), "host")]:  # fmt: skip
        refused = await api.client.post(URL, json=body, headers=h)
        assert f"`{named}`" in error_of(refused, 400, "invalid_request"), refused.text
        assert SMTP_PASSWORD not in refused.text
    malformed = await api.client.post(
        URL, content=b"{oops", headers=h | {"Content-Type": "application/json"}
    )
    error_of(malformed, 400, "invalid_request")


async def test_auth_forms_and_refusals(service: Service) -> None:
    async with client_for(service, auth_failure_limit=3) as client:
        api = Api(client, service)
        assert settings_of(await client.get(URL, headers=await api.key())) == EMPTY  # Bearer
        reader = await cookie(api, "smtpserver_read")
        settings_of(await client.get(URL, headers=reader))
        denied = await client.post(URL, json=seed_settings(25), headers=reader)
        assert "smtpserver_write" in error_of(denied, 403, "forbidden")
        error_of(await client.get(URL), 401, "unauthorized")
        wrong = {"Cookie": "asc_auth_key=sck_not_a_key"}
        error_of(await client.get(URL, headers=wrong), 403, "forbidden")
        error_of(await client.get(URL, headers=wrong), 403, "forbidden")
        blocked = await client.get(URL, headers=wrong)
        error_of(blocked, 429, "rate_limited")
        assert int(blocked.headers["Retry-After"]) >= 1


async def test_bound_key_uses_its_own_app(api: Api) -> None:
    admin = await api.key()
    created = await api.client.post("/v1/apps", json={"name": "tenant-a"}, headers=admin)
    tenant = created.json()["id"]
    h = await cookie(api, app=tenant)
    settings_of(await api.client.post(URL, json=seed_settings(2525), headers=h))
    assert [a.name for a in await api.service.apps.list(CLI_ACTOR)] == ["tenant-a"]
    assert len(await api.service.definitions.list(CLI_ACTOR, tenant)) == 1
    unbound = await cookie(api)
    assert settings_of(await api.client.get(URL, headers=unbound)) == EMPTY  # `portal` is apart


async def _only(api: Api, app_id: str) -> str:
    (definition,) = await api.service.definitions.list(CLI_ACTOR, app_id)
    return definition.id
