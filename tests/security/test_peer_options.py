"""The peers' options we took on (issue 28) and how an attacker would use them.

- A template's `sendFrom`/`replyTo` with placeholders (Logto renders `{{user.primaryEmail}}`):
  a payload value must not add a header, a second mailbox or a display-name trick, nor reach a
  special-use domain, whoever typed it.
- `opportunisticTLS` (nodemailer): a refused or stripped STARTTLS lets the session go on
  unencrypted, but credentials still never cross it in clear.
- `ignoreTLS` with `requireTLS` (loads, as in Logto): STARTTLS is skipped as in nodemailer, and
  the contradiction is no leave to send AUTH in clear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from smtp_servers import PASSWORD, USER, MakeServer, StarttlsStripper, TestServer, config_for
from test_tls_before_auth import leaked

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.delivery.backends import OUTBOX

TEMPLATE = {
    "usageType": "SignIn",
    "subject": "Code {{code}}",
    "content": "Your code is {{code}}",
    "sendFrom": "{{application.name}} <no-reply@acme.com>",
    "replyTo": "{{user.email}}",
}
MEMORY = {"transport": "memory", "fromEmail": "no-reply@acme.com", "templates": [TEMPLATE]}


async def refused_send(payload: dict[str, Any], **config: Any) -> ConnectorError:
    async with SmtpConnector(MEMORY | config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("ana@example.org", "SignIn", {"code": "1", **payload})
    assert OUTBOX == []  # nothing left the connector
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    return info.value


@pytest.mark.parametrize(
    "payload",
    [
        {"user": {"email": "x@example.org\r\nBcc: victim@example.net"}},
        {"user": {"email": "x@example.org\nX-Injected: 1"}},
        {"user": {"email": "x@example.org, victim@example.net"}},
        {"application": {"name": "Evil <evil@example.net>, Real"}},
        {"application": {"name": "Shop\r\nBcc: victim@example.net"}},
        {"application": {"name": "Shop\u2028Inc"}},
        {"user": {"email": "dev@intranet.local"}},
    ],
    ids=["crlf-bcc", "lf-header", "second-mailbox", "name-trick", "name-crlf", "u2028", "local"],
)
async def test_a_payload_value_cannot_reshape_from_or_reply_to(payload: dict[str, Any]) -> None:
    error = await refused_send({"user": {"email": "ana@example.org"}} | payload)
    assert "once rendered" in error.message  # names the template's text, not the value
    assert "victim" not in error.message and "X-Injected" not in error.message


async def test_an_ordinary_payload_goes_out() -> None:
    async with SmtpConnector(MEMORY) as connector:
        await connector.send(
            "ana@example.org",
            "SignIn",
            {"code": "1", "user": {"email": "ana@example.org"}, "application": {"name": "Shop"}},
        )
    (message,) = OUTBOX
    parsed = message.parsed()
    assert str(parsed["From"]) == "Shop <no-reply@acme.com>"
    assert str(parsed["Reply-To"]) == "ana@example.org"


# -- opportunisticTLS and ignoreTLS + requireTLS: credentials stay home -------------------------


@pytest.fixture
def honest(make_server: MakeServer) -> TestServer:
    return make_server(mode="starttls", users={USER: PASSWORD})


@pytest.fixture
async def stripper(honest: TestServer) -> AsyncIterator[StarttlsStripper]:
    proxy = await StarttlsStripper(honest.port).start()
    yield proxy
    await proxy.stop()


@pytest.mark.parametrize(
    "flags",
    [{"opportunisticTLS": True}, {"opportunisticTLS": True, "requireTLS": True}],
    ids=["opportunistic", "opportunistic+require"],
)
async def test_opportunistic_tls_never_sends_credentials_in_clear(
    stripper: StarttlsStripper, honest: TestServer, flags: dict[str, Any]
) -> None:
    auth = {"user": USER, "pass": PASSWORD}
    async with SmtpConnector(config_for(stripper.port, auth=auth, **flags)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert info.value.code is ErrorCode.TLS_FAILED
    assert leaked(bytes(stripper.from_client)) == [] and honest.messages == []


async def test_opportunistic_tls_without_auth_delivers_over_the_stripped_link(
    stripper: StarttlsStripper, honest: TestServer
) -> None:
    """The control (an IP-authorised relay): the option does what nodemailer's does."""
    config = config_for(stripper.port, requireTLS=True, opportunisticTLS=True)
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert len(honest.messages) == 1


async def test_ignore_tls_with_require_tls_is_no_leave_for_auth_in_clear(
    honest: TestServer,
) -> None:
    auth = {"user": USER, "pass": PASSWORD}
    with pytest.warns(Warning, match="ignoreTLS"):
        connector = SmtpConnector(config_for(honest, auth=auth, ignoreTLS=True, requireTLS=True))
    async with connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "123456"})
    error = info.value
    assert error.code is ErrorCode.TLS_FAILED and not error.retryable
    assert "requireTLS" in error.message and "ignoreTLS" in error.message
    assert honest.handler.auth_attempts == [] and honest.messages == []
    assert not any(b"STARTTLS" in chunk.upper() for chunk in honest.chunks)  # nodemailer's way
    assert not any(b"AUTH" in chunk.upper() for chunk in honest.chunks)
