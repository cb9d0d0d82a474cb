"""`GET /v1/apps/{id}/messages` (issue 23 §5): an app's recent queued messages, newest first,
through a real `serve` process whose embedded worker delivers to a real aiosmtpd server.

What the list shows (recipient masked like `a***@example.org`, status, attempts, the last
error), the status filter, keyset pages through the `Link` header, counts per app that match
the list; and what it refuses: another tenant's key, a key without the read scope, a cursor
from another list or made up, a limit beyond the maximum, a status that does not exist.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import ServeProcess, definition, key_headers, serve_env, start_serve
from smtp_servers import TestServer, dead_port

SENT = ["ana@example.org", "bruno@example.net", "carla@example.org"]
FAILED = "dora@example.org"


@dataclass
class Served:
    process: ServeProcess
    url: str
    headers: dict[str, str]
    app: str
    other: str
    smtp: TestServer

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.process.base_url, headers=headers or self.headers, timeout=30
        )


def wait_final(client: httpx.Client, message_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (state := client.get(f"/v1/messages/{message_id}").json())["status"] in (
        "queued",
        "sending",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return dict(state)


def queue_one(client: httpx.Client, app: str, to: str, **fields: Any) -> str:
    body = {"to": to, "usageType": "SignIn", "payload": {"code": "482913"}} | fields
    sent = client.post(f"/v1/apps/{app}/messages", json=body)
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """App `shop`: three messages sent, then (its server moved to a dead port) one abandoned
    (its one attempt failed); app `other`: one message sent."""
    folder = tmp_path_factory.mktemp("recent")
    url = f"sqlite:///{folder / 'service.db'}"
    headers = key_headers(url)
    smtp = TestServer().start()
    process = start_serve(url, folder / "serve.log", serve_env())
    fields = {"username": None, "password": None, "enqueue": True}
    try:
        with httpx.Client(base_url=process.base_url, headers=headers, timeout=30) as client:
            app, other = (client.post("/v1/apps", json={"name": n}).json()["id"]
                          for n in ("shop", "other"))  # fmt: skip
            server = client.post(f"/v1/apps/{app}/servers", json=definition(smtp.port, **fields))
            client.post(f"/v1/apps/{other}/servers", json=definition(smtp.port, **fields))
            for to in SENT:
                assert wait_final(client, queue_one(client, app, to))["status"] == "sent"
            assert wait_final(client, queue_one(client, other, "eve@example.com"))
            moved = client.patch(
                f"/v1/apps/{app}/servers/{server.json()['id']}", json={"port": dead_port()}
            )
            assert moved.status_code == 200, moved.text
            failed = queue_one(client, app, FAILED, maxAttempts=1)
            assert wait_final(client, failed)["status"] == "abandoned"  # its one attempt failed
        yield Served(process, url, headers, app, other, smtp)
    finally:
        process.stop()
        smtp.stop()


def test_lists_the_apps_messages_newest_first_with_recipients_masked(served: Served) -> None:
    with served.client() as client:
        answer = client.get(f"/v1/apps/{served.app}/messages")
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert [row["to"] for row in rows] == ["d***@example.org", "c***@example.org",
                                           "b***@example.net", "a***@example.org"]  # fmt: skip
    assert [row["status"] for row in rows] == ["abandoned", "sent", "sent", "sent"]
    for address in [*SENT, FAILED, "eve@example.com"]:  # no full address, no other app's row
        assert address not in answer.text
    assert "482913" not in answer.text  # nor the code
    failed = rows[0]
    assert failed["attempts"] == 1 and failed["usageType"] == "SignIn"
    assert failed["lastError"]["code"] == "connection_failed"
    assert failed["lastError"]["cause"] == "connection_refused"
    assert rows[1]["lastError"] is None and rows[1]["server"]
    assert "Link" not in answer.headers


def test_status_filter_and_counts_per_app(served: Served) -> None:
    with served.client() as client:
        failed = client.get(f"/v1/apps/{served.app}/messages", params={"status": "abandoned"})
        sent = client.get(f"/v1/apps/{served.app}/messages", params={"status": "sent"})
        counts = client.get("/v1/queue", params={"appId": served.app}).json()
    assert [row["to"] for row in failed.json()] == ["d***@example.org"]
    assert {row["status"] for row in sent.json()} == {"sent"} and len(sent.json()) == 3
    assert counts["appId"] == served.app
    assert counts["depth"] | {} == {"queued": 0, "sending": 0, "sent": 3, "failed": 0,
                                    "abandoned": 1}  # fmt: skip


def test_pages_follow_the_link_header_without_overlap(served: Served) -> None:
    seen: list[str] = []
    with served.client() as client:
        url: str | None = f"/v1/apps/{served.app}/messages?limit=3"
        pages = 0
        while url is not None:
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            seen += [row["id"] for row in answer.json()]
            pages += 1
            link = answer.headers.get("Link")
            url = link.split(";")[0].strip("<>") if link else None
        everything = [row["id"] for row in client.get(f"/v1/apps/{served.app}/messages").json()]
    assert pages == 2 and seen == everything and len(set(seen)) == 4


def test_a_tenant_key_sees_only_its_own_apps_messages(served: Served) -> None:
    bound = key_headers(served.url, app=served.other)
    with served.client(bound) as client:
        refused = client.get(f"/v1/apps/{served.app}/messages")
        own = client.get(f"/v1/apps/{served.other}/messages")
        counts = client.get("/v1/queue", params={"appId": served.app})
    assert refused.status_code == 403, refused.text
    assert "another app" in refused.json()["error"]["message"]
    assert "@example.org" not in refused.text
    assert [row["to"] for row in own.json()] == ["e***@example.com"]
    assert counts.status_code == 403


def test_scopes_and_unknown_apps(served: Served) -> None:
    sender_only = key_headers(served.url, "smtpserver_send")
    reader = key_headers(served.url, "smtpserver_read")
    with served.client(sender_only) as client:
        assert client.get(f"/v1/apps/{served.app}/messages").status_code == 403
    with served.client(reader) as client:
        assert client.get(f"/v1/apps/{served.app}/messages").status_code == 200
        unknown = client.get("/v1/apps/no-such-app/messages")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    with httpx.Client(base_url=served.process.base_url) as anonymous:
        assert anonymous.get(f"/v1/apps/{served.app}/messages").status_code == 401


def cursor_of(answer: httpx.Response) -> str:
    link = answer.headers["Link"]
    return link.split("cursor=")[1].split(">")[0].split("&")[0]


def test_bad_cursors_limits_and_statuses_are_422(served: Served) -> None:
    path = f"/v1/apps/{served.app}/messages"
    with served.client() as client:
        sent_cursor = cursor_of(client.get(path, params={"status": "sent", "limit": 1}))
        other_cursor = cursor_of(client.get(path, params={"limit": 1}))
        forged = base64.urlsafe_b64encode(f'["messages:{served.app}:*",["x", 1]]'.encode()).decode()
        servers_cursor = base64.urlsafe_b64encode(b'["apps",["shop"]]').decode()
        for cursor in ("garbage!", "W10", forged, servers_cursor, "x" * 3000):
            refused = client.get(path, params={"cursor": cursor})
            assert refused.status_code == 422, (cursor, refused.text)
        # A cursor is for the list it came from: another filter's, or another app's.
        assert client.get(path, params={"cursor": sent_cursor}).status_code == 422
        other_path = f"/v1/apps/{served.other}/messages"
        assert client.get(other_path, params={"cursor": other_cursor}).status_code == 422
        assert client.get(path, params={"cursor": sent_cursor, "status": "sent"}).json()
        for limit in ("501", "0", "-1", "many"):
            assert client.get(path, params={"limit": limit}).status_code == 422, limit


def test_a_newcomers_status_spelling_gets_the_list_of_statuses(served: Served) -> None:
    with served.client() as client:
        answer = client.get(f"/v1/apps/{served.app}/messages", params={"status": "Delivered"})
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    for status in ("queued", "sending", "sent", "failed", "abandoned"):
        assert status in message, message


def test_paths_and_urls_where_an_app_id_belongs(served: Served) -> None:
    with served.client() as client:
        for app in ("..%2F..%2Fv1%2Fqueue", "https:%2F%2Fevil.example%2Fx", "%00", "x" * 300):
            answer = client.get(f"/v1/apps/{app}/messages")
            assert answer.status_code in (400, 404, 422), (app, answer.status_code)
            assert "@example" not in answer.text
