"""Templates from a provider, sent for real: a text changed between two sends is the text the
SMTP server receives on the second, with the compose cache on and off; and a failover
server's `defaultFromEmail` still wins over a template's `sendFrom` on that server."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest
from smtp_servers import MakeServer, config_for

from smtp_connector import SmtpConnector


class Snapshot:
    """What a database-backed provider keeps: the stored templates and a version."""

    def __init__(self) -> None:
        self.version = 0
        self.stored: dict[str, dict[str, Any]] = {}

    def save(self, usage: str, details: dict[str, Any]) -> None:
        self.stored[usage] = details
        self.version += 1

    def template(self, usage_type: str, locale: str | None) -> dict[str, Any] | None:
        return self.stored.get(usage_type)


def body(content: bytes) -> str:
    message = message_from_bytes(content, policy=policy.default)
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


@pytest.mark.parametrize("cache", [True, False], ids=["compose-cache", "no-cache"])
async def test_a_changed_template_is_what_the_second_send_carries(
    make_server: MakeServer, cache: bool
) -> None:
    server = make_server()
    snapshot = Snapshot()
    old = {
        "subject": "Old {{code}}",
        "content": "Old text: {{code}}",
        "sendFrom": "old@example.com",
    }
    new = {
        "subject": "New {{code}}",
        "content": "New text: {{code}}",
        "replyTo": "help@example.com",
    }
    snapshot.save("SignIn", old | {"contentType": "text/plain"})
    config = config_for(server, composeCache=cache)
    async with SmtpConnector(config, template_provider=snapshot) as connector:
        await connector.send("ana@example.org", "SignIn", {"code": "111111"})
        await connector.send("ana@example.org", "SignIn", {"code": "222222"})
        snapshot.save("SignIn", new | {"contentType": "text/plain"})
        await connector.send("ana@example.org", "SignIn", {"code": "333333"})
    _, second, third = (m.content for m in server.messages)
    assert b"Subject: Old 222222" in second and b"From: old@example.com" in second
    assert body(second).startswith("Old text: 222222")
    assert b"Subject: New 333333" in third and b"Old" not in third
    assert body(third).startswith("New text: 333333")
    assert b"From: noreply@example.com" in third and b"Reply-To: help@example.com" in third
    assert server.messages[2].mail_from == "noreply@example.com"


async def test_a_servers_default_from_wins_over_the_templates(make_server: MakeServer) -> None:
    """A failover server whose provider accepts only its own domain (`defaultFromEmail`)."""
    down, backup = make_server(reject_sender={"alerts@example.com": "550 not yours"}), make_server()
    template = {"usageType": "SignIn", "subject": "s", "content": "{{code}}",
                "sendFrom": "Alerts <alerts@example.com>"}  # fmt: skip
    backup_server = {
        "host": "127.0.0.1",
        "port": backup.port,
        "defaultFromEmail": "mx@b.example.net",
    }
    config = config_for(down, templates=[template], servers=[backup_server], retry={"attempts": 2})
    async with SmtpConnector(config) as connector:
        result = await connector.send("ana@example.org", "SignIn", {"code": "1"})
    assert result.server == f"127.0.0.1:{backup.port}"
    (received,) = backup.messages
    assert received.mail_from == "mx@b.example.net"
    assert b"From: mx@b.example.net" in received.content
