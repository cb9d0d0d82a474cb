"""Errors in the API's terms (issue 23, item 2): every real failure (tests/failure_cases.py)
walked through every API's error format — native, per-app list, app integrations, portal,
privacyIDEA — with a message and a hint chosen by cause, in that API's field names, and no
library config key anywhere; then the same over HTTP where an API checks or test-sends."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
import trustme
from api_client import Api
from failure_cases import CASES, Case, error_of, failing
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, ScriptedServer, smtp_dialogue

from smtp_connector.errors import Cause
from smtp_connector.server.dialects import app_integrations, portal_settings, privacyidea, smtps
from smtp_connector.server.errors import connector_failure, native_format
from smtp_connector.store.hints import NATIVE

DIALECTS = {
    "native": (NATIVE, native_format),
    "smtps": (smtps.TERMS, smtps.error_response),
    "app_integrations": (app_integrations.TERMS, app_integrations.error_envelope),
    "portal": (portal_settings.TERMS, portal_settings.error_wrapper),
    "privacyidea": (privacyidea.TERMS, privacyidea.error_envelope),
}
# What each API calls the TLS mode and the login, as a hint must name them.
TLS_FIELDS = {"native": "`security`", "smtps": "`sslTls`", "app_integrations": "`useTls`",
              "portal": "`enableSSL`", "privacyidea": "smtps://"}  # fmt: skip
PASSWORD_FIELDS = {"native": "`password`", "smtps": "`password`",
                   "app_integrations": "`password`", "portal": "`credentialsUserPassword`",
                   "privacyidea": "`password`"}  # fmt: skip
LIBRARY_KEY = re.compile(
    r"`(secure|requireTLS|ignoreTLS|tls\.\w+|servername|auth\.(user|pass|type)|"
    r"(connection|greeting|socket|dns)Timeout|refusePrivateHosts|rejectUnauthorized|"
    r"defaultFromEmail|maxPayloadBytes|maxOutputBytes)(:[^`]*)?`"
    r"|\bauth\.(user|pass)\b|\brequireTLS\b|\bignoreTLS\b|\brejectUnauthorized\b|\bsecure: "
)


def library_keys(text: str, dialect: str) -> list[str]:
    found = [m.group(0) for m in LIBRARY_KEY.finditer(text)]
    if dialect != "native":  # each dialect names the sender its own way
        found += re.findall(r"`fromEmail`", text)
    if dialect != "privacyidea":  # privacyIDEA's own switch is called `tls`
        found += re.findall(r"`tls`", text)
    return found


@pytest.fixture(scope="module")
def errors() -> dict[Cause, Any]:
    return {}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.cause.value)
async def test_every_cause_through_every_dialect(
    case: Case, make_server: MakeServer, tls_ca: trustme.CA
) -> None:
    error = await error_of(case, make_server, tls_ca)
    for dialect, (terms, formatter) in DIALECTS.items():
        response = formatter(None, connector_failure(error, terms))  # type: ignore[arg-type]
        text = bytes(response.body).decode()
        assert library_keys(text, dialect) == [], (dialect, text)
        assert case.cause.value in text  # the cause travels with the error
        hint = _hint(json.loads(text))
        assert hint, (dialect, text)
        _assert_by_cause(case.cause, dialect, hint)


def _hint(body: dict[str, Any]) -> str:
    """The hint wherever the dialect's envelope has room for it."""
    for path in (("error", "hint"), ("hint",), ("errors", 0, "hint"), ("detail", "hint")):
        value: Any = body
        try:
            for step in path:
                value = value[step]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, str):
            return value
    return ""


def _assert_by_cause(cause: Cause, dialect: str, hint: str) -> None:
    """The advice follows the cause, not the code: a certificate problem is not "match the TLS
    setting to the port", a server without AUTH is not "check the password"."""
    if cause in (Cause.CERTIFICATE_UNTRUSTED, Cause.CERTIFICATE_EXPIRED, Cause.HOSTNAME_MISMATCH):
        assert TLS_FIELDS[dialect] not in hint and "port" not in hint.lower(), hint
    if cause is Cause.CERTIFICATE_UNTRUSTED:
        assert "`tlsCa`" in hint  # the native API's (the only one with a CA setting)
    if cause in (Cause.TLS_PORT_MISMATCH, Cause.IMPLICIT_TLS_REQUIRED, Cause.STARTTLS_MISSING):
        assert TLS_FIELDS[dialect] in hint, hint
    if cause is Cause.AUTH_NOT_OFFERED:
        assert PASSWORD_FIELDS[dialect] not in hint, hint
    if cause is Cause.AUTH_REFUSED:
        assert PASSWORD_FIELDS[dialect] in hint, hint
    if cause in (Cause.DNS_FAILURE, Cause.CONNECTION_REFUSED):
        host = "`server`" if dialect == "privacyidea" else "`host`"
        assert host in hint, hint


# -- over HTTP: the APIs that check or test-send ------------------------------------------


async def _app(api: Api, h: dict[str, str]) -> str:
    body = {"name": "shop", "id": "shop", "testEmail": "ops@example.org",
            "fromEmail": "noreply@example.com"}  # fmt: skip
    assert (await api.client.post("/v1/apps", json=body, headers=h)).status_code == 201
    return "shop"


async def test_per_app_list_check_without_auth_says_auth_off(api: Api) -> None:
    """The per-app list's check against a relay that offers no AUTH, with a login set."""
    h = await api.key()
    server = await ScriptedServer(smtp_dialogue).start()
    try:
        await _app(api, h)
        saved = await api.client.post(
            "/private/smtps/save",
            headers=h,
            json={
                "idapp": "shop",
                "host": "127.0.0.1",
                "port": server.port,
                "username": "relay",
                "password": SMTP_PASSWORD,
                "auth": True,
                "starttls": False,
                "sslTls": False,
            },
        )
        checked = await api.client.post(
            "/private/smtps/check", json={"idsmtp": saved.json()["_id"]}, headers=h
        )
    finally:
        await server.stop()
    body = checked.json()
    assert checked.status_code == 406 and body["code"] == 3 and body["cause"] == "auth_not_offered"
    assert "set `auth` to false" in body["hint"] and "`password`" not in body["hint"]
    assert library_keys(checked.text, "smtps") == []


async def test_privacyidea_test_mail_on_a_plain_port_says_smtps(
    api: Api, make_server: MakeServer
) -> None:
    server = make_server()  # plain SMTP, asked for TLS from the first byte
    auth = {"Authorization": (await api.key())["Authorization"].removeprefix("Bearer ")}
    params = {
        "identifier": "relay",
        "recipient": "ops@example.org",
        "server": f"smtps://127.0.0.1:{server.port}",
        "sender": "otp@example.com",
    }
    answer = await api.client.post("/smtpserver/send_test_email", json=params, headers=auth)
    body = answer.json()
    assert body["result"]["value"] is False, body
    error = body["detail"]["error"]
    assert error["cause"] == "tls_port_mismatch"
    assert "without smtps://" in error["hint"] and "`tls`" in error["hint"]
    assert library_keys(answer.text, "privacyidea") == []


async def test_native_test_send_to_a_silent_server(api: Api, make_server: MakeServer) -> None:
    h = await api.key()
    await _app(api, h)
    silent = ScriptedServer(lambda reader, writer: __import__("asyncio").sleep(30))
    await silent.start()
    try:
        made = await api.client.post("/v1/apps/shop/servers", headers=h, json={
            "host": "127.0.0.1", "port": silent.port, "security": "none", "auth": False,
            "timeout": 1})  # fmt: skip
        tested = await api.client.post(
            f"/v1/apps/shop/servers/{made.json()['id']}/test",
            json={"to": "a@example.org"},
            headers=h,
        )
    finally:
        await silent.stop()
    error = tested.json()["error"]
    assert tested.status_code == 504 and error["cause"] == "greeting_timeout", error
    assert "no SMTP greeting" in error["message"] and "`port`" in error["hint"]
    assert library_keys(tested.text, "native") == []


async def test_failures_in_lastError_are_in_native_terms(
    api: Api, make_server: MakeServer, tls_ca: trustme.CA
) -> None:
    h = await api.key()
    await _app(api, h)
    case = next(c for c in CASES if c.cause is Cause.TLS_PORT_MISMATCH)
    async with failing(case, make_server, tls_ca) as config:
        made = await api.client.post(
            "/v1/apps/shop/servers",
            headers=h,
            json={"host": "127.0.0.1", "port": config["port"], "security": "tls", "auth": False},
        )
        checked = await api.client.post(
            f"/v1/apps/shop/servers/{made.json()['id']}/check", headers=h
        )
    assert checked.status_code == 406
    last = checked.json()["definition"]["lastError"]
    assert last["cause"] == "tls_port_mismatch" and 'set `security` to "starttls"' in last["hint"]
    assert checked.json()["error"]["hint"] == last["hint"]
    assert library_keys(checked.text, "native") == []


async def test_failover_lists_each_server_in_native_terms(
    api: Api, make_server: MakeServer
) -> None:
    """Every definition failing: `all_servers_failed`, each server's failure explained."""
    h = await api.key()
    await _app(api, h)
    untrusted = make_server(mode="implicit")
    closed = ScriptedServer(smtp_dialogue)
    await closed.start()
    closed_port = closed.port
    await closed.stop()  # nothing listens there any more
    servers = "/v1/apps/shop/servers"
    for priority, (port, security) in enumerate(((untrusted.port, "tls"), (closed_port, "none"))):
        made = await api.client.post(servers, headers=h, json={
            "host": "127.0.0.1", "port": port, "security": security, "auth": False,
            "priority": priority})  # fmt: skip
        assert made.status_code == 201, made.text
    sent = await api.client.post("/v1/apps/shop/messages", headers=h, json={
        "to": "ana@example.org", "usageType": "SignIn", "payload": {"code": "1"}})  # fmt: skip
    error = sent.json()["error"]
    assert sent.status_code == 502 and error["code"] == "all_servers_failed", error
    assert "All 2 SMTP servers failed." in error["message"]
    assert "is not trusted" in error["message"] and "refused the connection" in error["message"]
    assert "`tlsCa`" in error["hint"]
    assert library_keys(sent.text, "native") == []
