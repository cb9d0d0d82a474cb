"""`Idempotency-Key` on direct sends, in process on SQLite and PostgreSQL (the main test runs a
real `serve`: test_send_answers.py), and the send route's short path answering these cases as
the route does."""

from __future__ import annotations

import json
import time

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from service_support import definition
from smtp_servers import MakeServer, ScriptedServer, dead_port, smtp_dialogue
from sqlalchemy import update

from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.store import Service
from smtp_connector.store.tables import IdempotentSendRow

SIGN_IN = {"to": "ana@example.org", "usageType": "SignIn", "payload": {"code": "482913"}}


async def app_with_server(api: Api, headers: dict[str, str], port: int, name: str = "shop") -> str:
    app_id = (await api.client.post("/v1/apps", json={"name": name}, headers=headers)).json()["id"]
    server = definition(port, username=None, password=None)
    added = await api.client.post(f"/v1/apps/{app_id}/servers", json=server, headers=headers)
    assert added.status_code == 201, added.text
    return str(app_id)


async def test_blank_keys_are_refused(api: Api, make_server: MakeServer) -> None:
    smtp = make_server()
    headers = await api.key()
    path = f"/v1/apps/{await app_with_server(api, headers, smtp.port)}/messages"
    for blank in ("", "   ", "\t"):
        refused = await api.client.post(
            path, json=SIGN_IN, headers=headers | {"Idempotency-Key": blank}
        )
        assert refused.status_code == 400, (blank, refused.text)
        assert "leave the header out" in refused.json()["error"]["message"]
    assert smtp.messages == []


async def test_the_same_request_in_other_words_is_a_repeat(
    api: Api, make_server: MakeServer
) -> None:
    """The fingerprint is of the request as validated: key order, spacing and spelt-out
    defaults do not make it another request."""
    smtp = make_server()
    headers = (await api.key()) | {"Idempotency-Key": "k-1", "Content-Type": "application/json"}
    path = f"/v1/apps/{await app_with_server(api, headers, smtp.port)}/messages"
    first = await api.client.post(path, content=json.dumps(SIGN_IN), headers=headers)
    reordered = {"payload": {"code": "482913"}, "locale": None, "to": "ana@example.org",
                 "usageType": "SignIn"}  # fmt: skip
    again = await api.client.post(path, content=json.dumps(reordered, indent=4), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    code = await api.client.post(path, json=SIGN_IN | {"payload": {"code": "000001"}},
                                 headers=headers)  # fmt: skip
    assert code.status_code == 422 and "different request" in code.json()["error"]["message"]
    assert len(smtp.messages) == 1


async def test_a_send_that_failed_before_the_server_had_it_may_be_retried(
    api: Api, make_server: MakeServer
) -> None:
    """The newcomer's retry: the server was down, the same key later sends (nothing to
    replay, since nothing was sent)."""
    headers = await api.key()
    app_id = await app_with_server(api, headers, dead_port())
    path = f"/v1/apps/{app_id}/messages"
    keyed = headers | {"Idempotency-Key": "retry-me"}
    down = await api.client.post(path, json=SIGN_IN, headers=keyed)
    assert down.status_code == 502 and down.json()["error"]["code"] == "connection_failed"
    smtp = make_server()
    servers = (await api.client.get(f"/v1/apps/{app_id}/servers", headers=headers)).json()
    await api.client.patch(f"/v1/apps/{app_id}/servers/{servers[0]['id']}",
                           json={"port": smtp.port}, headers=headers)  # fmt: skip
    up = await api.client.post(path, json=SIGN_IN, headers=keyed)
    assert up.status_code == 200 and "idempotent-replayed" not in up.headers
    assert len(smtp.messages) == 1


async def test_keys_are_per_app_and_expire(api: Api, make_server: MakeServer) -> None:
    smtp = make_server()
    headers = await api.key()
    keyed = headers | {"Idempotency-Key": "same"}
    paths = [
        f"/v1/apps/{await app_with_server(api, headers, smtp.port, name)}/messages"
        for name in ("one", "two")
    ]
    for path in paths:  # another app's key is another key: both send
        assert (await api.client.post(path, json=SIGN_IN, headers=keyed)).status_code == 200
    assert len(smtp.messages) == 2
    async with api.service.database.transaction() as session:  # a day later
        await session.execute(update(IdempotentSendRow).values(expires_at=time.time() - 1))
    fresh = await api.client.post(paths[0], json=SIGN_IN | {"to": "bo@example.org"}, headers=keyed)
    assert fresh.status_code == 200 and "idempotent-replayed" not in fresh.headers
    assert len(smtp.messages) == 3


def _client(service: Service, *, short_path: bool) -> httpx.AsyncClient:
    app = create_app(Settings(), service=service)
    if not short_path:
        vars(app).pop("build_middleware_stack")  # FastAPI's own stack, nothing in front
        install_admin_routers(app)  # nothing in front installs them on first use
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


async def test_the_short_path_answers_these_like_the_route(api: Api) -> None:
    """Blank key, a lost reply and a replay: the same status, body and headers both ways."""
    received: list[bytes] = []

    async def hang_up(writer: object) -> None:
        writer.close()  # type: ignore[attr-defined]

    server = await ScriptedServer(
        lambda r, w: smtp_dialogue(r, w, on_data_end=hang_up, received=received)
    ).start()
    try:
        headers = await api.key()
        path = f"/v1/apps/{await app_with_server(api, headers, server.port)}/messages"
        async with (
            _client(api.service, short_path=True) as fast,
            _client(api.service, short_path=False) as full,
        ):
            for extra in ({"Idempotency-Key": ""}, {}, {"Idempotency-Key": "lost"}):
                answers = [await c.post(path, json=SIGN_IN, headers=headers | extra)
                           for c in (fast, full)]  # fmt: skip
                assert answers[0].status_code == answers[1].status_code
                bodies = [a.json() for a in answers]
                for body in bodies:
                    body.pop("messageId", None)
                assert bodies[0] == bodies[1]
                replayed = [a.headers.get("idempotent-replayed") for a in answers]
                assert replayed == ([None, "true"] if extra.get("Idempotency-Key") else [None] * 2)
        assert answers[0].status_code == 202 and bodies[0]["status"] == "delivery_unknown"
        assert len(received) == 3  # two without a key, one with it (the other replayed)
    finally:
        await server.stop()
