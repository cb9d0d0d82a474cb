"""The memory/console/file transports and the pytest plugin: same bytes as a real send."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.delivery.backends import NothingSent, Outbox

BASE = {"fromEmail": "noreply@example.com", "templates": []}


async def test_memory_transport_records_wire_bytes(smtp_outbox: Outbox) -> None:
    async with SmtpConnector({**BASE, "transport": "memory"}) as connector:
        result = await connector.send("alice@example.org", "SignIn", {"code": "246810"})
    (captured,) = smtp_outbox
    assert captured.to == ["alice@example.org"]
    assert captured.message_id == result.message_id
    parsed = email.message_from_bytes(captured.raw, policy=policy.default)
    assert parsed["Message-ID"] == result.message_id
    assert "246810" in parsed.get_body(("plain",)).get_content()
    assert smtp_outbox.last_code("ALICE@example.org") == "246810"


async def test_last_code_is_the_latest(smtp_outbox: Outbox) -> None:
    async with SmtpConnector({**BASE, "transport": "memory"}) as connector:
        await connector.send("bob@example.org", "SignIn", {"code": "111111"})
        await connector.send("carol@example.org", "SignIn", {"code": "222222"})
        await connector.send("bob@example.org", "ForgotPassword", {"code": "333333"})
    assert smtp_outbox.last_code("bob@example.org") == "333333"
    assert smtp_outbox.last_code("carol@example.org") == "222222"
    assert [m.usage_type for m in smtp_outbox.to("bob@example.org")] == ["SignIn", "ForgotPassword"]


def test_last_code_with_nothing_sent_says_why(smtp_outbox: Outbox) -> None:
    with pytest.raises(NothingSent, match=r"outbox is empty.*transport: \"memory\""):
        smtp_outbox.last_code("nobody@example.org")
    connector = SmtpConnector({**BASE, "transport": "memory"})
    connector.send_sync("bob@example.org", "SignIn", {"code": "111111"})
    with pytest.raises(AssertionError, match=r"No message was sent to nobody@.*bob@example.org"):
        smtp_outbox.last_code("nobody@example.org")
    link = "https://example.org/invite?t=abc"
    connector.send_sync("eve@example.org", "OrganizationInvitation", {"link": link})
    connector.close()
    with pytest.raises(NothingSent, match=r"OrganizationInvitation.*no code.*link"):
        smtp_outbox.last_code("eve@example.org")
    assert smtp_outbox.last("eve@example.org").payload["link"] == link


def test_memory_transport_needs_no_host() -> None:
    connector = SmtpConnector({**BASE, "transport": "memory"})
    result = connector.send_sync("x@example.org", "Register", {"code": "1"})
    connector.close()
    assert result.server == "memory"


async def test_file_transport_writes_eml(tmp_path: Path) -> None:
    config = {**BASE, "transport": "file", "outboxDir": str(tmp_path / "out")}
    async with SmtpConnector(config) as connector:
        await connector.send("dave@example.org", "SignIn", {"code": "135790"})
    (written,) = (tmp_path / "out").glob("*.eml")
    parsed = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["To"] == "dave@example.org"
    assert "135790" in parsed.get_body(("plain",)).get_content()


def test_file_transport_requires_folder() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConnector({**BASE, "transport": "file"})
    assert info.value.code is ErrorCode.INVALID_CONFIG


async def test_console_transport_prints(capsys: pytest.CaptureFixture[str]) -> None:
    async with SmtpConnector({**BASE, "transport": "console"}) as connector:
        await connector.send("erin@example.org", "SignIn", {"code": "864200"})
    out = capsys.readouterr().out
    assert "To: erin@example.org" in out
    assert "864200" in out


def test_template_not_found_when_shipped_templates_are_off() -> None:
    config = {
        **BASE,
        "transport": "memory",
        "useShippedTemplates": False,
        "templates": [{"usageType": "Register", "subject": "s", "content": "{{code}}"}],
    }
    connector = SmtpConnector(config)
    assert "777" in (connector.render("Register", {"code": "777"}).text or "")
    with pytest.raises(ConnectorError) as info:
        connector.render("SignIn", {"code": "1"})
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND
    assert "SignIn" in info.value.message
