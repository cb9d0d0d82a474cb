"""Finding 2 (MEDIUM): the token refresh was an unguarded URL fetch.

`auth.accessUrl` was fetched despite `disableUrlAccess: true`, bypassed `refusePrivateHosts`,
and a `file:///…` URL was read and its content sent as a bearer token in `AUTH XOAUTH2`. Now:
https, or http to loopback only; no other scheme; the SSRF guard applies; `disableUrlAccess`
forbids every fetch (a config that needs one does not load); redirects are not followed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_servers import HttpEndpoint, HttpReply, HttpRequest
from smtp_servers import USER, MakeServer, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector
from smtp_connector.delivery.oauth import fetch_token
from smtp_connector.delivery.token_fetch import UrlPolicy

TOKEN = "fresh-token-from-the-endpoint"


def refresh_auth(url: str) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "user": USER,
        "clientId": "client-1",
        "clientSecret": "client-secret-value",
        "refreshToken": "refresh-me",
        "accessUrl": url,
    }


@pytest.fixture
def endpoint() -> Iterator[HttpEndpoint]:
    server = HttpEndpoint(lambda request: HttpReply.json({"access_token": TOKEN}))
    yield server
    server.close()


@pytest.fixture
def smtp(make_server: MakeServer) -> TestServer:
    return make_server(mode="starttls", tokens={TOKEN: USER, "stolen-from-disk": USER})


def test_file_url_is_refused_at_load_and_never_read(tmp_path: Path, smtp: TestServer) -> None:
    secret_file = tmp_path / "token.json"
    secret_file.write_text(json.dumps({"access_token": "stolen-from-disk"}))
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config_for(smtp, auth=refresh_auth(secret_file.as_uri())))
    error = info.value
    assert error.code is ErrorCode.INVALID_CONFIG
    assert "accessUrl" in error.message and "'file'" in error.message
    assert str(secret_file) not in error.message
    assert smtp.handler.auth_attempts == []


@pytest.mark.parametrize(
    "url",
    ["http://token.example.com/oauth", "ftp://127.0.0.1/token", "gopher://127.0.0.1/", "token"],
)
def test_other_schemes_and_plain_http_to_the_network_are_refused(url: str) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config_for(2525, auth=refresh_auth(url)))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "accessUrl" in info.value.message


def test_disable_url_access_refuses_a_config_that_needs_a_fetch(endpoint: HttpEndpoint) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(
            config_for(2525, auth=refresh_auth(endpoint.url), disableUrlAccess=True)
        )
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "disableUrlAccess" in info.value.message
    assert endpoint.requests == []


async def test_disable_url_access_with_a_static_token_sends(smtp: TestServer, ca_pem: str) -> None:
    auth = {"type": "oauth2", "user": USER, "accessToken": TOKEN}
    config = config_for(smtp, auth=auth, tls={"ca": ca_pem}, disableUrlAccess=True)
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert len(smtp.messages) == 1


async def test_loopback_http_endpoint_is_fetched(
    endpoint: HttpEndpoint, smtp: TestServer, ca_pem: str
) -> None:
    config = config_for(smtp, auth=refresh_auth(endpoint.url), tls={"ca": ca_pem})
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert [r.form["grant_type"] for r in endpoint.requests] == ["refresh_token"]
    assert smtp.handler.auth_attempts == [("XOAUTH2", USER)]


def test_refuse_private_hosts_applies_to_the_token_url(endpoint: HttpEndpoint) -> None:
    with pytest.raises(ConnectorError) as info:
        fetch_token(endpoint.url, {"grant_type": "refresh_token"}, UrlPolicy(refuse_private=True))
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert "refusePrivateHosts" in info.value.message
    assert endpoint.requests == []  # refused before connecting


def test_disable_url_access_forbids_the_fetch_itself(endpoint: HttpEndpoint) -> None:
    """Defence in depth below the config check (e.g. a TokenSource built by hand)."""
    with pytest.raises(ConnectorError) as info:
        fetch_token(endpoint.url, {}, UrlPolicy(allow=False))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert endpoint.requests == []


def test_redirects_are_not_followed(endpoint: HttpEndpoint) -> None:
    def redirect(request: HttpRequest) -> HttpReply:
        return HttpReply(307, b"", {"Location": endpoint.url})

    bouncer = HttpEndpoint(redirect)
    try:
        with pytest.raises(ConnectorError) as info:
            fetch_token(bouncer.url, {"grant_type": "refresh_token"}, UrlPolicy())
    finally:
        bouncer.close()
    assert "redirect" in info.value.message
    assert len(bouncer.requests) == 1
    assert endpoint.requests == []


def test_answer_size_is_bounded() -> None:
    huge = HttpEndpoint(lambda request: HttpReply(200, b"{" + b" " * (1 << 20) + b"}"))
    try:
        with pytest.raises(ConnectorError) as info:
            fetch_token(huge.url, {}, UrlPolicy())
    finally:
        huge.close()
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert "bytes" in info.value.message
