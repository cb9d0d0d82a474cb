"""The routes the admin page needs, in-process (SQLite and PostgreSQL): `GET /v1/me`, the
read-only preset and template routes, a test mail through one stored definition, and the page
and its static files with their security headers."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, free_port

from smtp_connector.store import CLI_ACTOR

USER = "mailer@example.com"


async def make_definition(api: Api, headers: dict[str, str], port: int) -> tuple[str, str]:
    app = await api.client.post(
        "/v1/apps", json={"name": "shop", "testEmail": "ops@example.org"}, headers=headers
    )
    app_id = app.json()["id"]
    created = await api.client.post(
        f"/v1/apps/{app_id}/servers",
        json={"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
              "password": SMTP_PASSWORD, "fromEmail": "noreply@example.com", "timeout": 5},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return app_id, created.json()["id"]


async def test_me_tells_scopes_and_app_without_the_key(api: Api) -> None:
    admin = await api.key()
    reader = await api.key("smtpserver_read")
    assert (await api.client.get("/v1/me")).status_code == 401
    me = await api.client.get("/v1/me", headers=admin)
    assert me.json()["readOnly"] is False
    assert me.json()["scopes"] == ["smtpserver_read", "smtpserver_send", "smtpserver_write"]
    assert me.json()["canSend"] is True and me.json()["canWrite"] is True
    assert admin["Authorization"].split()[1] not in me.text
    app = (await api.client.post("/v1/apps", json={"name": "a"}, headers=admin)).json()
    bound = await api.key("smtpserver_read", app=app["id"])
    body = (await api.client.get("/v1/me", headers=bound)).json()
    assert body["readOnly"] is True and body["appId"] == app["id"]
    assert body["canSend"] is False and body["canWrite"] is False
    assert (await api.client.get("/v1/me", headers=reader)).json()["appId"] is None
    sender = (await api.client.get("/v1/me", headers=await api.key("smtpserver_send"))).json()
    assert sender["readOnly"] is False and sender["canSend"] and not sender["canWrite"]


async def test_presets_fill_host_port_and_security(api: Api) -> None:
    reader = await api.key("smtpserver_read")
    listed = await api.client.get("/v1/presets", headers=reader)
    assert listed.status_code == 200
    by_name = {p["name"]: p for p in listed.json()}
    assert {"gmail", "sendgrid", "aliyun"} <= set(by_name)
    gmail, sendgrid, aliyun = by_name["gmail"], by_name["sendgrid"], by_name["aliyun"]
    assert (gmail["host"], gmail["port"], gmail["security"]) == ("smtp.gmail.com", 465, "tls")
    assert (sendgrid["host"], sendgrid["port"], sendgrid["security"]) == (
        "smtp.sendgrid.net", 587, "starttls")  # fmt: skip
    assert sendgrid["username"] == "apikey" and gmail["username"] is None
    assert aliyun["region"] == "cn-hangzhou" and aliyun["host"] == "smtpdm.aliyun.com"
    singapore = next(r for r in aliyun["regions"] if r["id"] == "ap-southeast-1")
    assert singapore["host"] == "smtpdm-ap-southeast-1.aliyuncs.com"
    assert by_name["outlook"]["oauthOnly"] is True


async def test_preset_guard_rails_for_typed_values(api: Api) -> None:
    h = await api.key("smtpserver_read")

    async def found(name: str, **params: str) -> set[tuple[str, str]]:
        response = await api.client.get(f"/v1/presets/{name}/warnings", params=params, headers=h)
        assert response.status_code == 200, response.text
        return {(w["code"], w["severity"]) for w in response.json()["warnings"]}

    assert ("username_convention", "error") in await found("sendgrid", username="bob")
    assert not {c for c, _ in await found("sendgrid", username="apikey")} & {"username_convention"}
    aliyun = await found("aliyun", username="a@mail.example.com", fromEmail="b@example.com")
    assert ("from_must_equal_user", "error") in aliyun
    assert ("from_must_equal_user", "warning") not in aliyun  # the quirk says it in general
    assert await found("aliyun", username="a@mail.example.com") == {
        ("from_must_equal_user", "warning"), ("ecs_blocks_port_25", "warning"),  # the quirks
    }  # fmt: skip
    gmail = await found("gmail", username="me@gmail.com", fromEmail="news@shop.example")
    assert ("from_rewritten", "warning") in gmail
    assert ("tls_mismatch", "error") in await found("gmail", port="587", security="tls")
    assert ("port_25_blocked", "warning") in await found("sendgrid", port="25", username="apikey")
    missing = await api.client.get("/v1/presets/nope/warnings", headers=h)
    assert missing.status_code == 404 and "gmail" in missing.json()["error"]["message"]


async def test_template_preview_in_two_locales(api: Api) -> None:
    h = await api.key("smtpserver_read")
    options = (await api.client.get("/v1/templates", headers=h)).json()
    assert {"en", "es", "de"} <= set(options["locales"]) and "SignIn" in options["usageTypes"]
    es = (await api.client.get("/v1/templates/preview",
                               params={"usageType": "SignIn", "locale": "es", "code": "482913"},
                               headers=h)).json()  # fmt: skip
    de = (await api.client.get("/v1/templates/preview",
                               params={"usageType": "SignIn", "locale": "de", "code": "482913"},
                               headers=h)).json()  # fmt: skip
    assert es["locale"] == "es" and "código" in es["subject"]
    assert de["locale"] == "de" and "Anmeldecode" in de["subject"]
    for rendered in (es, de):
        assert "482913" in rendered["html"] and "482913" in rendered["text"]
    tricky = await api.client.get(
        "/v1/templates/preview", params={"code": "<b>1</b>", "appName": "Shop & Co"}, headers=h
    )
    html = tricky.json()["html"]
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html
    assert "Shop &amp; Co" in html
    invite = await api.client.get(
        "/v1/templates/preview", params={"usageType": "OrganizationInvitation"}, headers=h
    )
    assert "https://example.com/invitation/accept" in invite.json()["text"]
    bad = await api.client.get("/v1/templates/preview", params={"locale": "e s"}, headers=h)
    assert bad.status_code == 422
    assert (await api.client.get("/v1/templates")).status_code == 401


async def test_test_email_through_one_definition(api: Api, make_server: MakeServer) -> None:
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    admin = await api.key()
    app_id, server_id = await make_definition(api, admin, live.port)
    url = f"/v1/apps/{app_id}/servers/{server_id}/test"
    sent = await api.client.post(url, json={"to": "someone@example.org"}, headers=admin)
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is True and sent.json()["server"] == f"127.0.0.1:{live.port}"
    assert live.messages[-1].rcpt_tos == ["someone@example.org"]
    assert live.messages[-1].auth_login == USER.encode()  # the stored password was used
    assert SMTP_PASSWORD not in sent.text

    reader = await api.key("smtpserver_read")
    refused = await api.client.post(url, json={"to": "x@example.org"}, headers=reader)
    assert refused.status_code == 403
    unknown = await api.client.post(
        f"/v1/apps/{app_id}/servers/nope/test", json={"to": "x@example.org"}, headers=admin
    )
    assert unknown.status_code == 404
    assert len(live.messages) == 1


async def test_failed_test_email_changes_nothing(api: Api) -> None:
    admin = await api.key()
    app_id, server_id = await make_definition(api, admin, free_port())
    url = f"/v1/apps/{app_id}/servers/{server_id}/test"
    failed = await api.client.post(url, json={"to": "someone@example.org"}, headers=admin)
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["code"] == "connection_failed"
    stored = (await api.client.get(f"/v1/apps/{app_id}/servers/{server_id}", headers=admin)).json()
    assert stored["status"] == "active" and stored["numErrors"] == 0  # unlike check
    bad = await api.client.post(url, json={"to": "not an address"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_recipient"
    entries = await api.service.audit.entries(CLI_ACTOR, app_id=app_id)
    tests = [e for e in entries if e.action == "definition.test_send"]
    assert [e.success for e in tests] == [False, False]
    assert tests[-1].details["code"] == "connection_failed"
    assert SMTP_PASSWORD not in repr(entries)


async def test_page_and_static_files(api: Api) -> None:
    page = await api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert 'src="/static/admin.js' in page.text and "<script>" not in page.text
    assert 'sandbox=""' in page.text  # the preview iframe runs no script
    assert 'data-refresh-seconds="10"' in page.text
    assert 'data-refresh-seconds="2"' in (await api.client.get("/?refresh=1")).text
    script = await api.client.get("/static/admin.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "sessionStorage" in (await api.client.get("/static/api.js")).text
    style = await api.client.get("/static/admin.css")
    assert style.headers["content-type"].startswith("text/css")
    for missing in ("/static/nope.js", "/static/..%2Fpages.py", "/static/pages.py"):
        assert (await api.client.get(missing)).status_code == 404
    assert "/" not in (await api.client.get("/openapi.json")).json()["paths"]
