"""Delivery over real sockets to aiosmtpd: each TLS mode, each auth kind, results."""

from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from smtp_servers import PASSWORD, USER, MakeServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector, UsageType


def parsed(content: bytes) -> EmailMessage:
    return message_from_bytes(content, policy=policy.default)


async def test_plain_delivery_reaches_server(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(SmtpConfig.model_validate(config_for(server))) as connector:
        result = await connector.send(
            to="user@example.org", usage_type=UsageType.SIGN_IN, payload={"code": "482913"}
        )
    (received,) = server.messages
    assert received.rcpt_tos == ["user@example.org"]
    assert received.mail_from == "noreply@example.com"
    message = parsed(received.content)
    assert "482913" in message.get_body(("plain",)).get_content()
    assert "482913" in message.get_body(("html",)).get_content()
    assert message["Message-ID"] == result.message_id
    assert result.accepted == ["user@example.org"]
    assert result.server == f"127.0.0.1:{server.port}"
    assert result.attempts == 1
    assert "queued" in result.response


async def test_starttls_with_trusted_ca(make_server: MakeServer, ca_pem: str) -> None:
    server = make_server(mode="starttls", require_starttls=True)
    config = config_for(server, tls={"ca": ca_pem}, requireTLS=True)
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "Register", {"code": "111222"})
    assert len(server.messages) == 1
    assert b"111222" in server.messages[0].content


async def test_implicit_tls_port(make_server: MakeServer, ca_pem: str) -> None:
    server = make_server(mode="implicit")
    config = config_for(server, secure=True, tls={"ca": ca_pem})
    async with SmtpConnector(config) as connector:
        result = await connector.send("user@example.org", "SignIn", {"code": "333444"})
    assert result.accepted == ["user@example.org"]
    assert b"333444" in server.messages[0].content


async def test_ignore_tls_never_upgrades(make_server: MakeServer, ca_pem: str) -> None:
    server = make_server(mode="starttls")
    config = config_for(server, ignoreTLS=True)
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "555666"})
    assert not any(b"STARTTLS" in chunk.upper() for chunk in server.chunks)
    assert len(server.messages) == 1


@pytest.mark.parametrize("method", ["PLAIN", "LOGIN", "CRAM-MD5", None])
async def test_password_auth_methods(
    make_server: MakeServer, ca_pem: str, method: str | None
) -> None:
    server = make_server(mode="starttls", auth_required=True, users={USER: PASSWORD})
    auth = {"user": USER, "pass": PASSWORD}
    if method:
        auth["method"] = method
    async with SmtpConnector(config_for(server, tls={"ca": ca_pem}, auth=auth)) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123123"})
    assert len(server.messages) == 1
    mechanism, login = server.handler.auth_attempts[-1]
    assert login == USER
    if method:
        assert mechanism == method


async def test_no_auth_for_ip_authorised_relay(make_server: MakeServer) -> None:
    server = make_server(users={USER: PASSWORD})
    async with SmtpConnector(config_for(server, auth={})) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "123123"})
    assert server.handler.auth_attempts == []
    assert len(server.messages) == 1


async def test_partial_recipient_rejection_reported(make_server: MakeServer) -> None:
    server = make_server(reject_rcpt={"bad@example.org": "550 5.1.1 No such user"})
    async with SmtpConnector(config_for(server)) as connector:
        result = await connector.send(
            ["good@example.org", "bad@example.org"], "SignIn", {"code": "1"}
        )
    assert result.accepted == ["good@example.org"]
    assert result.rejected["bad@example.org"][0] == 550
    assert server.messages[0].rcpt_tos == ["good@example.org"]


def test_send_sync_from_plain_code(make_server: MakeServer) -> None:
    server = make_server()
    connector = SmtpConnector(config_for(server))
    try:
        first = connector.send_sync("a@example.org", "SignIn", {"code": "100001"})
        second = connector.send_sync("b@example.org", "SignIn", {"code": "100002"})
    finally:
        connector.close()
    assert first.accepted == ["a@example.org"] and second.accepted == ["b@example.org"]
    assert len(server.messages) == 2
    assert server.connections == 1  # the sync path keeps its pooled connection warm


async def test_send_sync_from_thread_while_a_loop_runs(make_server: MakeServer) -> None:
    server = make_server()
    connector = SmtpConnector(config_for(server))
    outcome: dict[str, object] = {}

    def worker() -> None:
        outcome["result"] = connector.send_sync("t@example.org", "SignIn", {"code": "777"})

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.01)  # this loop keeps running meanwhile
    connector.close()
    assert outcome["result"].accepted == ["t@example.org"]  # type: ignore[union-attr]
    assert len(server.messages) == 1


async def test_verify_sends_nothing(make_server: MakeServer, ca_pem: str) -> None:
    server = make_server(mode="starttls", auth_required=True, users={USER: PASSWORD})
    config = config_for(server, tls={"ca": ca_pem}, auth={"user": USER, "pass": PASSWORD})
    async with SmtpConnector(config) as connector:
        report = await connector.verify()
    ((_, steps),) = report
    assert [s.name for s in steps][:3] == ["dns", "connect", "greeting"]
    assert any(s.name == "starttls" for s in steps)
    assert any(s.name.startswith("auth") for s in steps)
    assert server.messages == []
    assert not any(b"MAIL FROM" in c.upper() for c in server.chunks)


async def test_send_test_uses_generic_and_000000(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        await connector.send_test("admin@example.org")
    message = parsed(server.messages[0].content)
    assert "000000" in message.get_body(("plain",)).get_content()
    assert "000000" in message["Subject"]


async def test_smtputf8_local_part(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        await connector.send("用户@例え.jp", "SignIn", {"code": "909090"})
    (received,) = server.messages
    assert received.rcpt_tos == ["用户@xn--r8jz45g.jp"]  # UTF-8 local part, A-label domain
    assert "SMTPUTF8" in [o.upper() for o in received.mail_options]


async def test_idn_domain_goes_out_as_punycode(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        await connector.send("user@bücher.de", "SignIn", {"code": "1"})
    assert server.messages[0].rcpt_tos == ["user@xn--bcher-kva.de"]


async def test_invalid_recipient_is_refused_before_connecting(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(
                "victim@example.org\r\nBcc: all@example.org", "SignIn", {"code": "1"}
            )
    assert info.value.code is ErrorCode.INVALID_RECIPIENT
    assert server.connections == 0
