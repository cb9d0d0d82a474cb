"""The per-app SMTP list (seed 000) in-process, on SQLite and PostgreSQL: save/findByApp/
findById/remove/check with the seed's field names as JSON, form and query, its 406 error codes,
write-only passwords and Bearer auth, against real aiosmtpd servers."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api, client_for
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, free_port
from sqlalchemy import select

from smtp_connector.store import CENSORED, CLI_ACTOR, Service
from smtp_connector.store.tables import DefinitionRow

USER = "mailer@example.com"
FIELDS = {
    "_id", "idapp", "priority", "host", "port", "username", "password", "auth", "starttls",
    "sslTls", "debug", "defaultfromemail", "defaultfromname", "numerrors", "created",
    "modified", "status",
}  # fmt: skip


def seed_smtp(idapp: str, port: int, **fields: object) -> dict[str, object]:
    """A save as the seed's console sends it (every field, strings where a form has them)."""
    return {"idapp": idapp, "priority": 10, "host": "127.0.0.1", "port": port,
            "username": USER, "password": SMTP_PASSWORD, "auth": True, "starttls": False,
            "sslTls": False, "debug": False, "defaultfromemail": "otp@example.com",
            "defaultfromname": "Example OTP", "status": "A"} | fields  # fmt: skip


async def make_app(api: Api, h: dict[str, str], app_id: str = "shop") -> str:
    body = {"name": app_id, "id": app_id, "testEmail": "ops@example.org"}
    assert (await api.client.post("/v1/apps", json=body, headers=h)).status_code == 201
    return app_id


async def stored_password(service: Service, smtp_id: str) -> str | None:
    async with service.database.transaction() as session:
        row = await session.scalar(select(DefinitionRow).where(DefinitionRow.id == smtp_id))
        assert row is not None
        return service.box.decrypt(row.password_enc) if row.password_enc else None


async def test_round_trip(api: Api, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    h = await api.key()
    app = await make_app(api, h)
    responses = []
    first = await api.client.post(
        "/private/smtps/save", json=seed_smtp(app, server.port), headers=h
    )
    assert first.status_code == 200, first.text
    smtp = first.json()
    assert set(smtp) == FIELDS and smtp["password"] == CENSORED
    assert (smtp["idapp"], smtp["priority"], smtp["status"], smtp["numerrors"]) == (app, 10, "A", 0)
    assert (smtp["starttls"], smtp["sslTls"], smtp["auth"]) == (False, False, True)
    # A form save (strings for numbers and booleans), priority left to its default.
    form = {"idapp": app, "host": "127.0.0.1", "port": str(free_port()), "auth": "false",
            "starttls": "0", "defaultfromemail": "backup@example.com", "priority": "5"}  # fmt: skip
    second = await api.client.post("/private/smtps/save", data=form, headers=h)
    assert second.status_code == 200, second.text
    no_priority = {k: v for k, v in form.items() if k != "priority"}
    defaulted = await api.client.post("/private/smtps/save", data=no_priority, headers=h)
    assert defaulted.json()["priority"] == 10
    responses += [first, second, defaulted]

    listed = await api.client.get("/private/smtps/findByApp", params={"idapp": app}, headers=h)
    ids = [s["_id"] for s in listed.json()]
    assert ids == [second.json()["_id"], smtp["_id"], defaulted.json()["_id"]]  # by priority
    one = await api.client.get("/private/smtps/findById", params={"idsmtp": smtp["_id"]}, headers=h)
    assert one.json() == smtp
    responses += [listed, one]

    # The console sends back what it read (censored password, read-only fields): kept.
    edited = one.json() | {"idsmtp": smtp["_id"], "defaultfromname": "Shop", "debug": True}
    saved = await api.client.post("/private/smtps/save", json=edited, headers=h)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["defaultfromname"], saved.json()["debug"]) == ("Shop", True)
    assert await stored_password(api.service, smtp["_id"]) == SMTP_PASSWORD
    responses.append(saved)

    checked = await api.client.post("/private/smtps/check", json={"idsmtp": smtp["_id"]}, headers=h)
    assert checked.status_code == 200 and checked.json()["status"] == "A"
    (received,) = server.messages
    assert received.rcpt_tos == ["ops@example.org"] and received.auth_login == USER.encode()
    assert received.mail_from == "otp@example.com"
    responses.append(checked)

    removed = await api.client.post(
        "/private/smtps/remove", data={"idsmtp": smtp["_id"]}, headers=h
    )
    assert removed.status_code == 200 and removed.json()["_id"] == smtp["_id"]
    gone = await api.client.get(
        "/private/smtps/findById", params={"idsmtp": smtp["_id"]}, headers=h
    )
    assert gone.status_code == 406 and gone.json()["code"] == 1
    assert gone.json()["message"] == "SMTP not found"
    for response in [*responses, removed]:
        assert SMTP_PASSWORD not in response.text


async def test_check_disables_then_reenables(api: Api, make_server: MakeServer) -> None:
    server = make_server()
    h = await api.key()
    app = await make_app(api, h)
    body = seed_smtp(app, free_port(), auth=False, username="", password="")
    smtp_id = (await api.client.post("/private/smtps/save", json=body, headers=h)).json()["_id"]

    # `idapp` is accepted as the SMTP id, as the seed's table names it.
    failed = await api.client.post("/private/smtps/check", data={"idapp": smtp_id}, headers=h)
    assert failed.status_code == 406
    error = failed.json()
    assert (error["code"], error["errorCode"]) == (3, "connection_failed")
    assert (error["smtp"]["status"], error["smtp"]["numerrors"]) == ("D", 1)

    fixed = {"idsmtp": smtp_id, "port": server.port}
    assert (await api.client.post("/private/smtps/save", json=fixed, headers=h)).status_code == 200
    ok = await api.client.post("/private/smtps/check", params={"idsmtp": smtp_id}, headers=h)
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["numerrors"]) == ("A", 1)
    assert server.messages[0].rcpt_tos == ["ops@example.org"]


async def test_not_found_codes(api: Api) -> None:
    h = await api.key()
    app = await make_app(api, h)
    no_app = await api.client.get("/private/smtps/findByApp?idapp=ghost", headers=h)
    assert no_app.status_code == 406
    assert no_app.json() == {"code": 2, "message": "App not found", "errorCode": "not_found"}
    create_in_ghost = await api.client.post(
        "/private/smtps/save", json=seed_smtp("ghost", 2525), headers=h
    )
    assert create_in_ghost.status_code == 406 and create_in_ghost.json()["code"] == 2
    for path in ("/private/smtps/remove", "/private/smtps/check"):
        missing = await api.client.post(path, json={"idsmtp": "ghost"}, headers=h)
        assert (missing.status_code, missing.json()["code"]) == (406, 1)
    edit_ghost = await api.client.post(
        "/private/smtps/save", json={"idsmtp": "ghost", "priority": 1}, headers=h
    )
    assert (edit_ghost.status_code, edit_ghost.json()["code"]) == (406, 1)
    assert (
        await api.client.get("/private/smtps/findByApp", params={"idapp": app}, headers=h)
    ).json() == []


async def test_secret_rules(api: Api) -> None:
    h = await api.key()
    app = await make_app(api, h)
    smtp = (
        await api.client.post("/private/smtps/save", json=seed_smtp(app, 2525), headers=h)
    ).json()
    moved = await api.client.post(
        "/private/smtps/save",
        json={"idsmtp": smtp["_id"], "host": "attacker.example.net", "password": CENSORED},
        headers=h,
    )
    assert moved.status_code == 400 and moved.json()["errorCode"] == "invalid_config"
    assert "`password`" in moved.json()["message"] and moved.json()["code"] == 400
    in_url = await api.client.post(
        "/private/smtps/save", params={"idsmtp": smtp["_id"], "password": "x"}, headers=h
    )
    assert in_url.status_code == 400 and "URL" in in_url.json()["message"]
    cleared = await api.client.post(
        "/private/smtps/save", json={"idsmtp": smtp["_id"], "password": ""}, headers=h
    )
    assert (
        cleared.json()["password"] == "" and await stored_password(api.service, smtp["_id"]) is None
    )


async def test_tls_switches_and_bad_input(api: Api) -> None:
    h = await api.key()
    app = await make_app(api, h)
    save = "/private/smtps/save"
    tls = (await api.client.post(save, json=seed_smtp(app, 465, sslTls=True), headers=h)).json()
    definition = await api.service.definitions.locate(CLI_ACTOR, tls["_id"])
    assert definition.security == "tls" and (tls["sslTls"], tls["starttls"]) == (True, False)
    switched = await api.client.post(
        save, json={"idsmtp": tls["_id"], "starttls": True, "port": 587, "password": "n3w"},
        headers=h,
    )  # fmt: skip
    assert (switched.json()["starttls"], switched.json()["sslTls"]) == (True, False)
    both = await api.client.post(
        save, json=seed_smtp(app, 25, starttls=True, sslTls=True), headers=h
    )
    assert both.status_code == 400 and "exclude each other" in both.json()["message"]
    disabled = await api.client.post(save, json=seed_smtp(app, 25, status="D"), headers=h)
    assert disabled.json()["status"] == "D"

    for body, named in [({"idapp": app, "port": "abc", "host": "h.example"}, "port"),
                        ({"idapp": app, "host": "h.example", "status": "X"}, "status"),
                        ({"idapp": app, "port": 25}, "host"),
                        ({"idapp": app, "host": "h.example", "defaultfromemail": "nope"},
                         "defaultfromemail")]:  # fmt: skip
        refused = await api.client.post(save, json=body, headers=h)
        assert refused.status_code == 400, refused.text
        assert f"`{named}`" in refused.json()["message"]
    not_json = await api.client.post(
        save, content=b"{oops", headers=h | {"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    no_app = await api.client.post(save, json={"host": "h.example"}, headers=h)
    assert no_app.status_code == 400 and "idapp" in no_app.json()["message"]


async def test_auth_in_the_seed_shape(service: Service) -> None:
    async with client_for(service, auth_failure_limit=3) as client:
        api = Api(client, service)
        reader = await api.key("smtpserver_read")
        await make_app(api, await api.key())
        ok = await client.get("/private/smtps/findByApp?idapp=shop", headers=reader)
        assert ok.status_code == 200
        denied = await client.post(
            "/private/smtps/save", json=seed_smtp("shop", 25), headers=reader
        )
        assert (denied.status_code, denied.json()["code"]) == (403, 403)
        assert "smtpserver_write" in denied.json()["message"]
        none = await client.get("/private/smtps/findByApp?idapp=shop")
        assert none.status_code == 401 and none.json()["errorCode"] == "unauthorized"
        bad = {"Authorization": "Bearer sck_not_a_key"}
        for _ in range(2):
            assert (
                await client.get("/private/smtps/findById?idsmtp=x", headers=bad)
            ).status_code == 403
        blocked = await client.get("/private/smtps/findById?idsmtp=x", headers=bad)
        assert blocked.status_code == 429 and blocked.json()["code"] == 429
        assert blocked.json()["errorCode"] == "rate_limited" and "Retry-After" in blocked.headers


async def test_bound_key_sees_only_its_app(api: Api) -> None:
    admin = await api.key()
    await make_app(api, admin, "mine")
    await make_app(api, admin, "other")
    theirs = await api.client.post(
        "/private/smtps/save", json=seed_smtp("other", 25), headers=admin
    )
    bound = await api.key(app="mine")
    listed = await api.client.get("/private/smtps/findByApp?idapp=other", headers=bound)
    assert listed.status_code == 403
    probe = await api.client.get(
        "/private/smtps/findById", params={"idsmtp": theirs.json()["_id"]}, headers=bound
    )
    assert (probe.status_code, probe.json()["code"]) == (406, 1)  # like an unknown id
