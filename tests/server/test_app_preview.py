"""`GET /v1/templates/preview?appId=…` (issue 23 §5): the admin page's preview renders what a
send through the app renders — same application name, same sender — through a real `serve`
and a real aiosmtpd server: the previewed subject and text are compared with the mail the
server received. Before, the page passed the app's *name* ("shop") where a send uses the
sender's name or domain ("shop.example.com")."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import ServeProcess, definition, key_headers, serve_env, start_serve
from smtp_servers import TestServer, free_port


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, str, TestServer]]:
    folder = tmp_path_factory.mktemp("preview")
    url = f"sqlite:///{folder / 'service.db'}"
    headers = key_headers(url)
    smtp = TestServer().start()
    process = start_serve(url, folder / "serve.log", serve_env())
    try:
        yield process, url, smtp
    finally:
        process.stop()
        smtp.stop()
    assert headers


def client(process: ServeProcess, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=process.base_url, headers=headers, timeout=30)


def parsed(content: bytes) -> Message:
    return email.message_from_bytes(content, policy=default_policy)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]


def text_part(message: Message) -> str:
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("sender", "expected"),
    [({"fromEmail": "noreply@shop.example.com"}, "shop.example.com"),
     ({"fromEmail": "noreply@shop.example.com", "fromName": "Shop & Co"}, "Shop & Co")],
)  # fmt: skip
def test_the_preview_is_what_a_send_renders(
    served: tuple[ServeProcess, str, TestServer], sender: dict[str, str], expected: str
) -> None:
    process, url, smtp = served
    headers = key_headers(url)
    with client(process, headers) as api:
        app = api.post("/v1/apps", json={"name": f"shop-{free_port()}"}).json()["id"]
        server = definition(smtp.port, username=None, password=None) | sender
        assert api.post(f"/v1/apps/{app}/servers", json=server).status_code == 201
        params = {"appId": app, "usageType": "SignIn", "locale": "es", "code": "482913"}
        preview = api.get("/v1/templates/preview", params=params)
        assert preview.status_code == 200, preview.text
        body = {"to": "ana@example.org", "usageType": "SignIn", "locale": "es",
                "payload": {"code": "482913"}}  # fmt: skip
        assert api.post(f"/v1/apps/{app}/messages", json=body).status_code == 200
    shown = preview.json()
    mail = parsed(smtp.messages[-1].content)
    assert shown["subject"] == mail["Subject"]
    assert expected in shown["subject"] or expected in (shown["text"] or "")
    # Line by line: the wire form ends lines in CRLF and may break long ones (format=flowed).
    assert lines(shown["text"]) == lines(text_part(mail))
    assert shown["fromAddress"] == str(mail["From"])
    assert shown["locale"] == "es"


def test_the_app_name_parameter_no_longer_wins_over_the_app(
    served: tuple[ServeProcess, str, TestServer],
) -> None:
    process, url, smtp = served
    with client(process, key_headers(url)) as api:
        app = api.post("/v1/apps", json={"name": "storefront"}).json()["id"]
        server = definition(smtp.port, username=None, password=None,
                            fromEmail="noreply@mail.storefront.example.com")  # fmt: skip
        api.post(f"/v1/apps/{app}/servers", json=server)
        params = {"appId": app, "appName": "storefront", "usageType": "SignIn"}
        shown = api.get("/v1/templates/preview", params=params).json()
    assert "mail.storefront.example.com" in shown["subject"] + (shown["text"] or "")


def test_another_tenant_an_unknown_app_and_an_app_without_servers(
    served: tuple[ServeProcess, str, TestServer],
) -> None:
    process, url, smtp = served
    with client(process, key_headers(url)) as api:
        mine = api.post("/v1/apps", json={"name": "mine"}).json()["id"]
        theirs = api.post("/v1/apps", json={"name": "theirs"}).json()["id"]
        server = definition(smtp.port, username=None, password=None,
                            fromEmail="noreply@theirs.example.com")  # fmt: skip
        api.post(f"/v1/apps/{theirs}/servers", json=server)
        empty = api.get("/v1/templates/preview", params={"appId": mine})
        unknown = api.get("/v1/templates/preview", params={"appId": "no-such-app"})
    assert empty.status_code == 409, empty.text
    assert "no active server definition" in empty.json()["error"]["message"]
    assert unknown.status_code == 404
    with client(process, key_headers(url, app=mine)) as bound:
        refused = bound.get("/v1/templates/preview", params={"appId": theirs})
        long_id = bound.get("/v1/templates/preview", params={"appId": "x" * 65})
    assert refused.status_code == 403 and "theirs.example" not in refused.text
    assert long_id.status_code == 422
