"""Finding 18 (counts): a key bound to one app read every app's traffic in `GET /v1/queue`.
It now counts its own app's messages only; an operator's key counts all, or one app with
`?appId=`; `/metrics` (no key, counts only) is unchanged. Through a real `serve` whose
embedded worker delivers to a real aiosmtpd server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import definition, key_headers, serve_env, start_serve
from smtp_servers import Behaviour, TestServer


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    server = TestServer(behaviour=Behaviour()).start()
    yield server
    server.stop()


def wait_sent(client: httpx.Client, message_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60  # a limit for a loaded machine, not a speed claim
    while (state := client.get(f"/v1/messages/{message_id}", headers=headers).json())[
        "status"
    ] != "sent":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


def total(state: dict[str, object]) -> int:
    depth = state["depth"]
    assert isinstance(depth, dict)
    return sum(depth.values())


def test_app_bound_keys_count_their_own_messages(tmp_path: Path, smtp: TestServer) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    operator = key_headers(url)
    served = start_serve(url, tmp_path / "serve.log", serve_env())
    try:
        with httpx.Client(base_url=served.base_url, timeout=20) as client:
            for app, count in (("alpha", 2), ("beta", 1)):
                client.post("/v1/apps", json={"name": app, "id": app}, headers=operator)
                server = definition(smtp.port, username=None, password=None, enqueue=True)
                added = client.post(f"/v1/apps/{app}/servers", json=server, headers=operator)
                assert added.status_code == 201, added.text
                for n in range(count):
                    body = {"to": f"u{n}.{app}@example.org", "payload": {"code": "123456"}}
                    sent = client.post(f"/v1/apps/{app}/messages", json=body, headers=operator)
                    assert sent.status_code == 202, sent.text
                    wait_sent(client, sent.json()["id"], operator)
            alpha = key_headers(url, "smtpserver_read", app="alpha")
            beta = key_headers(url, app="beta")

            own = client.get("/v1/queue", headers=alpha).json()
            assert total(own) == 2 and own["depth"]["sent"] == 2 and own["appId"] == "alpha"
            assert total(client.get("/v1/queue", headers=beta).json()) == 1
            named = client.get("/v1/queue", params={"appId": "alpha"}, headers=alpha)
            assert total(named.json()) == 2
            everyone = client.get("/v1/queue", headers=operator).json()
            assert total(everyone) == 3 and everyone["appId"] is None
            one = client.get("/v1/queue", params={"appId": "beta"}, headers=operator).json()
            assert total(one) == 1 and one["appId"] == "beta"

            # The attacker's tries: naming the other app, or an unknown one.
            other = client.get("/v1/queue", params={"appId": "beta"}, headers=alpha)
            assert other.status_code == 403, other.text
            assert "limited to another app" in other.json()["error"]["message"]
            nobody = client.get("/v1/queue", params={"appId": "nope"}, headers=alpha)
            assert nobody.status_code == 403
            assert client.get("/v1/queue").status_code == 401

            metrics = client.get("/metrics").text  # unchanged: every app, no key
            assert 'smtp_connector_queue_messages{status="sent"} 3' in metrics
    finally:
        served.stop()
    assert len(smtp.messages) == 3
