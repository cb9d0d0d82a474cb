"""Logto's connector-smtp sending cases, in our words, against a real SMTP server.

Upstream (packages/connectors/connector-smtp/src/index.test.ts) mocks nodemailer and checks the
options `sendMail` gets: from, subject, text, to (and headers, replyTo). Here the same config
(src/mock.ts), usage types and payloads go through the connector to aiosmtpd, and the message
the server received carries each of those values. Deliberate differences, one per line in
docs/configuration.md "Migrating from Logto": recipients must be addresses (upstream sends to
'foo', 'bar', 'baz'; we use foo@example.org …), and the config needs TLS to the server before it
sends the password (upstream's mock has `auth`; our server offers STARTTLS with a CA we trust).
The config guard cases are in tests/config/test_logto_upstream.py.
"""

from __future__ import annotations

import copy
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import pytest
from logto_mocks import MOCKED_CONFIG
from smtp_servers import MakeServer, TestServer

from smtp_connector import SmtpConnector

MOCK_USER, MOCK_PASS = "<username>", "<password>"


def mocked_config(server: TestServer, ca_pem: str, **patch: Any) -> dict[str, Any]:
    """src/mock.ts `mockedConfig` with host and port pointing at the test server."""
    data = copy.deepcopy(MOCKED_CONFIG) | {"host": "127.0.0.1", "port": server.port}
    return data | {"tls": {"ca": ca_pem}, "socketTimeout": 5000} | patch


@pytest.fixture
def server(make_server: MakeServer) -> TestServer:
    return make_server(mode="starttls", auth_required=True, users={MOCK_USER: MOCK_PASS})


def received(server: TestServer) -> EmailMessage:
    (message,) = server.messages
    return message_from_bytes(message.content, policy=policy.default)  # type: ignore[return-value]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return body.get_content().replace("\r\n", "\n").rstrip("\n")


def assert_sent(
    message: EmailMessage, *, sender: str, subject: str, text: str, to: str, **headers: Any
) -> None:
    """Upstream's `toHaveBeenCalledWith({from, subject, text, to, ...})`, read off the wire:
    only a text part (contentType text/plain), no Reply-To unless asked."""
    assert parseaddr(str(message["From"])) == parseaddr(sender)
    assert message["Subject"] == subject
    assert message.get_content_type() == "text/plain"
    assert text_of(message) == text
    assert message["To"] == to
    assert message["Reply-To"] == headers.pop("replyTo", None)
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        assert message.get_all(name) == values


async def test_should_send_mail_with_proper_options(server: TestServer, ca_pem: str) -> None:
    async with SmtpConnector(mocked_config(server, ca_pem)) as connector:
        await connector.send("foo@example.org", "Register", {"code": "123456"})
    assert_sent(
        received(server),
        sender="<notice@test.smtp>",
        subject="Logto register with SMTP",
        text="This is for register purposes only. Your verification code is 123456.",
        to="foo@example.org",
    )
    assert server.handler.auth_attempts[-1][1] == MOCK_USER  # the mock's credentials, over TLS


async def test_should_send_mail_with_proper_data(server: TestServer, ca_pem: str) -> None:
    async with SmtpConnector(mocked_config(server, ca_pem)) as connector:
        await connector.send("bar@example.org", "SignIn", {"code": "234567"})
    assert_sent(
        received(server),
        sender="<notice@test.smtp>",
        subject="Logto sign-in with SMTP 234567",
        text="This is for sign-in purposes only. Your verification code is 234567.",
        to="bar@example.org",
    )


async def test_should_send_mail_with_proper_data_2(server: TestServer, ca_pem: str) -> None:
    async with SmtpConnector(mocked_config(server, ca_pem)) as connector:
        await connector.send(
            "baz@example.org",
            "OrganizationInvitation",
            {"code": "345678", "link": "https://example.com"},
        )
    assert_sent(
        received(server),
        sender="<notice@test.smtp>",
        subject="Organization invitation",
        text="This is for organization invitation. Your link is https://example.com.",
        to="baz@example.org",
    )


async def test_should_send_mail_with_custom_headers(server: TestServer, ca_pem: str) -> None:
    headers = {"X-Test": "test", "X-Test-Another": ["test1", "test2", "test3"]}
    async with SmtpConnector(mocked_config(server, ca_pem, customHeaders=headers)) as connector:
        await connector.send(
            "baz@example.org",
            "OrganizationInvitation",
            {"code": "345678", "link": "https://example.com"},
        )
    assert_sent(
        received(server),
        sender="<notice@test.smtp>",
        subject="Organization invitation",
        text="This is for organization invitation. Your link is https://example.com.",
        to="baz@example.org",
        **headers,
    )


class Stored:
    """Upstream's `getI18nEmailTemplate` mock: one answer whatever is asked."""

    def __init__(self, details: dict[str, Any] | None) -> None:
        self.details = details
        self.asked: list[tuple[str, str | None]] = []

    def template(self, usage_type: str, locale: str | None) -> dict[str, Any] | None:
        self.asked.append((usage_type, locale))
        return self.details


CUSTOM_DETAILS = {
    "subject": "Custom subject {{code}}",
    "content": "Your verification code is {{code}}",
    "contentType": "text/plain",
    "replyTo": "{{user.primaryEmail}}",
    "sendFrom": "{{application.name}} <notice@test.smtp>",
}


async def test_should_send_mail_with_custom_i18n_template(server: TestServer, ca_pem: str) -> None:
    provider = Stored(CUSTOM_DETAILS)
    config = mocked_config(server, ca_pem)
    async with SmtpConnector(config, template_provider=provider) as connector:
        await connector.send(
            "bar@example.org",
            "SignIn",
            {
                "code": "234567",
                "user": {"primaryEmail": "test@email.com"},
                "application": {"name": "Test app"},
            },
        )
    assert_sent(
        received(server),
        sender="Test app <notice@test.smtp>",
        subject="Custom subject 234567",
        text="Your verification code is 234567",
        to="bar@example.org",
        replyTo="test@email.com",
    )
    assert server.messages[0].mail_from == "notice@test.smtp"
    assert provider.asked == [("SignIn", None)]


async def test_without_a_custom_template_the_config_template_is_sent(
    server: TestServer, ca_pem: str
) -> None:
    """Upstream's default mock answers undefined: the connector falls back to the config."""
    provider = Stored(None)
    async with SmtpConnector(mocked_config(server, ca_pem), template_provider=provider) as conn:
        await conn.send("bar@example.org", "SignIn", {"code": "234567"}, locale="fr")
    assert received(server)["Subject"] == "Logto sign-in with SMTP 234567"
    assert provider.asked == [("SignIn", "fr")]
