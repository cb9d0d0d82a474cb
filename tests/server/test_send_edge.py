"""Sends are checked before they are answered (issue 23, item 1): a value the template shows
but the payload lacks, a recipient the library would refuse, an unknown usage type — each is
refused before anything is sent or queued, with the same answer on the send route and on its
short path (server/fast_send.py), on SQLite and PostgreSQL, against a real aiosmtpd server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD, SMTP_USER, definition
from smtp_servers import MakeServer, TestServer

from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.store import CLI_ACTOR, SCOPES, Service

TO = "user@example.org"


@dataclass
class Paths:
    fast: httpx.AsyncClient
    full: httpx.AsyncClient
    server: TestServer
    headers: dict[str, str]
    url: str

    async def send(self, body: dict[str, Any]) -> httpx.Response:
        """POST on both paths; the answers must be the same but for per-message ids."""
        fast = await self.fast.post(self.url, json=body, headers=self.headers)
        full = await self.full.post(self.url, json=body, headers=self.headers)
        assert fast.status_code == full.status_code, (fast.text, full.text)
        assert _stable(fast.json()) == _stable(full.json())
        return fast


def _stable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("messageId", "response", "id")}


def _client(service: Service, *, short_path: bool) -> httpx.AsyncClient:
    app = create_app(Settings(), service=service)
    if not short_path:
        vars(app).pop("build_middleware_stack")  # FastAPI's own stack, nothing in front
        install_admin_routers(app)  # nothing in front installs them on first use
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def paths(service: Service, make_server: MakeServer) -> AsyncIterator[Paths]:
    server = make_server(auth_required=True, users={SMTP_USER: SMTP_PASSWORD})
    _, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    headers = {"Authorization": f"Bearer {raw}"}
    async with (
        _client(service, short_path=True) as fast,
        _client(service, short_path=False) as full,
    ):
        app_id = (await full.post("/v1/apps", json={"name": "shop"}, headers=headers)).json()["id"]
        await full.post(f"/v1/apps/{app_id}/servers", json=definition(server.port), headers=headers)
        yield Paths(fast, full, server, headers, f"/v1/apps/{app_id}/messages")


REFUSED = [
    pytest.param({"usageType": "SignIn"}, 422, "template_error", "`payload.code`", id="no-code"),
    pytest.param(
        {"usageType": "SignIn", "payload": {"Code": "123456"}}, 422, "template_error",
        "the payload has `Code`: names are case-sensitive", id="Code",
    ),
    pytest.param(
        {"usageType": "SignIn", "payload": {"otp": "123456"}}, 422, "template_error",
        "the payload has `otp`", id="otp",
    ),
    pytest.param(
        {"usageType": "ForgotPassword", "payload": {"code": None}}, 422, "template_error",
        "`payload.code`", id="null-code",
    ),
    pytest.param(
        {"usageType": "MfaVerification", "payload": {"code": "  "}}, 422, "template_error",
        "`payload.code`", id="blank-code",
    ),
    pytest.param(
        {"usageType": "OrganizationInvitation", "payload": {"code": "1"}}, 422,
        "template_error", "`payload.link`", id="invitation-without-link",
    ),
    pytest.param(
        {"usageType": "OrganizationInvitation", "payload": {"link": "javascript:alert(1)"}},
        422, "template_error", "javascript: URL", id="unsafe-link",
    ),
    pytest.param(
        {"usageType": "Regsiter", "payload": {"code": "1"}}, 422, "template_not_found",
        "did you mean 'Register'?", id="misspelt-usage-type",
    ),
    pytest.param(
        {"usageType": "PasswordlessMagic", "payload": {"code": "1"}}, 422,
        "template_not_found", "for the generic mail, ask for Generic", id="custom-no-template",
    ),
    pytest.param(
        {"to": "not-an-email", "usageType": "SignIn", "payload": {"code": "1"}}, 400,
        "invalid_recipient", "@-sign", id="not-an-address",
    ),
    pytest.param(
        {"to": "a@b", "usageType": "SignIn", "payload": {"code": "1"}}, 400,
        "invalid_recipient", "period", id="no-dot-in-domain",
    ),
    pytest.param(
        {"to": "a@example.org\r\nBcc: b@example.org", "usageType": "SignIn",
         "payload": {"code": "1"}}, 400, "invalid_recipient", "line break", id="crlf",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "code", "says"), REFUSED)
async def test_refused_before_sending_on_both_paths(
    paths: Paths, body: dict[str, Any], status: int, code: str, says: str
) -> None:
    answer = await paths.send({"to": TO} | body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and says in error["message"], error
    assert paths.server.messages == []  # nothing sent, on either path


async def test_accepted_sends_carry_their_warnings(paths: Paths) -> None:
    plain = await paths.send({"to": TO, "usageType": "SignIn", "payload": {"code": "482913"}})
    assert plain.status_code == 200 and plain.json()["warnings"] == []
    elsewhere = await paths.send(
        {"to": TO, "usageType": "SignIn", "payload": {"code": "482913"}, "locale": "xx"}
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json()["warnings"] == [
        "No SignIn template in locale 'xx': the 'en' one was used."
    ]
    invitation = await paths.send(
        {"to": TO, "usageType": "OrganizationInvitation",
         "payload": {"link": "https://shop.example.com/join?t=1"}}
    )  # fmt: skip
    assert invitation.status_code == 200 and invitation.json()["warnings"] == []
    assert len(paths.server.messages) == 6  # three sends on each path
    assert b"482913" in paths.server.messages[0].content
