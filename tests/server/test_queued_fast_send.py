"""A queued send (a definition with `enqueue`) answers alike through the short path
(server/fast_send.py) and the FastAPI route, and stores the row the request asked for: each
request below goes once through the app as built and once through the same app without the
short path, against one embedded SQLite outbox (no worker: the rows stay as stored). The
attacker's requests (another app's key, a key without the send scope, a huge, malformed or
mistyped body) and the newcomer's (no `to`, an unknown usage type) are refused alike and
store nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SECRET_KEY, definition, loopback_policy

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.store import CLI_ACTOR, SCOPES, MessageRequest, Service
from smtp_connector.store.idempotency import request_fingerprint

# The row's columns that differ per message or per moment; everything else must be equal.
MOMENTS = {"id", "next_attempt_at", "created", "updated", "expires_at", "idempotency_key"}
LOGTO = {"to": "ana@example.org", "usageType": "Register", "payload": {
    "code": "482913", "application": {"name": "Shop"}, "locale": "es"}}  # fmt: skip


@dataclass
class Pair:
    fast: httpx.AsyncClient
    full: httpx.AsyncClient
    database: Path
    service: Service
    headers: dict[str, str]
    app_id: str
    other_app: str

    async def both(self, path: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
        return await self.fast.post(path, **request), await self.full.post(path, **request)


def client(service: Service, *, short_path: bool) -> httpx.AsyncClient:
    app = create_app(Settings(auth_failure_limit=50, max_body_bytes=4096), service=service)
    if not short_path:
        vars(app).pop("build_middleware_stack")  # FastAPI's own stack, nothing in front
        install_admin_routers(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    database = tmp_path / "queue.db"
    url = f"sqlite:///{database}"
    queue = Queue(url, QueueOptions())
    service = await Service.open(url, SECRET_KEY, migrate=True, sender=queue.sender_factory,
                                 policy=loopback_policy())  # fmt: skip
    await queue.start(worker=False)
    _, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    headers = {"Authorization": f"Bearer {raw}"}
    try:
        async with (
            client(service, short_path=True) as fast,
            client(service, short_path=False) as full,
        ):
            apps = []
            for name in ("shop", "other"):
                created = await full.post("/v1/apps", json={"name": name}, headers=headers)
                app_id = created.json()["id"]
                added = await full.post(f"/v1/apps/{app_id}/servers", headers=headers,
                                        json=definition(2525, enqueue=True))  # fmt: skip
                assert added.status_code == 201, added.text
                apps.append(app_id)
            yield Pair(fast, full, database, service, headers, apps[0], apps[1])
    finally:
        await service.aclose()


def rows(database: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        found = connection.execute("SELECT * FROM outbox_messages").fetchall()
    return {row["id"]: dict(row) for row in found}


def same(fast: httpx.Response, full: httpx.Response) -> dict[str, Any]:
    """Equal answers: status, headers (but the length, which the id's own length may move
    in no case here), body but the message's id."""
    assert fast.status_code == full.status_code, (fast.text, full.text)
    assert dict(fast.headers) == dict(full.headers)
    fast_body, full_body = fast.json(), full.json()
    if isinstance(fast_body, dict) and fast.status_code == 202:
        assert len(fast_body["id"]) == len(full_body["id"]) == 32
        fast_body, full_body = (
            {k: v for k, v in body.items() if k != "id"} for body in (fast_body, full_body)
        )
    assert fast_body == full_body
    return dict(fast.json())


@pytest.mark.parametrize(
    "body",
    [
        {"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "123456"}},
        LOGTO,
        LOGTO | {"locale": "fr", "maxAttempts": 2, "expiresAt": "2999-01-01T00:00:00Z"},
        {"to": "Ana Núñez <ana@example.org>", "usageType": "Generic", "payload": {"code": 7}},
    ],
)
@pytest.mark.parametrize("idempotency", [None, "signup-1"])
async def test_queued_answers_and_rows_match(
    pair: Pair, body: dict[str, Any], idempotency: str | None
) -> None:
    path = f"/v1/apps/{pair.app_id}/messages"
    answers = []
    for side, http in (("fast", pair.fast), ("full", pair.full)):
        headers = pair.headers | ({"Idempotency-Key": f"{idempotency}-{side}"} if idempotency
                                  else {})  # fmt: skip
        answers.append(await http.post(path, json=body, headers=headers))
    answer = same(*answers)
    assert answers[0].status_code == 202 and answer["status"] == "queued"
    assert answer["warnings"] == []
    stored = rows(pair.database)
    fast_row, full_row = (stored[response.json()["id"]] for response in answers)
    assert {k: v for k, v in fast_row.items() if k not in MOMENTS} == {
        k: v for k, v in full_row.items() if k not in MOMENTS
    }
    request = MessageRequest.model_validate(body)
    assert fast_row["app_id"] == pair.app_id and fast_row["status"] == "queued"
    assert fast_row["recipient"] == request.to and fast_row["usage_type"] == request.usage_type
    assert json.loads(fast_row["payload"]) == request.payload
    assert fast_row["locale"] == request.locale and fast_row["attempts"] == 0
    assert fast_row["max_attempts"] == (request.max_attempts or QueueOptions().policy.max_attempts)
    if request.expires_at is not None:
        assert fast_row["expires_at"] == full_row["expires_at"] == request.expires_at.timestamp()
    if idempotency:
        assert fast_row["idempotency_key"] == f"{idempotency}-fast"
        assert fast_row["request_hash"] == request_fingerprint(request)
    else:
        assert fast_row["idempotency_key"] is None and fast_row["request_hash"] is None
    # A repeat with the same key: the first message, marked replayed, on both paths.
    if idempotency:
        for side, http in (("fast", pair.fast), ("full", pair.full)):
            again = await http.post(path, json=body, headers=pair.headers | {
                "Idempotency-Key": f"{idempotency}-{side}"})  # fmt: skip
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json()["id"] == answers[0 if side == "fast" else 1].json()["id"]
        assert len(rows(pair.database)) == 2


async def test_refusals_match_and_store_nothing(pair: Pair) -> None:
    path = f"/v1/apps/{pair.app_id}/messages"
    body = {"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "1"}}
    _, bound = await pair.service.keys.create(CLI_ACTOR, ["smtpserver_send"], app=pair.other_app)
    _, read_only = await pair.service.keys.create(CLI_ACTOR, ["smtpserver_read"])
    json_h = pair.headers | {"Content-Type": "application/json"}
    cases: list[dict[str, Any]] = [
        # the attacker's
        {"json": body, "headers": {"Authorization": f"Bearer {bound}"}},  # 403
        {"json": body, "headers": {"Authorization": f"Bearer {read_only}"}},  # 403
        {"json": body | {"payload": {"code": "y" * 5000}}, "headers": pair.headers},  # 413
        {"content": b'{"to": ', "headers": json_h},  # 422, malformed
        {"json": {"to": ["a@example.org"] * 3, "payload": "x"}, "headers": pair.headers},
        {"json": body | {"maxAttempts": "many"}, "headers": pair.headers},  # 422
        {"json": body | {"expiresAt": "2001-01-01T00:00:00Z"}, "headers": pair.headers},  # 400
        {"json": [body], "headers": pair.headers},  # 422
        {"content": b'{"to": "a@example.org\\u0000"}', "headers": json_h},  # 400, the edge
        # the newcomer's
        {"json": {"usageType": "SignIn", "payload": {"code": "1"}}, "headers": pair.headers},
        {"json": body | {"usageType": "Regsiter"}, "headers": pair.headers},  # did you mean
        {"json": body | {"payload": {}}, "headers": pair.headers},  # no code to show
    ]  # fmt: skip
    for case in cases:
        fast, slow = await pair.both(path, **case)
        assert fast.status_code >= 400, fast.text
        same(fast, slow)
    assert rows(pair.database) == {}


async def test_the_short_path_reads_a_state_without_starlettes_private_dict(pair: Pair) -> None:
    """The short path reads the app's state from Starlette's private `State._state` (a cheaper
    read); were a release to drop that name, the public attributes are read instead and the
    send is answered and stored as before."""
    app = pair.fast._transport.app  # type: ignore[attr-defined]
    values = dict(app.state._state)
    app.state = SimpleNamespace(**values)  # attributes only, no `_state`
    path = f"/v1/apps/{pair.app_id}/messages"
    body = {"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}
    answer = await pair.fast.post(path, json=body, headers=pair.headers)
    assert answer.status_code == 202 and answer.json()["status"] == "queued", answer.text
    assert rows(pair.database)[answer.json()["id"]]["recipient"] == "a@example.org"
    wrong = {"Authorization": "Bearer nope"}
    refused = await pair.both(f"/v1/apps/{pair.other_app}/messages", json=body, headers=wrong)
    assert same(*refused)["error"] and refused[0].status_code >= 400
    assert set(rows(pair.database)) == {answer.json()["id"]}
