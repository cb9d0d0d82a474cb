"""No line over 998 octets, ever (RFC 5322 §2.1.1), whatever the From name, subject, recipient or
custom header holds: long unbroken words and odd Unicode (combining marks, bidi controls,
emoji sequences, fullwidth forms) are folded or RFC 2047-encoded, or refused at config time.

Properties run on composition (many examples), then through aiosmtpd, which answers
`500 Line too long` to a longer line, so the wire form is covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from smtp_servers import TestServer

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.addresses import CONTROLS

BASE: dict[str, Any] = {"host": "smtp.example.com", "port": 587, "fromEmail": "noreply@example.com"}
TEMPLATE = {
    "usageType": "Generic",
    "contentType": "text/plain",
    "subject": "{{subject}}",
    "content": "Your code is {{code}}.",
}
PROPERTY = settings(max_examples=200, deadline=None, database=None)

# Characters that stress header encoders: ASCII atext and specials, Latin, CJK, RTL with bidi
# controls, combining marks, emoji with ZWJ and variation selectors, fullwidth forms, NBSP.
ODD = "aZ09!#$%&'*+/=?^_`{|}~-.,;:<>@()[]\\\" éßøÆ中文字한국어עבריתعربي\u200f\u200e\u202e"
ODD += "\u0301\u0308\u20ac👩\u200d💻\ufe0f\uff21\uff0e\u00a0\u3000=?"
odd_text = st.text(st.sampled_from(ODD), max_size=400)
# One long word: a run of one character (ASCII or not) with optional odd text around it.
long_word = st.builds(
    lambda before, char, count, after: before + char * count + after,
    st.text(st.sampled_from(ODD), max_size=20),
    st.sampled_from(["x", "é", "中", "👩\u200d💻", "=", '"', "\u0301", "A.B"]),
    st.integers(min_value=60, max_value=2500),
    st.text(st.sampled_from(ODD), max_size=20),
)
values = st.one_of(long_word, odd_text, st.text(max_size=300))
_ATEXT = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"
local_parts = st.text(st.sampled_from(_ATEXT), min_size=1, max_size=64)
labels = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=1, max_size=63)
domains = st.lists(labels, min_size=1, max_size=4).map(lambda parts: ".".join([*parts, "com"]))
header_names = st.text(st.sampled_from("ABCXYZabcxyz0189-_"), min_size=1, max_size=120).map(
    lambda name: "X-" + name
)


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def squash(value: str) -> str:
    return "".join(CONTROLS.sub(" ", value).split())


def assert_lines_fit(raw: bytes) -> EmailMessage:
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998, max(len(line) for line in lines)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    message = parse(raw)
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build(
    from_name: str, subject: str, to: str, headers: dict[str, str], **extra: Any
) -> tuple[SmtpConnector, dict[str, Any]] | ConnectorError:
    """A connector for the config part (or the config error), and the send arguments."""
    config = BASE | {"templates": [TEMPLATE], "customHeaders": headers} | extra
    if from_name:
        config["fromName"] = from_name
    try:
        connector = SmtpConnector(config)
    except ConnectorError as error:
        return error
    return connector, {
        "to": to,
        "usage_type": "Generic",
        "payload": {"code": "1", "subject": subject},
    }


def not_one_mailbox(display: str) -> bool:
    """Display names a recipient may be refused for: possibly more than one mailbox (`<`, `@`),
    or CR, LF, NUL anywhere in the recipient string (other controls are collapsed)."""
    return any(char in display for char in "<>@\r\n\x00")


def check_refusal(error: ConnectorError, from_name: str, headers: dict[str, str]) -> None:
    """Config refusals are only ever the documented ones: a control in fromName, an unbroken
    ASCII custom header value too long to fold."""
    assert error.code is ErrorCode.INVALID_CONFIG
    if "`fromName`" in error.message:
        assert CONTROLS.search(from_name)
    else:
        assert "customHeaders" in error.message, error.message


@PROPERTY
@given(
    from_name=values,
    subject=values,
    display=values,
    local=local_parts,
    domain=domains,
    header=st.tuples(header_names, values),
)
@example(
    from_name="x" * 2000,
    subject="y" * 2000,
    display="z" * 2000,
    local="a" * 64,
    domain="b" * 63 + ".com",
    header=("X-A", "é" * 2000),
)
@example(
    from_name="中" * 1000,
    subject="👩\u200d💻" * 500,
    display="\u0301" * 1500,
    local="a",
    domain="example.com",
    header=("X-" + "N" * 120, "a " + "b" * 700),
)
def test_no_line_over_998_octets(
    from_name: str, subject: str, display: str, local: str, domain: str, header: tuple[str, str]
) -> None:
    to = f"{quoted(display)} <{local}@{domain}>"
    built = build(from_name, subject, to, dict([header]))
    if isinstance(built, ConnectorError):
        check_refusal(built, from_name, dict([header]))
        return
    connector, args = built
    try:
        email = connector.render(args["usage_type"], args["payload"], to=args["to"])
    except ConnectorError as error:
        assert error.code is ErrorCode.INVALID_RECIPIENT
        assert len(f"{local}@{domain}") > 254 or not_one_mailbox(display), error.message
        return
    message = assert_lines_fit(email.as_bytes())
    (sender,) = message["From"].addresses
    assert squash(sender.display_name) == squash(from_name)
    assert squash(message["Subject"]) == squash(subject)
    (recipient,) = message["To"].addresses
    assert recipient.addr_spec == f"{local}@{domain}"
    assert squash(message[header[0]]) == squash(header[1])


# -- through a real server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def aiosmtpd_server() -> Iterator[TestServer]:
    server = TestServer().start()
    yield server
    server.stop()


@settings(max_examples=40, deadline=None, database=None)
@given(from_name=values, subject=values, display=values, header=st.tuples(header_names, values))
@example(from_name="x" * 2000, subject="y" * 2000, display="z" * 2000, header=("X-A", "é" * 2000))
def test_aiosmtpd_accepts_every_line(
    aiosmtpd_server: TestServer,
    from_name: str,
    subject: str,
    display: str,
    header: tuple[str, str],
) -> None:
    to = f"{quoted(display)} <user@example.org>"
    server = {"host": "127.0.0.1", "port": aiosmtpd_server.port, "retry": {"attempts": 1}}
    built = build(from_name, subject, to, dict([header]), **server)
    if isinstance(built, ConnectorError):
        check_refusal(built, from_name, dict([header]))
        return
    connector, args = built
    before = len(aiosmtpd_server.messages)
    try:
        connector.send_sync(**args)
    except ConnectorError as error:
        assert error.code is ErrorCode.INVALID_RECIPIENT
        assert not_one_mailbox(display), error.message
        return
    finally:
        connector.close()
    assert len(aiosmtpd_server.messages) == before + 1
    assert_lines_fit(aiosmtpd_server.messages[-1].content)
