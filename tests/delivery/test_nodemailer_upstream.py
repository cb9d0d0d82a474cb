"""nodemailer's smtp-connection cases that concern what goes on the wire, in our words.

Upstream (nodemailer/nodemailer, test/smtp-connection/smtp-connection-test.js) drives its
`SMTPConnection` against smtp-server instances; here each case drives the connector
(`verify()` for connection cases, `send()` for the rest) against aiosmtpd or a scripted server,
with upstream's option values, addresses and expectations. Where our answer differs on
purpose, the case says so (and docs/configuration.md "Migrating from Logto" has the line):
- a `name` with CR/LF is refused at load instead of having the line breaks stripped;
- credentials are never sent without TLS, so upstream's login server (STARTTLS disabled) is a
  STARTTLS server here;
- a port out of range is refused at load instead of failing to connect.
"""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from typing import Any

import pytest
from smtp_servers import MakeServer, ScriptedServer, TestServer, config_for, dead_port

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector

INJECTED_NAME = "legit.host\r\nMAIL FROM:<attacker@evil.com>\r\nRCPT TO:<victim@target.com>"
SENDER = "test@valid.sender"
VALID, INVALID = "test@valid.recipient", "test2@invalid.recipient"
REFUSED = "550 5.1.1 Only user@valid.recipient is allowed to receive mail"


def refused_at_load(config: dict[str, Any]) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    return info.value


async def steps_of(config: dict[str, Any]) -> list[str]:
    """What `verify()` went through, e.g. ["dns", "connect", "greeting", "ehlo", "starttls"]."""
    async with SmtpConnector(config) as connector:
        ((_, steps),) = await connector.verify()
    return [step.name for step in steps]


# -- Security: the `name` option -------------------------------------------------------------


def test_crlf_in_name_cannot_inject_commands(make_server: MakeServer) -> None:
    error = refused_at_load(config_for(make_server(), name=INJECTED_NAME))
    assert error.code is ErrorCode.INVALID_CONFIG and "`name`" in error.message


@pytest.mark.parametrize("name", ["a\rb", "a\nb", "a\r\n\r\nb"], ids=["cr", "lf", "crlf-run"])
def test_bare_cr_bare_lf_and_runs_of_crlf_in_name(make_server: MakeServer, name: str) -> None:
    error = refused_at_load(config_for(make_server(), name=name))
    assert error.code is ErrorCode.INVALID_CONFIG and "`name`" in error.message
    assert not error.retryable


async def test_a_clean_name_reaches_the_server_unchanged(make_server: MakeServer) -> None:
    server = make_server()
    await steps_of(config_for(server, name="mail.example.com"))
    assert server.handler.ehlo_names == ["mail.example.com"]


async def test_injected_commands_never_reach_the_server(make_server: MakeServer) -> None:
    server = make_server()
    name = INJECTED_NAME + "\r\nDATA\r\nphishing\r\n."
    refused_at_load(config_for(server, name=name, ignoreTLS=True))
    await asyncio.sleep(0.05)
    assert server.connections == 0 and server.messages == []


# -- Connection tests --------------------------------------------------------------------------


async def test_connect_to_unsecure_server(make_server: MakeServer) -> None:
    steps = await steps_of(config_for(make_server(), ignoreTLS=True))
    assert "ehlo" in steps and "starttls" not in steps


async def test_connect_and_upgrade_with_starttls(make_server: MakeServer, ca_pem: str) -> None:
    steps = await steps_of(config_for(make_server(mode="starttls"), tls={"ca": ca_pem}))
    assert "starttls" in steps


async def test_connect_and_be_rejected() -> None:
    """The server greets, then answers 454 and drops the connection."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        await reader.readline()
        writer.write(b"454 4.3.0 Try again later\r\n")
        await writer.drain()

    server = await ScriptedServer(script).start()
    try:
        with pytest.raises(ConnectorError) as info:
            await steps_of(config_for(server.port))
    finally:
        await server.stop()
    assert info.value.code is ErrorCode.CONNECTION_FAILED and info.value.retryable


async def test_connect_and_upgrade_with_forced_starttls(
    make_server: MakeServer, ca_pem: str
) -> None:
    config = config_for(make_server(mode="starttls"), requireTLS=True, tls={"ca": ca_pem})
    assert "starttls" in await steps_of(config)


async def test_connect_and_try_to_upgrade_starttls(make_server: MakeServer) -> None:
    """`requireTLS` with `opportunisticTLS` against a server without STARTTLS: connected,
    unencrypted (upstream asserts `secure === false` and no error)."""
    server = make_server()
    steps = await steps_of(config_for(server, requireTLS=True, opportunisticTLS=True))
    assert "ehlo" in steps and "starttls" not in steps


async def test_try_upgrade_with_starttls_where_not_advertised(make_server: MakeServer) -> None:
    with pytest.raises(ConnectorError) as info:
        await steps_of(config_for(make_server(), requireTLS=True))
    assert info.value.code is ErrorCode.TLS_FAILED and "requireTLS" in info.value.message


async def test_connect_to_a_secure_server(make_server: MakeServer, ca_pem: str) -> None:
    config = config_for(make_server(mode="implicit"), secure=True, tls={"ca": ca_pem})
    assert "tls+greeting" in await steps_of(config)


async def test_error_for_a_port_nobody_listens_on() -> None:
    with pytest.raises(ConnectorError) as info:
        await steps_of(config_for(dead_port()))
    assert info.value.code is ErrorCode.CONNECTION_FAILED


def test_error_for_too_large_port() -> None:
    error = refused_at_load(config_for(999999999))
    assert error.code is ErrorCode.INVALID_CONFIG and "`port`" in error.message


async def test_inactivity_timeout() -> None:
    """`socketTimeout: 100`: the server greets and then says nothing more."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        await writer.drain()
        await asyncio.sleep(60)

    server = await ScriptedServer(script).start()
    try:
        with pytest.raises(ConnectorError) as info:
            await steps_of(config_for(server.port, socketTimeout=100))
    finally:
        await server.stop()
    assert info.value.code is ErrorCode.TIMEOUT


async def test_send_to_unsecure_server(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server, ignoreTLS=True, fromEmail=SENDER)) as connector:
        await connector.send(VALID, "SignIn", {"code": "246810"})
    (message,) = server.messages
    assert message.mail_from == SENDER and message.rcpt_tos == [VALID]
    assert b"246810" in message.content


# -- Login tests (upstream's server disables STARTTLS; ours offers it: no AUTH in clear) -----

LOGIN = {"users": {"testuser": "testpass"}, "tokens": {"testtoken": "testuser"}}
# Upstream's wrong password and token are "invalid"; every configured secret is scrubbed from
# every later error in the process, so that word would vanish from other tests' messages.
WRONG = "invalid-secret-7f3a"


@pytest.fixture
def login_server(make_server: MakeServer) -> TestServer:
    return make_server(mode="starttls", auth_required=True, **LOGIN)


def login_config(server: TestServer, ca_pem: str, auth: dict[str, Any]) -> dict[str, Any]:
    return config_for(server, tls={"ca": ca_pem}, auth=auth, fromEmail=SENDER)


async def test_login(login_server: TestServer, ca_pem: str) -> None:
    auth = {"user": "testuser", "pass": "testpass"}
    assert "auth" in await steps_of(login_config(login_server, ca_pem, auth))
    assert login_server.handler.auth_attempts[-1][1] == "testuser"


async def test_error_for_invalid_login(login_server: TestServer, ca_pem: str) -> None:
    with pytest.raises(ConnectorError) as info:
        await steps_of(login_config(login_server, ca_pem, {"user": "testuser", "pass": WRONG}))
    assert info.value.code is ErrorCode.AUTH_FAILED and info.value.smtp_code == 535


@pytest.mark.parametrize(
    "auth", [{"user": "testuser"}, {"user": "testuser", "pass": ""}], ids=["missing", "incomplete"]
)
async def test_error_for_missing_or_incomplete_credentials(
    login_server: TestServer, ca_pem: str, auth: dict[str, Any]
) -> None:
    """Upstream: "Missing credentials", code EAUTH, no server response. Ours: the same words,
    `invalid_config`, when the connector is built; the server never hears of it."""
    error = refused_at_load(login_config(login_server, ca_pem, auth))
    assert error.code is ErrorCode.INVALID_CONFIG and "Missing credentials" in error.message
    assert error.smtp_code is None
    assert login_server.connections == 0 and login_server.handler.auth_attempts == []


async def test_login_with_xoauth2_string(login_server: TestServer, ca_pem: str) -> None:
    auth = {"type": "oauth2", "user": "testuser", "accessToken": "testtoken"}
    await steps_of(login_config(login_server, ca_pem, auth))
    assert login_server.handler.auth_attempts[-1] == ("XOAUTH2", "testuser")


async def test_error_for_invalid_xoauth2_token(login_server: TestServer, ca_pem: str) -> None:
    auth = {"type": "oauth2", "user": "testuser", "accessToken": WRONG}
    with pytest.raises(ConnectorError) as info:
        await steps_of(login_config(login_server, ca_pem, auth))
    assert info.value.code is ErrorCode.AUTH_FAILED


# -- Send messages -----------------------------------------------------------------------------


async def send(server: TestServer, to: str | list[str], **config: Any) -> Any:
    async with SmtpConnector(config_for(server, fromEmail=SENDER, **config)) as connector:
        return await connector.send(to, "SignIn", {"code": "135790"})


async def test_send_message(make_server: MakeServer) -> None:
    result = await send(make_server(pipelining=True), VALID)
    assert result.accepted == [VALID] and result.rejected == {}


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "without-pipelining"])
async def test_send_only_to_valid_recipients(make_server: MakeServer, pipelining: bool) -> None:
    server = make_server(pipelining=pipelining, reject_rcpt={INVALID: REFUSED})
    to = ["test1@valid.recipient", INVALID, "test3@valid.recipient"]
    result = await send(server, to, pipelining=pipelining)
    assert result.accepted == ["test1@valid.recipient", "test3@valid.recipient"]
    assert list(result.rejected) == [INVALID] and result.rejected[INVALID][0] == 550
    assert server.messages[0].rcpt_tos == result.accepted


async def test_reject_all_recipients(make_server: MakeServer) -> None:
    """Upstream: `err.rejected` is all three, `err.rejectedErrors` has three entries."""
    to = ["test1@invalid.recipient", INVALID, "test3@invalid.recipient"]
    server = make_server(pipelining=True, reject_rcpt=dict.fromkeys(to, REFUSED))
    with pytest.raises(ConnectorError) as info:
        await send(server, to)
    error = info.value
    assert error.code is ErrorCode.RECIPIENT_REJECTED and error.smtp_code == 550
    assert [item["recipient"] for item in error.details] == to
    assert all(
        item["smtp_code"] == 550 and "valid.recipient" in item["message"] for item in error.details
    )
    assert all(address in error.message for address in to)
    assert not error.retryable and server.messages == []


async def test_error_for_invalid_sender(make_server: MakeServer) -> None:
    bad = "test@invalid.sender"
    server = make_server(reject_sender={bad: "550 Only user@valid.sender is allowed to send mail"})
    with pytest.raises(ConnectorError) as info:
        async with SmtpConnector(config_for(server, fromEmail=bad)) as connector:
            await connector.send(VALID, "SignIn", {"code": "1"})
    assert info.value.code is ErrorCode.SENDER_REJECTED and info.value.smtp_code == 550


async def test_error_for_invalidly_formatted_recipients(make_server: MakeServer) -> None:
    server = make_server()
    with pytest.raises(ConnectorError) as info:
        await send(server, [VALID, '"address\r\n with folding"@valid.recipient'])
    assert info.value.code is ErrorCode.INVALID_RECIPIENT
    assert server.connections == 0


async def test_send_using_smtputf8(make_server: MakeServer) -> None:
    server = make_server(reject_rcpt={INVALID: REFUSED})
    to = ["test1@valid.recipient", INVALID, "test3õ@valid.recipient"]
    result = await send(server, to)
    assert result.accepted == ["test1@valid.recipient", "test3õ@valid.recipient"]
    assert list(result.rejected) == [INVALID]
    assert "SMTPUTF8" in server.messages[0].mail_options
    message = message_from_bytes(server.messages[0].content, policy=policy.default)
    assert "test3õ@valid.recipient" in str(message["To"])


# -- opportunisticTLS when the server refuses STARTTLS (upstream's option; our cases) --------


async def test_refused_starttls_is_an_error_without_opportunistic_tls() -> None:
    server = await ScriptedServer(refusing_starttls).start()
    try:
        with pytest.raises(ConnectorError) as info:
            await steps_of(config_for(server.port))
    finally:
        await server.stop()
    assert info.value.code is ErrorCode.TLS_FAILED and info.value.smtp_code == 454


async def test_refused_starttls_goes_on_unencrypted_with_opportunistic_tls() -> None:
    server = await ScriptedServer(refusing_starttls).start()
    try:
        async with SmtpConnector(config_for(server.port, opportunisticTLS=True)) as connector:
            result = await connector.send(VALID, "SignIn", {"code": "1"})
    finally:
        await server.stop()
    assert result.accepted == [VALID]


async def refusing_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Offers STARTTLS and answers it with 454, then carries on as a plain SMTP server."""
    writer.write(b"220 scripted ESMTP\r\n")
    await writer.drain()
    while line := await reader.readline():
        verb = line.strip().split(b" ")[0].upper()
        if verb == b"EHLO":
            writer.write(b"250-scripted\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
        elif verb == b"STARTTLS":
            writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n")
        else:
            await smtp_dialogue_step(reader, writer, line)
            if verb == b"QUIT":
                return
        await writer.drain()


async def smtp_dialogue_step(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes
) -> None:
    verb = line.strip().split(b" ")[0].upper()
    if verb == b"DATA":
        writer.write(b"354 go ahead\r\n")
        await writer.drain()
        while (await reader.readline()) not in (b".\r\n", b""):
            pass
        writer.write(b"250 OK\r\n")
    elif verb == b"QUIT":
        writer.write(b"221 bye\r\n")
    else:
        writer.write(b"250 OK\r\n")
