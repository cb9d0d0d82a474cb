"""The composed message: parsed back with Python's `email` package, header by header."""

from __future__ import annotations

import re
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from smtp_connector import (
    ConnectorError,
    ErrorCode,
    RenderedEmail,
    SmtpConfig,
    SmtpConnector,
    UsageType,
)

CODE = "482913"
BASE: dict[str, Any] = {"host": "smtp.example.com", "port": 587, "fromEmail": "noreply@example.com"}
INJECTION = "\r\nBcc: x@evil.example.net"
STANDARD_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "auto-submitted"}
CONTENT_HEADERS = {"content-type", "content-transfer-encoding"}


def connector(templates: list[dict[str, Any]] | None = None, **extra: Any) -> SmtpConnector:
    return SmtpConnector(SmtpConfig.model_validate(BASE | {"templates": templates or []} | extra))


def text_template(subject: str, content: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"usageType": "Generic", "subject": subject, "content": content, **extra}]


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header_names(message: EmailMessage) -> set[str]:
    """The top-level header names, without the MIME content headers (which vary by structure)."""
    names = [name.lower() for name in message]
    assert "content-type" in names
    return set(names) - CONTENT_HEADERS


def content(part: EmailMessage) -> str:
    """A part's decoded text with LF line ends and no trailing newline (the CRLF before a
    multipart boundary belongs to the boundary)."""
    return part.get_content().replace("\r\n", "\n").rstrip("\n")


def assert_wire_format(raw: bytes) -> None:
    """CRLF line endings only, no line over 998 octets (plus CRLF)."""
    assert re.search(rb"(?<!\r)\n", raw) is None, "bare LF"
    assert re.search(rb"\r(?!\n)", raw) is None, "bare CR"
    longest = max(len(line) for line in raw.split(b"\r\n"))
    assert longest <= 998, f"line of {longest} octets"


def render(
    conn: SmtpConnector,
    payload: dict[str, Any] | None = None,
    usage: UsageType | str = UsageType.GENERIC,
    **kwargs: Any,
) -> tuple[RenderedEmail, bytes, EmailMessage]:
    rendered = conn.render(usage, payload or {"code": CODE}, to="user@example.org", **kwargs)
    raw = rendered.as_bytes()
    assert_wire_format(raw)
    return rendered, raw, parse(raw)


# -- header injection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "evil",
    [
        INJECTION,
        "\nBcc: x@evil.example.net",
        "\rBcc: x@evil.example.net",
        "\r\n\r\n<html>body</html>",
        "\u2028Bcc: x@evil.example.net",
        "\x85Bcc: x@evil.example.net",
        "\r\n Bcc: x@evil.example.net",
        "\x00Bcc: x@evil.example.net",
    ],
    ids=["crlf", "lf", "cr", "blank-line", "u2028", "nel", "fold", "nul"],
)
def test_subject_injection_through_payload(evil: str) -> None:
    conn = connector(text_template("Hello {{ user.name }}", "Code {{ code }}"))
    rendered, _, message = render(conn, {"code": CODE, "user": {"name": f"Eve{evil}"}})
    assert header_names(message) == STANDARD_HEADERS
    assert message["Bcc"] is None
    assert message.get_all("Subject") is not None and len(message.get_all("Subject")) == 1
    assert "Bcc" in message["Subject"] or "body" in message["Subject"]  # kept, on one line
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message.get_content_type() == "text/plain"
    assert content(message) == f"Code {CODE}"
    assert rendered.envelope_to == ["user@example.org"]


def test_injection_in_code_used_in_subject() -> None:
    conn = connector(text_template("Your code {{ code }}", "Code {{ code }}"))
    _, _, message = render(conn, {"code": f"{CODE}{INJECTION}"})
    assert header_names(message) == STANDARD_HEADERS
    assert message["Subject"] == f"Your code {CODE} Bcc: x@evil.example.net"


def test_injection_in_body_stays_in_body() -> None:
    conn = connector(
        [
            {
                "usageType": "Generic",
                "subject": "s",
                "textContent": "Hi {{ user.name }}",
                "htmlContent": "<p>Hi {{ user.name }}</p>",
            }
        ]
    )
    evil = f"Eve{INJECTION}\r\n\r\n--fake\r\nContent-Type: text/html\r\n\r\n<b>x</b>"
    _, _, message = render(conn, {"code": CODE, "user": {"name": evil}})
    assert header_names(message) == STANDARD_HEADERS
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert "Bcc: x@evil.example.net" in content(parts[0])
    assert "--fake" in content(parts[0])


def test_recipient_injection_refused() -> None:
    with pytest.raises(ConnectorError) as info:
        connector().render("SignIn", {"code": CODE}, to=f"user@example.org{INJECTION}")
    assert info.value.code is ErrorCode.INVALID_RECIPIENT


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Campaign": f"a{INJECTION}"},
        {"X-Campaign": "a\nBcc: x@evil.example.net"},
        {"X-Campaign": "a\rb"},
        {"X-Campaign": ["ok", f"b{INJECTION}"]},
        {"X-Bad Name": "v"},
        {"X-Bad:Name": "v"},
        {f"X-Name{INJECTION}": "v"},
        {"X-Long": "x" * 2000},
        {"X-Campaign": "a\x00b"},
        {"X-Campaign": "a\x1bb"},
        {"X-Campaign": "a\x7fb"},
        {"X-Campaign": "a\x85b"},
        {"X-Campaign": "a\u2028b"},
    ],
    ids=[
        *["crlf", "lf", "cr", "list", "space-name", "colon-name", "crlf-name", "too-long"],
        *["nul", "esc", "del", "c1-nel", "u2028"],
    ],
)
def test_custom_header_injection_is_invalid_config(headers: dict[str, Any]) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(BASE | {"customHeaders": headers})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "customHeaders" in info.value.message


@pytest.mark.parametrize(
    "name",
    [
        "Content-Type",
        "content-type",
        "Bcc",
        "BCC",
        "Cc",
        "To",
        "From",
        "Subject",
        "Message-ID",
        "Date",
        "MIME-Version",
        "Content-Transfer-Encoding",
        "Reply-To",
        "Sender",
    ],
)
def test_reserved_custom_headers_refused(name: str) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(BASE | {"customHeaders": {name: "x@evil.example.net"}})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert name in info.value.message


def test_tab_in_a_custom_header_is_whitespace_not_refused() -> None:
    conn = connector(customHeaders={"X-Campaign": "spring\tlaunch"})
    raw = conn.render("SignIn", {"code": CODE}).as_bytes()
    assert b"X-Campaign: spring\tlaunch\r\n" in raw


def test_valid_custom_headers_are_added() -> None:
    conn = connector(
        customHeaders={
            "X-Campaign": "signup",
            "X-Tag": ["one", "two"],
            "X-Unicode": "Grüße aus Köln",
        }
    )
    _, _, message = render(conn)
    assert message["X-Campaign"] == "signup"
    assert message.get_all("X-Tag") == ["one", "two"]
    assert message["X-Unicode"] == "Grüße aus Köln"
    assert header_names(message) == STANDARD_HEADERS | {"x-campaign", "x-tag", "x-unicode"}


@pytest.mark.parametrize("evil", [INJECTION, "\nBcc: x@evil.example.net", "\rX", "\x00"])
def test_from_name_line_breaks_refused(evil: str) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(BASE | {"fromName": f"Acme{evil}"})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "fromName" in info.value.message


@pytest.mark.parametrize(
    "name",
    [
        "Admin <admin@evil.example.net>",
        "Acme, Inc.",
        'Acme "Support"',
        "a@evil.example.net",
        "Ops.Team",
    ],
)
def test_from_name_specials_stay_one_mailbox(name: str) -> None:
    _, _, message = render(connector(fromName=name))
    (address,) = message["From"].addresses
    assert address.display_name == name
    assert address.addr_spec == "noreply@example.com"
    assert header_names(message) == STANDARD_HEADERS


# -- non-ASCII, IDN, line length ---------------------------------------------------------------


def test_non_ascii_subject_from_name_and_idn_domain() -> None:
    conn = connector(
        text_template("Código de verificación ✓ {{ code }}", "Tu código es {{ code }}."),
        fromName="Überweisung GmbH",
        fromEmail="noreply@bücher.de",
        replyTo="Kundendienst <hilfe@bücher.de>",
    )
    rendered, raw, message = render(conn)
    assert message["Subject"] == f"Código de verificación ✓ {CODE}"
    (sender,) = message["From"].addresses
    assert sender.display_name == "Überweisung GmbH"
    assert sender.addr_spec == "noreply@xn--bcher-kva.de"
    assert b"xn--bcher-kva.de" in raw
    assert "bücher".encode() not in raw.split(b"\r\n\r\n")[0]  # headers stay ASCII
    (reply,) = message["Reply-To"].addresses
    assert (reply.display_name, reply.addr_spec) == ("Kundendienst", "hilfe@xn--bcher-kva.de")
    assert message["Message-ID"].endswith("@xn--bcher-kva.de>")
    assert content(message) == f"Tu código es {CODE}."
    assert rendered.envelope_from == "noreply@xn--bcher-kva.de"
    assert rendered.needs_smtputf8 is False


def test_chinese_subject_and_body() -> None:
    subject = "您的验证码是 {{ code }}，请在十分钟内使用。这是一封很长的中文主题邮件，用来测试折叠"
    body = "您好，{{ user.name }}：\n您的验证码是 {{ code }}。"
    conn = connector(text_template(subject, body), fromName="示例公司")
    _, raw, message = render(conn, {"code": CODE, "user": {"name": "王小明"}})
    assert message["Subject"] == subject.replace("{{ code }}", CODE)
    assert message["From"].addresses[0].display_name == "示例公司"
    assert content(message) == f"您好，王小明：\n您的验证码是 {CODE}。"
    assert raw.split(b"\r\n\r\n")[0].isascii()


def test_non_ascii_local_part_needs_smtputf8() -> None:
    rendered, raw, _ = render(connector(fromEmail="josé@example.com"))
    assert rendered.needs_smtputf8 is True
    assert rendered.envelope_from == "josé@example.com"
    # An SMTPUTF8 message carries UTF-8 headers; the bytes parser cannot decode those, so parse
    # the decoded text.
    message = message_from_string(raw.decode("utf-8"), policy=policy.SMTPUTF8)
    assert message["From"].addresses[0].addr_spec == "josé@example.com"


def test_long_non_ascii_from_name_folds_with_crlf() -> None:
    name = "Überweisung GmbH – Kundenservice für Zahlungsverkehr und Sicherheit"
    _, _, message = render(connector(fromName=name))
    assert message["From"].addresses[0].display_name == name


def test_long_ascii_from_name_line_length() -> None:
    name = "Acme " * 240
    _, _, message = render(connector(fromName=name.strip()))
    assert message["From"].addresses[0].addr_spec == "noreply@example.com"


def test_long_payload_in_body_keeps_lines_short() -> None:
    value = "x" * 5000
    conn = connector(
        [
            {
                "usageType": "Generic",
                "subject": "Code {{ code }}",
                "textContent": "A{{ v }}B",
                "htmlContent": "<p>A{{ v }}B</p>",
            }
        ]
    )
    _, _, message = render(conn, {"code": CODE, "v": value})
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert content(plain) == f"A{value}B"
    assert content(html) == f"<p>A{value}B</p>"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"


def test_long_non_ascii_payload_in_body() -> None:
    value = "验" * 5000
    conn = connector(text_template("s", "{{ v }}"))
    _, _, message = render(conn, {"code": CODE, "v": value})
    assert content(message) == value


def test_long_payload_in_subject_line_length() -> None:
    value = "x" * 5000
    conn = connector(text_template("Hi {{ v }}", "Code {{ code }}"))
    _, _, message = render(conn, {"code": CODE, "v": value})
    assert message["Subject"] == f"Hi {value}"


def test_long_non_ascii_payload_in_subject() -> None:
    value = "ü" * 3000
    conn = connector(text_template("Hi {{ v }}", "Code {{ code }}"))
    _, _, message = render(conn, {"code": CODE, "v": value})
    assert message["Subject"] == f"Hi {value}"


def test_long_subject_with_spaces_is_folded() -> None:
    subject = " ".join(["verification"] * 200)
    _, raw, message = render(connector(text_template(subject, "c")))
    assert message["Subject"] == subject
    head = raw.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))


@pytest.mark.parametrize("body", ["one\ntwo\n", "one\r\ntwo\r\n", "one\rtwo", "a\n.\nb"])
def test_body_line_endings_normalised(body: str) -> None:
    _, _, message = render(connector(text_template("s", "{{ body }}")), {"code": "1", "body": body})
    lines = content(message).split("\n")
    assert lines == body.replace("\r\n", "\n").replace("\r", "\n").splitlines()


# -- structure and standard headers ------------------------------------------------------------


def test_multipart_alternative_when_both_bodies() -> None:
    conn = connector(
        [
            {
                "usageType": "Generic",
                "subject": "s",
                "textContent": "Code {{ code }}",
                "htmlContent": "<p>Code <b>{{ code }}</b></p>",
            }
        ]
    )
    _, _, message = render(conn)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert content(parts[0]) == f"Code {CODE}"
    assert content(parts[1]) == f"<p>Code <b>{CODE}</b></p>"


def test_text_only_is_single_part() -> None:
    _, _, message = render(connector(text_template("s", "Code {{ code }}")))
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()
    assert content(message) == f"Code {CODE}"


def test_html_only_gets_text_alternative_with_links() -> None:
    link = "https://example.org/verify?token=abc123&next=%2Fhome"
    conn = connector(
        text_template(
            "s",
            '<h1>Verify</h1><p>Code: <b>{{ code }}</b></p><p><a href="{{ link }}">Verify email</a>'
            '</p><p>Help: <a href="https://example.org/help">https://example.org/help</a></p>',
            contentType="text/html",
        )
    )
    rendered, _, message = render(conn, {"code": CODE, "link": link})
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text = content(plain)
    assert CODE in text
    assert link in text  # the raw URL, `&` unescaped
    assert "&amp;" not in text
    assert "Verify email" in text
    assert "https://example.org/help" in text
    assert "<" not in text.replace("<https://", "")  # no HTML tags left
    assert 'href="https://example.org/verify?token=abc123&amp;next=%2Fhome"' in content(html)
    assert rendered.text is not None and rendered.text.rstrip("\n") == text


def test_html_only_text_alternative_reflects_each_payload() -> None:
    conn = connector(
        text_template("s", "<p>Hi {{ user.name }}, {{ code }}</p>", contentType="text/html")
    )
    first = conn.render("Generic", {"code": "111111", "user": {"name": "Ann <ann>"}})
    second = conn.render("Generic", {"code": "222222", "user": {"name": "Bob & Co"}})
    assert first.text is not None and second.text is not None
    assert "111111" in first.text and "Ann <ann>" in first.text
    assert "222222" in second.text and "Bob & Co" in second.text
    assert "111111" not in second.text


def test_standard_headers() -> None:
    conn = connector(replyTo="support@example.com", fromName="Acme")
    rendered, _, message = render(conn)
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", message["Message-ID"])
    assert message["Message-ID"] == rendered.message_id
    assert message["MIME-Version"] == "1.0"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"].addresses[0].addr_spec == "support@example.com"
    assert message["To"].addresses[0].addr_spec == "user@example.org"
    assert message["From"].addresses[0].display_name == "Acme"
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Reply-To"):
        assert len(message.get_all(name) or []) == 1, name


def test_no_reply_to_without_config() -> None:
    _, _, message = render(connector())
    assert message["Reply-To"] is None


def test_message_ids_are_unique_on_sender_domain() -> None:
    conn = connector(fromEmail="noreply@mail.acme.example.com")
    ids = {conn.render("SignIn", {"code": CODE}).message_id for _ in range(50)}
    assert len(ids) == 50
    assert all(i.endswith("@mail.acme.example.com>") for i in ids)


@pytest.mark.parametrize("usage", list(UsageType), ids=[u.value for u in UsageType])
@pytest.mark.parametrize("locale", ["en", "zh-CN", "ja", "de"])
def test_shipped_defaults_compose_cleanly(usage: UsageType, locale: str) -> None:
    conn = connector(fromName="Überweisung GmbH")
    _, _, message = render(
        conn, {"code": CODE, "link": "https://example.org/x"}, usage, locale=locale
    )
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and CODE in content(plain)
    assert html is not None and CODE in content(html)
    assert message["Subject"]
    assert header_names(message) == STANDARD_HEADERS


def test_as_bytes_is_stable() -> None:
    rendered = connector().render("SignIn", {"code": CODE}, to="user@example.org")
    assert rendered.as_bytes() == rendered.as_bytes()
