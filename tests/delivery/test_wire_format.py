"""The bytes on the wire, as aiosmtpd records them: no NUL or other control character travels
raw in a body part, and each part's Content-Transfer-Encoding is chosen by size (7bit for plain
ASCII, else the smaller of quoted-printable and base64)."""

from __future__ import annotations

import base64
import binascii
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from smtp_servers import MakeServer, TestServer, config_for

from smtp_connector import SmtpConnector

CODE = "482913"
TEMPLATE = {
    "usageType": "Generic",
    "subject": "Code {{code}}",
    "textContent": "{{note}}\n{{code}}\n",
    "htmlContent": "<p>{{note}}</p><b>{{code}}</b>",
}


def parsed(content: bytes) -> EmailMessage:
    return message_from_bytes(content, policy=policy.default)  # type: ignore[return-value]


async def deliver(server: TestServer, note: str, locale: str | None = None) -> EmailMessage:
    templates = [] if locale else [TEMPLATE]
    async with SmtpConnector(config_for(server, templates=templates)) as connector:
        await connector.send("user@example.org", "Generic", {"code": CODE, "note": note}, locale)
    return parsed(server.messages[-1].content)


def wire(server: TestServer) -> bytes:
    """Everything the client wrote, commands and DATA, as the server's socket received it."""
    return b"".join(server.chunks)


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f"])
async def test_control_characters_in_a_value_are_encoded_never_raw(
    make_server: MakeServer, control: str
) -> None:
    """A NUL used to reach the wire raw in a 7bit part. Now the part is encoded; the receiver
    decodes the value exactly as given."""
    server = make_server()
    note = f"before{control}after"
    message = await deliver(server, note)
    raw = wire(server)
    assert control.encode() not in raw
    assert re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw) is None
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert note in plain.get_content()
    assert note in html.get_content()


async def test_nul_in_the_subject_is_collapsed(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server, templates=[TEMPLATE])) as connector:
        await connector.send("user@example.org", "Generic", {"code": "48\x0029", "note": "n"})
    assert b"\x00" not in wire(server)
    assert parsed(server.messages[0].content)["Subject"] == "Code 48 29"


def _sizes(text: str) -> dict[str, int]:
    """Size of `text` (LF lines, as composed) in each encoding, with CRLF line ends."""
    data = text.encode("utf-8")
    qp = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return {"quoted-printable": len(qp), "base64": len(b64)}


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Your code, valid for ten minutes.", "7bit"),
        ("Привет! Это ваш код подтверждения, он действует десять минут.", "base64"),
        ("您的验证码如下，十分钟内有效。请勿将验证码告诉任何人。", "base64"),
        ("مرحبا، هذا هو رمز التحقق الخاص بك، وهو صالح لمدة عشر دقائق.", "base64"),
        ("Ihr Bestätigungscode ist zehn Minuten lang gültig. Viele Grüße", "quoted-printable"),
    ],
)
async def test_transfer_encoding_is_chosen_per_part_by_size(
    make_server: MakeServer, note: str, expected: str
) -> None:
    server = make_server()
    message = await deliver(server, note * 3)
    plain = message.get_body(("plain",))
    assert plain is not None
    assert plain["Content-Transfer-Encoding"] == expected
    text = plain.get_content().replace("\r\n", "\n")
    assert text.startswith(f"{note * 3}\n{CODE}")
    if expected != "7bit":
        # What was encoded: a QP part's last line break reads as part of the MIME boundary.
        sizes = _sizes(text if text.endswith("\n") else text + "\n")
        assert sizes[expected] <= min(sizes.values())
        first_part = re.search(  # text/plain comes first in multipart/alternative
            rb"Content-Transfer-Encoding: " + expected.encode() + rb"\r\n\r\n(.*?)\r\n--",
            server.messages[-1].content,
            flags=re.S,
        )
        assert first_part is not None
        assert len(first_part.group(1)) + 2 == sizes[expected]  # that smaller encoding went out
    for line in server.messages[-1].content.split(b"\r\n"):
        assert len(line) <= 998


@pytest.mark.parametrize("locale", ["ru", "zh-CN", "ja", "ko"])
async def test_shipped_non_latin_text_parts_go_out_base64(
    make_server: MakeServer, locale: str
) -> None:
    server = make_server()
    message = await deliver(server, "", locale=locale)
    plain = message.get_body(("plain",))
    assert plain is not None and plain["Content-Transfer-Encoding"] == "base64"
    assert CODE in plain.get_content()
    html = message.get_body(("html",))
    assert html is not None and CODE in html.get_content()
