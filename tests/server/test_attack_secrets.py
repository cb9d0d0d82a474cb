"""Issue 27, findings 1 and 7, against a real `smtp-connector serve`: a stored password never
follows a change of where it goes or how it is protected, in any dialect or test send; and a
read-only key sends nothing.

The victim's server offers AUTH without TLS to whoever connects (aiosmtpd, AUTH allowed in
clear, no STARTTLS): the definition says STARTTLS, so every check fails with tls_failed and the
server never sees a login. The attacker's move is to weaken the definition without knowing the
password; were it accepted, the next check would hand the password over in base64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    ServeProcess,
    create_key_cli,
    definition,
    start_serve,
)
from smtp_servers import MakeServer, TestServer

CENSORED = "__CENSORED__"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, str]]:
    folder = tmp_path_factory.mktemp("attack-secrets")
    url = f"sqlite:///{folder / 'service.db'}"
    key = create_key_cli(url)
    serve = start_serve(url, folder / "serve.log")
    yield serve, key
    serve.stop()
    assert SMTP_PASSWORD not in (folder / "serve.log").read_text()


@pytest.fixture
def client(served: tuple[ServeProcess, str]) -> Iterator[httpx.Client]:
    serve, key = served
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=serve.base_url, headers=headers, timeout=30) as http:
        yield http


def new_app(client: httpx.Client, name: str) -> str:
    app = client.post("/v1/apps", json={"name": name, "testEmail": "ops@example.org"})
    assert app.status_code == 201, app.text
    return str(app.json()["id"])


def app_named(client: httpx.Client, name: str) -> str:
    (found,) = [a["id"] for a in client.get("/v1/apps").json() if a["name"] == name]
    return str(found)


# Each dialect: create a STARTTLS definition with the password, then the downgrade it offers
# (the request a console sends when the TLS switch is turned off), answered without the
# password. `create` returns the app id; `downgrade` returns the refused response.
Dialect = tuple[Callable[..., str], Callable[..., httpx.Response]]


def native_create(client: httpx.Client, port: int, tag: str) -> str:
    app_id = new_app(client, f"native-{tag}")
    made = client.post(f"/v1/apps/{app_id}/servers", json=definition(port, security="starttls"))
    assert made.status_code == 201, made.text
    return app_id


def native_downgrade(client: httpx.Client, app_id: str, change: dict[str, Any]) -> httpx.Response:
    (server,) = client.get(f"/v1/apps/{app_id}/servers").json()
    return client.patch(f"/v1/apps/{app_id}/servers/{server['id']}", json=change)


def smtps_create(client: httpx.Client, port: int, tag: str) -> str:
    app_id = new_app(client, f"smtps-{tag}")
    saved = client.post("/private/smtps/save", json={
        "idapp": app_id, "host": "127.0.0.1", "port": port, "username": SMTP_USER,
        "password": SMTP_PASSWORD, "auth": True, "starttls": True,
        "defaultfromemail": "noreply@example.com",
    })  # fmt: skip
    assert saved.status_code == 200, saved.text
    return app_id


def smtps_downgrade(client: httpx.Client, app_id: str) -> httpx.Response:
    (smtp,) = client.get("/private/smtps/findByApp", params={"idapp": app_id}).json()
    return client.post("/private/smtps/save", json={"idsmtp": smtp["_id"], "starttls": False})


def integrations_create(client: httpx.Client, port: int, tag: str) -> str:
    app_id = new_app(client, f"integrations-{tag}")
    made = client.post("/api/v1/app-integrations/smtp", headers={"Brand-URL": app_id}, json={
        "appIntegrationId": "i-1", "name": "relay", "host": "127.0.0.1", "port": port,
        "username": SMTP_USER, "password": SMTP_PASSWORD, "useTls": True,
        "isDefault": True, "status": "1 - Active",
    })  # fmt: skip
    assert made.status_code == 201, made.text
    client.patch(f"/v1/apps/{app_id}/servers/{made.json()['data']['id']}",
                 json={"fromEmail": "noreply@example.com"})  # fmt: skip
    return app_id


def integrations_downgrade(client: httpx.Client, app_id: str) -> httpx.Response:
    brand = {"Brand-URL": app_id}
    (record,) = client.get("/api/v1/app-integrations/smtp", headers=brand).json()["data"]
    return client.put(
        f"/api/v1/app-integrations/smtp/{record['id']}", headers=brand, json={"useTls": False}
    )


def portal_create(client: httpx.Client, port: int, tag: str) -> str:
    saved = client.post("/api/2.0/smtpsettings/smtp", json={
        "host": "127.0.0.1", "port": port, "senderAddress": "noreply@example.com",
        "credentialsUserName": SMTP_USER, "credentialsUserPassword": SMTP_PASSWORD,
        "enableSSL": True, "enableAuth": True,
    })  # fmt: skip
    assert saved.status_code == 200, saved.text
    app_id = app_named(client, "portal")
    client.patch(f"/v1/apps/{app_id}", json={"testEmail": "ops@example.org"})
    return app_id


def portal_downgrade(client: httpx.Client, app_id: str) -> httpx.Response:
    return client.post("/api/2.0/smtpsettings/smtp", json={"enableSSL": False})


def pi_params(port: int, tls: int) -> dict[str, Any]:
    return {"server": "127.0.0.1", "port": port, "username": SMTP_USER, "sender":
            "noreply@example.com", "tls": tls, "timeout": 5}  # fmt: skip


def privacyidea_create(client: httpx.Client, port: int, tag: str) -> str:
    saved = client.post(f"/smtpserver/pi-{tag}", json=pi_params(port, 1) | {
        "password": SMTP_PASSWORD})  # fmt: skip
    assert saved.status_code == 200, saved.text
    app_id = app_named(client, "privacyidea")
    client.patch(f"/v1/apps/{app_id}", json={"testEmail": "ops@example.org"})
    # The privacyIDEA app holds every case's definition: keep only this one.
    for other in client.get(f"/v1/apps/{app_id}/servers").json():
        if other["name"] != f"pi-{tag}":
            client.delete(f"/v1/apps/{app_id}/servers/{other['id']}")
    return app_id


def privacyidea_update(client: httpx.Client, app_id: str, port: int, tag: str) -> httpx.Response:
    # privacyIDEA's UI posts every field back, the password as it was shown.
    return client.post(f"/smtpserver/pi-{tag}", json=pi_params(port, 0) | {"password": CENSORED})


def privacyidea_test(client: httpx.Client, app_id: str, port: int, tag: str) -> httpx.Response:
    return client.post(
        "/smtpserver/send_test_email",
        json=pi_params(port, 0)
        | {"password": CENSORED, "identifier": f"pi-{tag}", "recipient": "admin@example.org"},
    )


CASES: dict[str, tuple[Callable[..., str], Callable[..., httpx.Response], str]] = {
    # name: (create, downgrade, the dialect's word for the weakened setting)
    "native security none": (native_create,
                             lambda c, a, p, t: native_downgrade(c, a, {"security": "none"}),
                             "`security`"),
    "native ntlm": (native_create, lambda c, a, p, t: native_downgrade(c, a, {"ntlm": True}),
                    "`ntlm`"),
    "native verifyCertificate": (native_create, lambda c, a, p, t: native_downgrade(
        c, a, {"verifyCertificate": False}), "`verifyCertificate`"),
    "per-app list starttls off": (smtps_create, lambda c, a, p, t: smtps_downgrade(c, a),
                                  "starttls"),
    "app integrations useTls off": (integrations_create,
                                    lambda c, a, p, t: integrations_downgrade(c, a), "`useTls`"),
    "portal enableSSL off": (portal_create, lambda c, a, p, t: portal_downgrade(c, a),
                             "`enableSSL`"),
    "privacyIDEA update tls 0": (privacyidea_create, privacyidea_update, "`tls`"),
    "privacyIDEA send_test_email tls 0": (privacyidea_create, privacyidea_test, "`tls`"),
}  # fmt: skip


def logins(server: TestServer) -> list[tuple[str, str]]:
    return list(server.handler.auth_attempts)


@pytest.mark.parametrize("case", list(CASES))
def test_weakening_the_link_needs_the_password(
    case: str, client: httpx.Client, make_server: MakeServer
) -> None:
    create, downgrade, field_word = CASES[case]
    # Offers AUTH in clear and no STARTTLS: exactly what a stripping attacker presents.
    victim = make_server(users={SMTP_USER: SMTP_PASSWORD})
    tag = case.split()[0].lower() + str(victim.port)
    app_id = create(client, victim.port, tag)
    (stored,) = client.get(f"/v1/apps/{app_id}/servers").json()
    assert stored["security"] == "starttls"

    refused = downgrade(client, app_id, victim.port, tag)
    assert refused.status_code == 400, refused.text
    assert "password" in refused.text.lower() and field_word in refused.text
    assert SMTP_PASSWORD not in refused.text

    (after,) = client.get(f"/v1/apps/{app_id}/servers").json()
    assert {k: after[k] for k in ("security", "ntlm", "verifyCertificate")} == {
        k: stored[k] for k in ("security", "ntlm", "verifyCertificate")
    }
    check = client.post(f"/v1/apps/{app_id}/servers/{stored['id']}/check")
    assert check.status_code == 406 and check.json()["error"]["code"] == "tls_failed"
    assert logins(victim) == [] and victim.messages == []


def test_weakening_with_the_password_is_a_decision(
    client: httpx.Client, make_server: MakeServer
) -> None:
    """The person who knows the password may choose plain SMTP (a relay on a trusted LAN)."""
    victim = make_server(users={SMTP_USER: SMTP_PASSWORD})
    app_id = native_create(client, victim.port, "decided")
    (stored,) = client.get(f"/v1/apps/{app_id}/servers").json()
    changed = native_downgrade(client, app_id, {"security": "none", "password": SMTP_PASSWORD})
    assert changed.status_code == 200 and changed.json()["security"] == "none"
    check = client.post(f"/v1/apps/{app_id}/servers/{stored['id']}/check")
    assert check.status_code == 200, check.text
    assert [login for _, login in logins(victim)] == [SMTP_USER]


def test_harmless_changes_keep_the_stored_password(
    client: httpx.Client, make_server: MakeServer
) -> None:
    """Priority, sender, description, turning AUTH off: nothing about where the password
    goes; and a stronger mode for a definition that sends no password needs none."""
    victim = make_server(users={SMTP_USER: SMTP_PASSWORD})
    app_id = native_create(client, victim.port, "harmless")
    for change in ({"priority": 3}, {"fromName": "Shop"}, {"description": "main relay"},
                   {"auth": False}, {"security": "none"}):  # fmt: skip
        answer = native_downgrade(client, app_id, change)
        assert answer.status_code == 200, (change, answer.text)
    (stored,) = client.get(f"/v1/apps/{app_id}/servers").json()
    assert stored["password"] == CENSORED and stored["auth"] is False
    # Turning AUTH back on over the now plain link would send the password: asked again.
    again = native_downgrade(client, app_id, {"auth": True})
    assert again.status_code == 400 and "`auth`" in again.text


def test_a_read_only_key_sends_nothing(
    served: tuple[ServeProcess, str], client: httpx.Client, make_server: MakeServer, tmp_path: Path
) -> None:
    """Finding 7: `smtpserver_read` lists and looks up; sending (test sends included) needs
    `smtpserver_send`, on the send route's short path as on the route."""
    serve, _ = served
    live = make_server(users={SMTP_USER: SMTP_PASSWORD})
    app_id = new_app(client, "read-only")
    made = client.post(f"/v1/apps/{app_id}/servers", json=definition(live.port)).json()
    url = f"sqlite:///{Path(serve.log).parent / 'service.db'}"
    reader = {"Authorization": f"Bearer {create_key_cli(url, 'smtpserver_read')}"}
    sender = {"Authorization": f"Bearer {create_key_cli(url, 'smtpserver_send')}"}
    invitation = {"to": "victim@example.org", "usageType": "OrganizationInvitation",
                  "payload": {"link": "https://evil.example/accept"}}  # fmt: skip
    with httpx.Client(base_url=serve.base_url, timeout=30) as http:
        for path, body in (
            (f"/v1/apps/{app_id}/messages", invitation),
            (f"/v1/apps/{app_id}/servers/{made['id']}/test", {"to": "victim@example.org"}),
        ):
            denied = http.post(path, json=body, headers=reader)
            assert denied.status_code == 403, denied.text
            assert "smtpserver_send" in denied.json()["error"]["message"]
        pi = http.post("/smtpserver/send_test_email", headers={
            "Authorization": reader["Authorization"].removeprefix("Bearer ")},
            json=pi_params(live.port, 0) | {"identifier": "x", "recipient": "victim@example.org",
                                           "password": SMTP_PASSWORD})  # fmt: skip
        assert pi.status_code == 403
        assert live.messages == []
        me = http.get("/v1/me", headers=reader).json()
        assert me["readOnly"] is True and me["canSend"] is False

        sent = http.post(f"/v1/apps/{app_id}/messages", json=invitation | {
            "to": "friend@example.org"}, headers=sender)  # fmt: skip
        assert sent.status_code == 200, sent.text
        assert live.messages[-1].rcpt_tos == ["friend@example.org"]
        # ... and a send-only key changes nothing.
        patch = http.patch(f"/v1/apps/{app_id}/servers/{made['id']}", json={"priority": 1},
                           headers=sender)  # fmt: skip
        assert patch.status_code == 403 and "smtpserver_write" in patch.text
