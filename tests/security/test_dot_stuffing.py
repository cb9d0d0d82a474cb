"""Finding 6: dot-stuffing left bare CR/LF and a lone `\\r.\\r\\n` undoubled.

A server that takes a bare CR or LF as a line end (the SMTP smuggling setup) then ends the
message early and runs the rest as commands. Bare CR and LF now become CRLF before dots are
doubled, as aiosmtplib's own `data()` does, so such a server sees one message, whole.
"""

from __future__ import annotations

import ssl

import pytest
from smtp_servers import ScriptedServer, config_for, lenient_dialogue

from smtp_connector.config import SmtpConfig
from smtp_connector.delivery.session import SessionOptions, SmtpSession

SMUGGLED = b"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<target@example.org>\r\nDATA\r\n"


@pytest.mark.parametrize("line_end", [b"\r", b"\n"], ids=["bare-CR", "bare-LF"])
async def test_a_lone_dot_after_a_bare_line_end_cannot_end_the_message(line_end: bytes) -> None:
    transactions: list[bytes] = []
    server = await ScriptedServer(
        lambda reader, writer: lenient_dialogue(reader, writer, transactions)
    ).start()
    message = (
        b"Subject: code\r\n\r\nYour code is 123456"
        + line_end + b".\r\n" + SMUGGLED
        + b"Subject: forged\r\n\r\nsmuggled\r\n"
    )  # fmt: skip
    settings = SmtpConfig.model_validate(config_for(server.port)).server_list()[0]
    session = SmtpSession(settings, SessionOptions(ssl_context=ssl.create_default_context()))
    try:
        await session.open()
        await session.deliver("no-reply@example.com", ["user@example.org"], message)
        await session.close()
    finally:
        await server.stop()
    assert len(transactions) == 1  # one message, not two
    assert b"smuggled" in transactions[0]  # the would-be second message is body text
    assert b"\n..\n" in transactions[0].replace(b"\r", b"")  # the lone dot was doubled
