"""What a send answers, through a real `serve` process (issue 27):

- finding 18: a direct send whose reply was lost after the message's content (the connection
  dropped after the final dot) answers 202 `delivery_unknown` with the advice not to retry,
  not a bare 502 that invites the retry which sends a second code;
- finding 9: `Idempotency-Key` as Stripe has it: empty refused (400), the same key with another
  body refused (422), a repeat answers the first outcome (a queued message in its current
  state, with `Idempotent-Replayed: true`), a repeat while the first is still sending 409;
  direct sends take the key too.

The SMTP servers are real: aiosmtpd, or a scripted server in this test's loop.
In-process variants on SQLite and PostgreSQL: test_idempotency.py, tests/queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import ServeProcess, definition, key_headers, serve_env, start_serve
from smtp_servers import MakeServer, ScriptedServer, smtp_dialogue

SIGN_IN = {"to": "ana@example.org", "usageType": "SignIn", "payload": {"code": "482913"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, str]]:
    folder = tmp_path_factory.mktemp("send-answers")
    url = f"sqlite:///{folder / 'service.db'}"
    key = key_headers(url)["Authorization"]
    process = start_serve(url, folder / "serve.log", serve_env())
    try:
        yield process, key
    finally:
        process.stop()
    log = (folder / "serve.log").read_text()
    assert "482913" not in log and key.split()[1] not in log


@pytest.fixture
async def client(served: tuple[ServeProcess, str]) -> AsyncIterator[httpx.AsyncClient]:
    process, key = served
    headers = {"Authorization": key}
    async with httpx.AsyncClient(base_url=process.base_url, headers=headers, timeout=30) as c:
        yield c


async def new_app(client: httpx.AsyncClient, port: int, **fields: Any) -> str:
    created = await client.post("/v1/apps", json={"name": f"app-{port}"})
    assert created.status_code == 201, created.text
    app_id = str(created.json()["id"])
    server = definition(port, username=None, password=None, **fields)
    added = await client.post(f"/v1/apps/{app_id}/servers", json=server)
    assert added.status_code == 201, added.text
    return app_id


def message_id_of(content: bytes) -> str:
    for line in content.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID header")


async def test_lost_reply_answers_delivery_unknown(client: httpx.AsyncClient) -> None:
    received: list[bytes] = []

    async def hang_up(writer: asyncio.StreamWriter) -> None:
        writer.close()  # the content arrived; the reply never leaves

    server = await ScriptedServer(
        lambda r, w: smtp_dialogue(r, w, on_data_end=hang_up, received=received)
    ).start()
    try:
        app_id = await new_app(client, server.port)
        path = f"/v1/apps/{app_id}/messages"
        first = await client.post(path, json=SIGN_IN, headers={"Idempotency-Key": "signup-1"})
        assert first.status_code == 202, first.text
        body = first.json()
        assert body["status"] == "delivery_unknown"
        assert body["messageId"] == message_id_of(received[0])
        assert body["server"] == f"127.0.0.1:{server.port}"
        assert body["message"].startswith("Do not retry")
        assert "may have accepted it" in body["message"]
        assert "error" not in body  # a 2xx a client's error check must not take for a failure
        servers = (await client.get(f"/v1/apps/{app_id}/servers")).json()
        assert body["definitionId"] == servers[0]["id"]

        # The client retries anyway with its key: the same answer, nothing sent again.
        again = await client.post(path, json=SIGN_IN, headers={"Idempotency-Key": "signup-1"})
        assert again.status_code == 202 and again.json() == body
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert len(received) == 1

        # Without a key the status is the same (the short path and the route agree on it).
        plain = await client.post(path, json=SIGN_IN)
        assert plain.status_code == 202 and plain.json()["status"] == "delivery_unknown"
        assert len(received) == 2
    finally:
        await server.stop()


async def test_idempotency_keys_like_stripe(
    client: httpx.AsyncClient, make_server: MakeServer
) -> None:
    smtp = make_server()
    app_id = await new_app(client, smtp.port)
    path = f"/v1/apps/{app_id}/messages"
    refused = await client.post(path, json=SIGN_IN, headers={"Idempotency-Key": ""})
    assert refused.status_code == 400, refused.text
    assert "Idempotency-Key is empty" in refused.json()["error"]["message"]
    assert smtp.messages == []

    key = {"Idempotency-Key": "signup-7f3a"}
    first = await client.post(path, json=SIGN_IN, headers=key)
    assert first.status_code == 200 and first.json()["status"] == "sent"
    again = await client.post(path, json=SIGN_IN, headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post(path, json=SIGN_IN | {"to": "eve@example.org"}, headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert [m.rcpt_tos for m in smtp.messages] == [["ana@example.org"]]


async def test_a_queued_repeat_answers_the_current_state(
    client: httpx.AsyncClient, make_server: MakeServer
) -> None:
    """Not the first 202 frozen: the message as it is now."""
    smtp = make_server()
    app_id = await new_app(client, smtp.port, enqueue=True)
    path = f"/v1/apps/{app_id}/messages"
    key = {"Idempotency-Key": "invite-1"}
    first = await client.post(path, json=SIGN_IN, headers=key)
    assert first.status_code == 202 and first.json()["status"] == "queued", first.text
    message = first.json()["id"]
    deadline = time.monotonic() + 60  # the queue's worker, however loaded the machine
    while (await client.get(f"/v1/messages/{message}")).json()["status"] != "sent":
        assert time.monotonic() < deadline, "the queued message was never sent"
        await asyncio.sleep(0.05)
    again = await client.post(path, json=SIGN_IN, headers=key)
    assert again.status_code == 202
    assert again.json()["id"] == message and again.json()["status"] == "sent"
    assert again.json()["messageId"] and again.json()["attempts"] == 1
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = await client.post(path, json=SIGN_IN | {"locale": "es"}, headers=key)
    assert (
        changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
    )
    assert len(smtp.messages) == 1


async def test_a_repeat_while_the_first_is_sending_is_409(client: httpx.AsyncClient) -> None:
    at_dot, reply = asyncio.Event(), asyncio.Event()

    async def slow_reply(writer: asyncio.StreamWriter) -> None:
        at_dot.set()
        await reply.wait()
        writer.write(b"250 OK queued\r\n")
        await writer.drain()

    server = await ScriptedServer(lambda r, w: smtp_dialogue(r, w, on_data_end=slow_reply)).start()
    try:
        app_id = await new_app(client, server.port)
        path = f"/v1/apps/{app_id}/messages"
        key = {"Idempotency-Key": "reset-9"}
        first = asyncio.create_task(client.post(path, json=SIGN_IN, headers=key))
        await asyncio.wait_for(at_dot.wait(), 20)
        busy = await client.post(path, json=SIGN_IN, headers=key)
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"]["code"] == "idempotency_key_in_use"
        reply.set()
        done = await first
        assert done.status_code == 200, done.text
        later = await client.post(path, json=SIGN_IN, headers=key)
        assert later.json() == done.json() and later.headers["Idempotent-Replayed"] == "true"
        assert server.connections == 1
    finally:
        reply.set()
        await server.stop()
