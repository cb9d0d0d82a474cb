"""Finding 8 (LOW-MEDIUM): `serve` had no request timeouts and no concurrency limit.

An idle socket, a request head trickled a header line at a time, or a body trickled a byte at
a time (the send route's short path too) held a connection open for as long as the client
liked, and nothing capped how many requests were handled at once. Against a real `serve` with
short timeouts, over raw sockets: a trickled head and an idle connection are closed, a
trickled body is answered 408 in the route's own envelope (native, short path, a dialect), an
idle keep-alive connection is closed, and with the cap at 2 a third request is answered 503
while two slow ones are held.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from edge_support import Served, connect, read_until_closed, serve_on, trickle


@pytest.fixture
def served(edge_serve: Served) -> Served:
    """The folder's shared serve (conftest.py): header, body and keep-alive timeouts of 1 s."""
    return edge_serve


def app_id(served: Served) -> str:
    with served.client() as client:
        found = client.get("/v1/apps").json()
        if found:
            return str(found[0]["id"])
        return str(client.post("/v1/apps", json={"name": "shop"}).json()["id"])


def head(method: str, path: str, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_trickled_request_head_is_closed(served: Served) -> None:
    sock = connect(served.port)
    lines = [b"GET /healthz HTTP/1.1\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(40)]
    sent = trickle(sock, lines, every=0.25)  # 10 s of headers against a 1 s timeout
    data, closed = read_until_closed(sock)
    assert closed and sent < len(lines), "the server waited for the whole trickled head"
    assert data == b""  # closed without an answer: there was no request to answer


def test_an_idle_connection_is_closed(served: Served) -> None:
    data, closed = read_until_closed(connect(served.port))
    assert closed and data == b""


def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    sock = connect(served.port)
    sock.sendall(head("GET", "/healthz"))
    data, closed = read_until_closed(sock)
    assert closed and data.startswith(b"HTTP/1.1 200 ") and b'{"status":"ok"}' in data


@pytest.mark.parametrize("route", ["native", "short path", "per-app list", "portal"])
def test_a_trickled_body_is_answered_408_in_the_routes_envelope(served: Served, route: str) -> None:
    bearer = f"Bearer {served.admin}"
    requests = {
        "native": head("POST", "/v1/apps", Authorization=bearer,
                       Content_Type="application/json", Content_Length="200"),
        "short path": head("POST", f"/v1/apps/{app_id(served)}/messages", Authorization=bearer,
                           Content_Type="application/json", Content_Length="200"),
        "per-app list": head("POST", "/private/smtps/save", Authorization=bearer,
                             Content_Type="application/x-www-form-urlencoded",
                             Content_Length="200"),
        "portal": head("POST", "/api/2.0/smtpsettings/smtp", Authorization=bearer,
                       Content_Type="application/json", Content_Length="200"),
    }  # fmt: skip
    sock = connect(served.port)
    sock.sendall(requests[route])
    sent = trickle(sock, [b" "] * 40, every=0.25)  # 10 s of body against a 1 s budget
    data, closed = read_until_closed(sock)
    assert closed and sent < 40
    status, _, body = data.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408 "), data
    assert b"connection: close" in status.lower()
    text = json.dumps(json.loads(body))
    assert "SMTP_CONNECTOR_BODY_TIMEOUT" in text
    envelope = {"native": '"error": {"code": "request_timeout"',
                "short path": '"error": {"code": "request_timeout"',
                "per-app list": '"errorCode": "request_timeout"',
                "portal": '"type": "request_timeout"'}  # fmt: skip
    assert envelope[route] in text, text


def test_requests_past_the_concurrency_cap_get_503(tmp_path: Path) -> None:
    env = {"SMTP_CONNECTOR_MAX_CONCURRENCY": "2", "SMTP_CONNECTOR_BODY_TIMEOUT": "60"}
    with serve_on(f"sqlite:///{tmp_path / 'cap.db'}", tmp_path / "serve.log", **env) as served:
        send = f"/v1/apps/{app_id(served)}/messages"
        slow = head("POST", send, Authorization=f"Bearer {served.admin}",
                    Content_Type="application/json", Content_Length="100")  # fmt: skip
        held = [connect(served.port), connect(served.port)]
        for sock in held:
            sock.sendall(slow + b'{"to": ')  # the short path waits for the rest
        wait_for_status(served, 503)  # both slow sends are in flight now

        extra = connect(served.port)  # a third slow client, on a dialect route
        portal = head("POST", "/api/2.0/smtpsettings/smtp", Content_Type="application/json",
                      Content_Length="100", Authorization=f"Bearer {served.admin}")  # fmt: skip
        extra.sendall(portal)
        data, closed = read_until_closed(extra)
        assert closed  # Connection: close
        status, _, body = data.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in status.lower()
        refusal = json.loads(body)
        assert refusal["statusCode"] == 503 and refusal["error"]["type"] == "unavailable"
        assert "SMTP_CONNECTOR_MAX_CONCURRENCY" in refusal["error"]["message"]

        for sock in held:
            sock.close()
        wait_for_status(served, 200)  # the slots are free again


def wait_for_status(served: Served, status: int) -> None:
    """Poll /healthz until it answers `status` (the server's state changes asynchronously)."""
    deadline = time.monotonic() + 60  # a limit for a loaded machine, not a speed claim
    while (got := httpx.get(f"{served.process.base_url}/healthz").status_code) != status:
        assert time.monotonic() < deadline, f"/healthz still answers {got}, not {status}"
        time.sleep(0.1)
