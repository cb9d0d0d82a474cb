"""The send route's short path (server/fast_send.py) answers exactly like the FastAPI route:
each request below goes once through the app as built (short path in front) and once
through the same app without it, against the same store and a real aiosmtpd server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD, SMTP_USER, definition
from smtp_servers import MakeServer, TestServer, dead_port
from sqlalchemy.exc import OperationalError

from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.store import CLI_ACTOR, SCOPES, Service

VARYING = {"messageId", "response", "id"}  # differ per message, not per path


@dataclass
class Pair:
    fast: httpx.AsyncClient
    full: httpx.AsyncClient
    service: Service
    server: TestServer
    headers: dict[str, str]
    app_id: str = ""

    async def both(self, path: str, **request: object) -> tuple[httpx.Response, httpx.Response]:
        fast = await self.fast.post(path, **request)  # type: ignore[arg-type]
        full = await self.full.post(path, **request)  # type: ignore[arg-type]
        return fast, full


def client(service: Service, *, short_path: bool) -> httpx.AsyncClient:
    app = create_app(Settings(auth_failure_limit=3, max_body_bytes=4096), service=service)
    if not short_path:
        vars(app).pop("build_middleware_stack")  # FastAPI's own stack, nothing in front
        install_admin_routers(app)  # nothing in front installs them on first use
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def pair(service: Service, make_server: MakeServer) -> AsyncIterator[Pair]:
    server = make_server(auth_required=True, users={SMTP_USER: SMTP_PASSWORD})
    _, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    headers = {"Authorization": f"Bearer {raw}"}
    async with client(service, short_path=True) as fast, client(service, short_path=False) as full:
        pair = Pair(fast, full, service, server, headers)
        created = await full.post("/v1/apps", json={"name": "shop"}, headers=headers)
        pair.app_id = created.json()["id"]
        yield pair


def same(fast: httpx.Response, full: httpx.Response) -> dict[str, object]:
    assert fast.status_code == full.status_code, (fast.text, full.text)
    assert fast.headers["content-type"] == full.headers["content-type"]
    fast_body, full_body = fast.json(), full.json()
    if isinstance(fast_body, dict) and "error" not in fast_body:
        fast_body = {k: v for k, v in fast_body.items() if k not in VARYING}
        full_body = {k: v for k, v in full_body.items() if k not in VARYING}
    assert fast_body == full_body
    return dict(fast.json())


async def test_sent_answers_match(pair: Pair) -> None:
    path = f"/v1/apps/{pair.app_id}/messages"
    servers = f"/v1/apps/{pair.app_id}/servers"
    no_server = await pair.both(path, json={"to": "a@example.org"}, headers=pair.headers)
    assert no_server[0].status_code == 409 and same(*no_server)["error"]
    added = await pair.full.post(servers, json=definition(pair.server.port), headers=pair.headers)
    body = {"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}
    sent = same(*await pair.both(path, json=body, headers=pair.headers))
    assert sent["status"] == "sent" and sent["definitionId"] == added.json()["id"]
    assert len(pair.server.messages) == 2 and b"123456" in pair.server.messages[0].content
    charset = pair.headers | {"Content-Type": "application/json; charset=utf-8"}
    same(*await pair.both(path, content=json.dumps(body).encode(), headers=charset))
    assert len(pair.server.messages) == 4


async def test_refusals_match_and_are_counted_once(pair: Pair) -> None:
    path = f"/v1/apps/{pair.app_id}/messages"
    body = {"to": "a@example.org", "payload": {"code": "1"}}
    await pair.full.post(f"/v1/apps/{pair.app_id}/servers", json=definition(pair.server.port),
                         headers=pair.headers)  # fmt: skip
    _, write_only = await pair.service.keys.create(CLI_ACTOR, ["smtpserver_write"])
    json_h = pair.headers | {"Content-Type": "application/json"}
    cases: list[dict[str, object]] = [
        {"json": body, "headers": {"Authorization": f"Bearer {write_only}"}},  # scope: 403
        {"url": "/v1/apps/nope/messages", "json": body, "headers": pair.headers},  # 404
        {"json": {"to": "not an address"}, "headers": pair.headers},  # 400
        {"json": {"to": 5}, "headers": pair.headers},  # 422, names the field
        {"json": body | {"typo": 1}, "headers": pair.headers},  # 422, unknown field
        {"json": [1, 2], "headers": pair.headers},  # 422
        {"content": b'{"to": ', "headers": json_h},  # 422, malformed JSON
        {"content": b"to=a@example.org", "headers": pair.headers | {
            "Content-Type": "application/x-www-form-urlencoded"}},  # 422
        {"json": body | {"payload": {"code": "y" * 5000}}, "headers": pair.headers},  # 413
        {"json": body, "headers": pair.headers | {"Idempotency-Key": "k" * 201}},  # 422
        {"content": b'{"to": "a@example.org", "payload": {"n": NaN}}', "headers": json_h},  # 400
        {"content": b'{"to": "a@example.org\\ud800"}', "headers": json_h},  # 400, the edge
        {"content": b'{"to": "a@example.org", "p": {"\\u0007": 1}}', "headers": json_h},  # 400
        {"url": f"{path}?note=%00", "json": body, "headers": pair.headers},  # 400, the query
    ]  # fmt: skip
    for case in cases:
        url = str(case.pop("url", path))
        fast, full = await pair.both(url, **case)
        assert fast.status_code >= 400
        same(fast, full)
    assert pair.server.messages == []
    # Bad keys: each path records its own failures, three per client, then both answer 429.
    for _ in range(3):
        same(*await pair.both(path, json=body, headers={"Authorization": "Bearer sck_bad_x"}))
    fast, full = await pair.both(path, json=body, headers={"Authorization": "Bearer sck_bad_x"})
    assert fast.status_code == full.status_code == 429


async def test_a_failing_server_answers_like_the_route(pair: Pair) -> None:
    await pair.full.post(f"/v1/apps/{pair.app_id}/servers", json=definition(dead_port()),
                         headers=pair.headers)  # fmt: skip
    fast, full = await pair.both(f"/v1/apps/{pair.app_id}/messages",
                                 json={"to": "a@example.org", "payload": {"code": "1"}},
                                 headers=pair.headers)  # fmt: skip
    assert same(fast, full)["error"]["code"] == "connection_failed"  # type: ignore[index]
    assert fast.status_code == 502


async def test_a_body_too_deep_to_parse_answers_like_the_route(pair: Pair) -> None:
    """JSON nested past Python's recursion limit is not a `ValueError`: the short path must
    still leave it to the route (400), not crash outside every exception handler."""
    json_h = pair.headers | {"Content-Type": "application/json"}
    fast, full = await pair.both(f"/v1/apps/{pair.app_id}/messages", content=b"[" * 3000,
                                 headers=json_h)  # fmt: skip
    assert full.status_code == 400
    same(fast, full)


async def test_a_database_error_while_authenticating_answers_like_the_route(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key not in the 2 s cache is looked up in the database; if that fails, the route's
    handler answers (503 with Retry-After), not a bare 500 from outside the app."""

    async def unavailable(raw: str) -> None:
        raise OperationalError("SELECT api_keys", {}, Exception("database is locked"))

    monkeypatch.setattr(pair.service.keys, "authenticate", unavailable)
    fast, full = await pair.both(f"/v1/apps/{pair.app_id}/messages",
                                 json={"to": "a@example.org"}, headers=pair.headers)  # fmt: skip
    assert full.status_code == 503
    same(fast, full)
    assert fast.headers["retry-after"] == full.headers["retry-after"] == "5"


async def test_repeated_headers_are_read_as_the_route_reads_them(pair: Pair) -> None:
    """Starlette reads the first of a repeated header: so must the short path (a key without
    the send scope first, a good one second: the route refuses, so must the short path)."""
    path = f"/v1/apps/{pair.app_id}/messages"
    await pair.full.post(f"/v1/apps/{pair.app_id}/servers", json=definition(pair.server.port),
                         headers=pair.headers)  # fmt: skip
    _, write_only = await pair.service.keys.create(CLI_ACTOR, ["smtpserver_write"])
    headers = [("Authorization", f"Bearer {write_only}"), ("Authorization", pair.headers[
        "Authorization"]), ("Content-Type", "application/json")]  # fmt: skip
    body = json.dumps({"to": "a@example.org"}).encode()
    fast, full = await pair.both(path, content=body, headers=headers)
    assert full.status_code == 403
    same(fast, full)
    assert pair.server.messages == []
