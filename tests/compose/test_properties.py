"""Property-based tests (hypothesis) on rendering and message building.

Arbitrary unicode payloads, subjects, display names and recipient strings must never add a
header or a MIME part, the stdlib parser must always read the message back without defects,
and the code must always be in the body. One property goes through a real SMTP server so the
wire form (dot-stuffing included) is covered too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from smtp_servers import TestServer

from smtp_connector import ConnectorError, ErrorCode, RenderedEmail, SmtpConnector
from smtp_connector.addresses import CONTROLS
from smtp_connector.delivery.transaction import dot_stuff

BASE: dict[str, Any] = {
    "host": "smtp.example.com",
    "port": 587,
    "fromEmail": "noreply@example.com",
}
TEMPLATES: list[dict[str, Any]] = [
    {
        "usageType": "Generic",
        "subject": "{{application.name}}: {{code}} for {{user.name}}",
        "textContent": "Hi {{user.name}},\nyour {{application.name}} code is {{code}}.\n",
        "htmlContent": "<p>Hi {{user.name}},</p><p>your code is <b>{{code}}</b>.</p>",
    },
    {
        "usageType": "SignIn",
        "contentType": "text/html",
        "subject": "Sign in",
        "content": "<p>Hello {{user.name}}, your code: <strong>{{code}}</strong></p>",
    },
    {"usageType": "Register", "contentType": "text/plain", "subject": "{{s}}", "content": "{{s}}"},
]
CONNECTOR = SmtpConnector(BASE | {"templates": TEMPLATES})
HEADERS = Counter(
    [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Auto-Submitted",
        "Content-Type",
    ]
)
PROPERTY = settings(max_examples=150, deadline=None, database=None)

text = st.text()  # every code point but surrogates: controls, CR/LF, NUL, U+2028, RTL, emoji …
no_controls = st.characters(exclude_categories=("Cs", "Cc"))
# Realistic-to-odd codes: anything printable without whitespace.
codes = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1)
INJECTIONS = [
    "\r\nBcc: attacker@evil.example.net",
    "\nBcc: attacker@evil.example.net",
    "\rX-Injected: 1",
    "\r\n\r\n<html>spoof</html>",
    "\r\n.\r\nMAIL FROM:<x@evil.example.net>",
    "\n.\n",
    "\u2028Bcc: a@evil.example.net",
    "\x00",
    "=?utf-8?q?=0D=0ABcc:_x@evil.example.net?=",
    "--=_sc_boundary\r\nContent-Type: text/html\r\n\r\n<p>spoof</p>",
    ", attacker@evil.example.net",
    "; attacker@evil.example.net",
    " <attacker@evil.example.net>",
    '"attacker@evil.example.net" ',
]
hostile = st.one_of(
    text,
    st.sampled_from(INJECTIONS),
    st.builds(lambda a, b, c: a + b + c, text, st.sampled_from(INJECTIONS), text),
)


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def body(message: EmailMessage, subtype: str) -> str:
    """The decoded text of the text/`subtype` part, with \\n line endings."""
    part = message.get_body((subtype,))
    assert part is not None, subtype
    return normal_newlines(part.get_content())


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def squash(value: str) -> str:
    """`value` without whitespace; control characters count as whitespace (headers turn them
    into spaces): the subject and display names may fold or collapse whitespace, never drop or
    add other characters."""
    return "".join(_CONTROLS.sub(" ", value).split())


def normal_newlines(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def assert_well_formed(raw: bytes, utf8: bool = False) -> EmailMessage:
    """7-bit (unless SMTPUTF8), CRLF-only lines of at most 998 octets, exactly the expected
    headers once each, and a message the stdlib parser reads without a single defect."""
    assert utf8 or raw.isascii()
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    # What lets the wire step skip its search for bare CR/LF in composed bytes (crlf_only).
    assert dot_stuff(raw, crlf_only=True) == dot_stuff(raw)
    message = parse(raw)
    expected = HEADERS.copy()
    if not message.is_multipart():
        expected["Content-Transfer-Encoding"] += 1
    assert Counter(message.keys()) == expected
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def render(usage: str, payload: dict[str, Any], to: str = "user@example.org") -> RenderedEmail:
    return CONNECTOR.render(usage, payload, to=to)


# -- payload values ------------------------------------------------------------------------


@PROPERTY
@given(code=text.filter(bool), name=hostile, app=hostile)
@example(code="123456", name="Ann\r\nBcc: x@evil.example.net", app="Acme\n\nBody")
@example(code="\r\n.\r\n", name="\u2028", app="=?utf-8?b?QmNjOiB4?=")
def test_payload_values_never_change_the_message_structure(code: str, name: str, app: str) -> None:
    rendered = render(
        "Generic", {"code": code, "user": {"name": name}, "application": {"name": app}}
    )
    message = assert_well_formed(rendered.as_bytes())

    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    (recipient,) = message["To"].addresses
    assert recipient.addr_spec == "user@example.org"

    assert not any(ch in rendered.subject for ch in "\r\n\u2028\u2029\x85")
    assert squash(message["Subject"]) == squash(f"{app}: {code} for {name}")

    plain = body(message, "plain")
    html = body(message, "html")
    assert normal_newlines(code) in plain
    assert normal_newlines(str(escape(code))) in html


@PROPERTY
@given(value=st.text(no_controls))
@example(value="Ünïcödé " * 20)
@example(value="x" * 300)
@example(value="a\u2028b\u2029c")
def test_subject_reads_back_exactly(value: str) -> None:
    rendered = render("Register", {"s": value})
    message = assert_well_formed(rendered.as_bytes())
    assert message["Subject"] == rendered.subject
    assert squash(rendered.subject) == squash(value)
    assert "\u2028" not in rendered.subject and "\u2029" not in rendered.subject


@PROPERTY
@given(value=text)
@example(value="Code \x1b[31m123456")
@example(value="a\x1eb")
def test_header_lines_are_printable_ascii(value: str) -> None:
    """RFC 5322 §2.2: header field bodies are printable US-ASCII, SP and HTAB."""
    rendered = render("Register", {"s": value})
    head = rendered.as_bytes().split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert re.fullmatch(rb"[\x20-\x7e\t]*", line), line
    assert squash(parse(rendered.as_bytes())["Subject"]) == squash(rendered.subject)


@PROPERTY
@given(code=codes, name=text)
@example(code="<b>&amp;</b>", name="")
@example(code="zqx", name="zqxsentinel0zqx")
@example(code="123456", name="123456")
def test_code_in_both_parts_of_an_html_only_template(code: str, name: str) -> None:
    """An HTML-only template gets a generated text part; the code must be in it verbatim."""
    rendered = render("SignIn", {"code": code, "user": {"name": name}})
    message = assert_well_formed(rendered.as_bytes())
    plain = body(message, "plain")
    html = body(message, "html")
    assert code in plain
    assert str(escape(code)) in html


@settings(max_examples=60, deadline=None, database=None)
@given(value=st.text(st.characters(exclude_categories=("Cs", "Cc", "Z")), min_size=990))
@example(value="Z" * 3000)
@example(value="€" * 1200)
def test_long_unbroken_values_keep_every_line_within_998_octets(value: str) -> None:
    rendered = render("Generic", {"code": value, "user": {"name": value}, "application": {}})
    message = assert_well_formed(rendered.as_bytes())
    assert value in squash(message["Subject"])
    assert value in body(message, "plain")


# -- addresses -----------------------------------------------------------------------------

_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
local_parts = st.lists(st.text(_ATEXT, min_size=1, max_size=12), min_size=1, max_size=3).map(
    ".".join
)
domains = st.sampled_from(
    [
        ("example.org", "example.org"),
        ("mail.example.co.uk", "mail.example.co.uk"),
        ("bücher.example.net", "xn--bcher-kva.example.net"),
        ("例子.广告", "xn--fsqu00a.xn--4rr70v"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("xn--bcher-kva.example.net", "xn--bcher-kva.example.net"),
    ]
)


@PROPERTY
@given(local=local_parts, domain=domains, name=text)
@example(local="ann", domain=("example.org", "example.org"), name='Ann "the boss" <x@evil>, b')
@example(local="ann", domain=("example.org", "example.org"), name="Ünïcödé " * 12)
def test_display_name_recipients_read_back_as_one_mailbox(
    local: str, domain: tuple[str, str], name: str
) -> None:
    unicode_domain, ascii_domain = domain
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    to = f'"{quoted}" <{local}@{unicode_domain}>'
    try:
        rendered = render("Register", {"s": "x"}, to=to)
    except ConnectorError as error:
        assert error.code is ErrorCode.INVALID_RECIPIENT
        return
    assert rendered.envelope_to == [f"{local}@{ascii_domain}"]
    message = assert_well_formed(rendered.as_bytes())
    (mailbox,) = message["To"].addresses
    assert mailbox.username == local
    assert mailbox.domain in (ascii_domain, unicode_domain)
    assert squash(mailbox.display_name) == squash(name)


@PROPERTY
@given(local=local_parts, domain=domains)
def test_valid_addresses_are_accepted(local: str, domain: tuple[str, str]) -> None:
    unicode_domain, ascii_domain = domain
    rendered = render("Register", {"s": "x"}, to=f"{local}@{unicode_domain}")
    assert rendered.envelope_to == [f"{local}@{ascii_domain}"]
    message = assert_well_formed(rendered.as_bytes())
    (mailbox,) = message["To"].addresses
    assert (mailbox.username, mailbox.domain) == (local, ascii_domain)


@settings(max_examples=300, deadline=None, database=None)
@given(to=st.one_of(hostile, st.builds(lambda a, b: a + b, st.just("user@example.org"), hostile)))
@example(to="user@example.org\r\nBcc: attacker@evil.example.net")
@example(to="Victim <victim@example.org>, attacker@evil.example.net")
def test_any_recipient_string_is_refused_or_exactly_one_mailbox(to: str) -> None:
    try:
        rendered = render("Register", {"s": "x"}, to=to)
    except ConnectorError as error:
        assert error.code is ErrorCode.INVALID_RECIPIENT
        return
    (envelope,) = rendered.envelope_to
    assert not any(ch in envelope for ch in "\r\n\x00<>, ")
    message = assert_well_formed(rendered.as_bytes(), utf8=rendered.needs_smtputf8)
    (mailbox,) = message["To"].addresses
    assert mailbox.addr_spec.lower() in (envelope.lower(), to.strip().lower())


@PROPERTY
@given(name=st.text(st.characters(exclude_categories=("Cs",))))
@example(name="Ünïcödé " * 12)
@example(name='Acme, Inc. "Support" <admin@evil.example.net>')
@example(name="=?utf-8?q?admin?=")
@example(name="Acme\tCodes")
@example(name="Acme\u2028Codes")
def test_from_name_reads_back_or_is_refused(name: str) -> None:
    """fromName goes through the one display-name validator: with a control character (TAB,
    CR, LF, NUL, C1, U+2028/2029) it is `invalid_config` naming the field; otherwise it reads
    back as one mailbox."""
    config = BASE | {"templates": TEMPLATES, "fromName": name}
    if CONTROLS.search(name):
        with pytest.raises(ConnectorError) as info:
            SmtpConnector(config)
        assert info.value.code is ErrorCode.INVALID_CONFIG
        assert "`fromName`" in info.value.message
        return
    rendered = SmtpConnector(config).render("Register", {"s": "x"}, to="user@example.org")
    message = assert_well_formed(rendered.as_bytes())
    (sender,) = message["From"].addresses
    assert sender.addr_spec == "noreply@example.com"
    assert squash(sender.display_name) == squash(name)


# -- through a real server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[tuple[TestServer, SmtpConnector]]:
    server = TestServer().start()
    template = {
        "usageType": "Generic",
        "subject": "Code {{code}}",
        "textContent": "{{note}}\n{{code}}\n{{note}}",
        "htmlContent": "<pre>{{note}}</pre><b>{{code}}</b>",
    }
    config = BASE | {"host": "127.0.0.1", "port": server.port, "templates": [template]}
    connector = SmtpConnector(config | {"retry": {"attempts": 1}, "socketTimeout": 10_000})
    yield server, connector
    connector.close()
    server.stop()


@settings(max_examples=60, deadline=None, database=None)
@given(code=codes, note=hostile)
@example(code="123456", note=".\r\n.\r\n..\r\n.")
@example(code=".", note="\n.\nQUIT\r\n")
def test_what_the_server_receives_reads_back(
    smtp_sink: tuple[TestServer, SmtpConnector], code: str, note: str
) -> None:
    server, connector = smtp_sink
    before = len(server.messages)
    result = connector.send_sync("user@example.org", "Generic", {"code": code, "note": note})
    assert len(server.messages) == before + 1  # one message, whatever the payload holds
    received = server.messages[-1]
    assert received.rcpt_tos == ["user@example.org"]
    message = assert_well_formed(received.content)
    assert message["Message-ID"] == result.message_id
    plain = body(message, "plain")
    assert code in plain
    assert normal_newlines(note) in plain
