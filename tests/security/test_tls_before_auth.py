"""Finding 1 (HIGH): STARTTLS stripping must not make us send credentials in clear.

The attack: a man in the middle deletes STARTTLS from an honest server's EHLO reply. A Logto
config as pasted (no `requireTLS`) used to go on with `AUTH PLAIN <base64 of user and password>`
in clear. Now no AUTH of any mechanism leaves without TLS unless `ignoreTLS: true` says so.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from smtp_servers import PASSWORD, USER, MakeServer, StarttlsStripper, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector

TOKEN = "ya29.bearer-token-for-the-mailbox"
AUTHS: dict[str, dict[str, Any]] = {
    "plain": {"user": USER, "pass": PASSWORD, "method": "PLAIN"},
    "login": {"user": USER, "pass": PASSWORD, "method": "LOGIN"},
    "auto": {"user": USER, "pass": PASSWORD},
    "xoauth2": {"type": "oauth2", "user": USER, "accessToken": TOKEN},
}


@pytest.fixture
def honest(make_server: MakeServer) -> TestServer:
    """An honest server: STARTTLS offered, AUTH accepted (also in clear, as many are)."""
    return make_server(mode="starttls", users={USER: PASSWORD}, tokens={TOKEN: USER})


@pytest.fixture
async def stripper(honest: TestServer) -> AsyncIterator[StarttlsStripper]:
    proxy = await StarttlsStripper(honest.port).start()
    yield proxy
    await proxy.stop()


def leaked(wire: bytes) -> list[str]:
    """Every form of the credentials found in what the client sent."""
    forms = {
        "AUTH command": b"AUTH",
        "password": PASSWORD.encode(),
        "base64 password": base64.b64encode(PASSWORD.encode()),
        "PLAIN blob": base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()),
        "token": TOKEN.encode(),
    }
    return [name for name, form in forms.items() if form in wire]


@pytest.mark.parametrize("kind", list(AUTHS))
async def test_stripped_starttls_sends_no_credentials(
    stripper: StarttlsStripper, honest: TestServer, kind: str
) -> None:
    config = config_for(stripper.port, auth=AUTHS[kind])  # Logto's shape: no requireTLS
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "123456"})
    error = info.value
    assert error.code is ErrorCode.TLS_FAILED
    assert "ignoreTLS" in error.message and "STARTTLS" in error.message
    assert b"EHLO" in stripper.from_client  # the session got that far, and no further
    assert leaked(bytes(stripper.from_client)) == []
    assert honest.messages == []


async def test_verify_refuses_too(stripper: StarttlsStripper) -> None:
    config = config_for(stripper.port, auth=AUTHS["auto"])
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.verify()
    assert info.value.code is ErrorCode.TLS_FAILED
    assert leaked(bytes(stripper.from_client)) == []


async def test_ignore_tls_is_the_explicit_way_to_auth_in_clear(
    stripper: StarttlsStripper, honest: TestServer
) -> None:
    """The control: with `ignoreTLS: true` the same proxy does see the credentials, which is
    what the user asked for on a trusted network (and shows the check above can fail)."""
    config = config_for(stripper.port, auth=AUTHS["plain"], ignoreTLS=True)
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert "PLAIN blob" in leaked(bytes(stripper.from_client))
    assert len(honest.messages) == 1


async def test_no_auth_configured_still_sends_without_tls(
    stripper: StarttlsStripper, honest: TestServer
) -> None:
    """The rule is about credentials: an IP-authorised relay without TLS keeps working."""
    async with SmtpConnector(config_for(stripper.port)) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert len(honest.messages) == 1


async def test_with_tls_the_same_config_authenticates(honest: TestServer, ca_pem: str) -> None:
    config = config_for(honest, auth=AUTHS["plain"], tls={"ca": ca_pem})
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert honest.handler.auth_attempts == [("PLAIN", USER)]
    assert len(honest.messages) == 1


@pytest.mark.parametrize("port", [None, 2525], ids=["listed-port", "unlisted-port"])
async def test_presets_keep_require_tls_on_another_host_and_port(
    stripper: StarttlsStripper, port: int | None
) -> None:
    """A preset pointed at another host (and a port it does not list) still requires TLS, so
    the stripped server fails at STARTTLS, before AUTH."""
    config = SmtpConfig.from_preset(
        "sendgrid", password=PASSWORD, from_email="no-reply@example.com", host="127.0.0.1",
        port=port if port is not None else 587,
    )  # fmt: skip
    assert config.require_tls
    data = config.to_dict(reveal_secrets=True) | {"port": stripper.port, "retry": {"attempts": 1}}
    async with SmtpConnector(data) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.verify()
    assert info.value.code is ErrorCode.TLS_FAILED
    assert "requireTLS" in info.value.message
    assert leaked(bytes(stripper.from_client)) == []
