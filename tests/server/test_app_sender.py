"""A sender per app (issue 23, item 4), in-process on SQLite and PostgreSQL against real aiosmtpd
servers: `fromEmail` / `fromName` / `defaultLocale` on `/v1/apps`; a definition without its own
sender sends with its app's; the native API refuses a definition with neither (422 naming
`fromEmail`); the per-app list's `check` passes with an empty `defaultfromemail` once the app
has a sender, and names `defaultfromemail` when nothing gives one; privacyIDEA names `sender`."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from service_support import SMTP_PASSWORD, definition
from smtp_servers import MakeServer

USER = "mailer@example.com"
CODE = {"usageType": "SignIn", "payload": {"code": "482913"}}


def sender_of(content: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(content)["From"])))


async def test_app_settings_round_trip_and_refusals(api: Api) -> None:
    h = await api.key()
    body = {"name": "Shop", "fromEmail": "hello@shop.example.com", "fromName": "Shop",
            "defaultLocale": "de"}  # fmt: skip
    created = await api.client.post("/v1/apps", json=body, headers=h)
    assert created.status_code == 201, created.text
    app = created.json()
    assert (app["fromEmail"], app["fromName"], app["defaultLocale"]) == (
        "hello@shop.example.com", "Shop", "de",
    )  # fmt: skip
    assert (await api.client.get(f"/v1/apps/{app['id']}", headers=h)).json() == app
    for field, value, says in (
        ("fromEmail", "not-an-address", "fromEmail"),
        ("fromEmail", "a@example.org\r\nBcc: x@example.org", "fromEmail"),
        ("fromName", "Shop\r\nBcc: x@example.org", "line break"),
        ("defaultLocale", "../../etc/passwd", "defaultLocale"),
    ):
        refused = await api.client.patch(f"/v1/apps/{app['id']}", json={field: value}, headers=h)
        assert refused.status_code == 422, (field, refused.text)
        assert says in refused.json()["error"]["message"]
    cleared = await api.client.patch(f"/v1/apps/{app['id']}", json={"fromName": None}, headers=h)
    assert cleared.json()["fromName"] is None and cleared.json()["fromEmail"]


async def test_definitions_without_a_sender_use_the_apps(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await api.key()
    app = (await api.client.post("/v1/apps", json={"name": "Shop"}, headers=h)).json()["id"]
    servers = f"/v1/apps/{app}/servers"
    bare = definition(server.port, fromEmail=None)
    refused = await api.client.post(servers, json=bare, headers=h)
    assert refused.status_code == 422, refused.text
    assert "`fromEmail`" in refused.json()["error"]["message"]
    assert (await api.client.get(servers, headers=h)).json() == []  # nothing stored

    await api.client.patch(f"/v1/apps/{app}", headers=h, json={
        "fromEmail": "hello@shop.example.com", "fromName": "Shop Ünïcode"})  # fmt: skip
    made = await api.client.post(servers, json=bare, headers=h)
    assert made.status_code == 201 and made.json()["fromEmail"] is None
    sent = await api.client.post(
        f"/v1/apps/{app}/messages", json={"to": "ana@example.org"} | CODE, headers=h
    )
    assert sent.status_code == 200, sent.text
    assert server.messages[-1].mail_from == "hello@shop.example.com"
    assert sender_of(server.messages[-1].content) == "Shop Ünïcode <hello@shop.example.com>"

    # A change of the app's sender reaches the next send (the app's connector is rebuilt).
    await api.client.patch(f"/v1/apps/{app}", json={"fromEmail": "otp@shop.example.com",
                                                     "defaultLocale": "de"}, headers=h)  # fmt: skip
    await api.client.post(f"/v1/apps/{app}/messages", json={"to": "ana@example.org"} | CODE,
                          headers=h)  # fmt: skip
    assert server.messages[-1].mail_from == "otp@shop.example.com"
    assert "Anmeldecode" in sender_subject(server.messages[-1].content)  # the app's locale

    # A definition's own sender wins; clearing it needs the app's to be there.
    own = await api.client.patch(f"{servers}/{made.json()['id']}",
                                 json={"fromEmail": "it@shop.example.com"}, headers=h)  # fmt: skip
    assert own.status_code == 200
    await api.client.post(f"/v1/apps/{app}/messages", json={"to": "ana@example.org"} | CODE,
                          headers=h)  # fmt: skip
    assert server.messages[-1].mail_from == "it@shop.example.com"
    await api.client.patch(f"/v1/apps/{app}", json={"fromEmail": None}, headers=h)
    unset = await api.client.patch(f"{servers}/{made.json()['id']}", json={"fromEmail": None},
                                   headers=h)  # fmt: skip
    assert unset.status_code == 422 and "`fromEmail`" in unset.json()["error"]["message"]


def sender_subject(content: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(content)["Subject"])))


async def test_per_app_list_check_uses_the_apps_sender(api: Api, make_server: MakeServer) -> None:
    """Before: an empty `defaultfromemail` made `check` fail with 406 and disable the server."""
    server = make_server(auth_required=True, users={"relay-login": SMTP_PASSWORD})
    h = await api.key()
    await api.client.post("/v1/apps", json={"name": "shop", "id": "shop",
                                            "testEmail": "ops@example.org"}, headers=h)  # fmt: skip
    saved = await api.client.post("/private/smtps/save", headers=h, json={
        "idapp": "shop", "host": "127.0.0.1", "port": server.port, "username": "relay-login",
        "password": SMTP_PASSWORD, "auth": True, "starttls": False, "sslTls": False,
        "defaultfromemail": ""})  # fmt: skip
    assert saved.status_code == 200, saved.text
    smtp_id = saved.json()["_id"]
    failed = await api.client.post("/private/smtps/check", json={"idsmtp": smtp_id}, headers=h)
    assert failed.status_code == 406  # no sender anywhere: the seed's own field is named
    assert "has no sender" in failed.json()["message"]
    assert "Set `defaultfromemail`" in failed.json()["hint"], failed.json()
    assert "`fromEmail`" not in failed.text

    await api.client.patch("/v1/apps/shop", json={"fromEmail": "otp@shop.example.com"}, headers=h)
    checked = await api.client.post("/private/smtps/check", json={"idsmtp": smtp_id}, headers=h)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "A" and checked.json()["defaultfromemail"] == ""
    assert server.messages[-1].mail_from == "otp@shop.example.com"
    assert server.messages[-1].rcpt_tos == ["ops@example.org"]


async def test_privacyidea_without_sender_names_sender(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={"relay-login": SMTP_PASSWORD})
    auth = {"Authorization": (await api.key())["Authorization"].removeprefix("Bearer ")}
    params = {"identifier": "relay", "recipient": "ops@example.org", "server": "127.0.0.1",
              "port": server.port, "username": "relay-login", "password": SMTP_PASSWORD,
              "sender": "", "tls": False}  # fmt: skip
    answer = await api.client.post("/smtpserver/send_test_email", json=params, headers=auth)
    body = answer.json()  # a setting, not the mail, failed: privacyIDEA's error envelope
    assert answer.status_code == 400 and body["result"]["status"] is False, body
    assert "has no sender" in body["result"]["error"]["message"]
    assert "Set `sender`" in body["detail"]["hint"]
    assert server.messages == []
    with_login_address = params | {"username": USER}
    server_users = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    with_login_address["port"] = server_users.port
    sent = await api.client.post("/smtpserver/send_test_email", json=with_login_address,
                                 headers=auth)  # fmt: skip
    assert sent.json()["result"]["value"] is True, sent.text
    assert server_users.messages[-1].mail_from == USER  # the username, an address


async def test_a_special_use_sender_is_refused_with_the_rule_and_the_switch(api: Api) -> None:
    """A newcomer's `otp@shop.example` (a reserved test domain): the refusal names the domain
    rule and the API's own switch, in both the native API and the per-app list, never a bare
    "Invalid config." or the library's config-file advice."""
    h = await api.key()
    app = (await api.client.post("/v1/apps", json={"name": "Shop"}, headers=h)).json()["id"]
    native = await api.client.post(
        f"/v1/apps/{app}/servers", headers=h,
        json=definition(2525, fromEmail="otp@shop.example"),
    )  # fmt: skip
    listed = await api.client.post("/private/smtps/save", headers=h, json={
        "idapp": app, "host": "smtp.example.com", "port": 587, "username": "otp",
        "password": "secret", "auth": True, "starttls": True, "sslTls": False,
        "defaultfromemail": "otp@shop.example", "status": "A",
    })  # fmt: skip
    for answer, message in ((native, native.json()["error"]["message"]),
                            (listed, listed.json()["message"])):  # fmt: skip
        assert 400 <= answer.status_code < 500, answer.text
        assert "shop.example" in message and "special-use" in message, message
        assert "allowSpecialUseDomains: true" not in answer.text  # the library's config advice
    assert "allowSpecialUseDomains" in native.json()["error"]["hint"]
    assert (await api.client.get(f"/v1/apps/{app}/servers", headers=h)).json() == []
