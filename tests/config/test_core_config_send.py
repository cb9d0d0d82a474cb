"""A connector built from a core-fields dict (read without pydantic, config/core.py) sends the
bytes a connector built from the same dict's `SmtpConfig` sends, to real aiosmtpd servers, and
still answers its model as `connector.config`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from equal_paths import fixed_tokens, outcome_view, stamp
from smtp_servers import MakeServer, TestServer

from smtp_connector import SmtpConfig, SmtpConnector
from smtp_connector.config.records import PlainConfig

USER, PASSWORD = "core-user", "core-password-71"
SENDS: list[tuple[str | list[str], str, dict[str, Any], str | None]] = [
    ("user@example.org", "SignIn", {"code": "123456", "application": {"name": "Acme"}}, None),
    ("ana@example.org", "Register", {"code": "654321"}, "es"),
    (["a@example.org", "b@example.org"], "Generic", {"code": "000000", "locale": "de"}, None),
    ("user@example.org", "ForgotPassword", {"code": "1", "link": "https://x.example/r"}, "fr"),
]


def configs(server: TestServer) -> list[dict[str, Any]]:
    where = {"host": "127.0.0.1", "port": server.port}
    return [
        where | {"fromEmail": "noreply@example.com", "fromName": "Acme", "ignoreTLS": True},
        where
        | {
            "fromEmail": "Shop <shop@example.com>",
            "ignoreTLS": True,
            "auth": {"user": USER, "pass": PASSWORD},
        },
        # no ignoreTLS: a TLS context is built; the server offers no STARTTLS, so none is used
        where | {"fromEmail": "noreply@example.com", "auth": {}, "logger": False},
        # Logto's shape: its own templates (text and HTML, `{{code}}`, `<<code>>`, Jinja and
        # whitespace kept as given), a login, `customHeaders: {}`; other usage types shipped
        where
        | {
            "fromEmail": "noreply@example.com",
            "fromName": "Acme",
            "ignoreTLS": True,
            "auth": {"user": USER, "pass": PASSWORD},
            "customHeaders": {},
            "templates": LOGTO_TEMPLATES,
        },
    ]


LOGTO_TEMPLATES = [
    {
        "usageType": "SignIn",
        "contentType": "text/plain",
        "subject": "Sign in to {{ application.name }}",
        "content": "  Your code is {{    code }}.\n\n{% if locale %}({{ locale }}){% endif %}\n",
    },
    {
        "usageType": "Register",
        "contentType": "text/html",
        "subject": "Welcome <<code>>",
        "content": "<p>Hello,</p>\n<p>Your code: <b><<code>></b> &amp; more</p>",
    },
    {"usageType": "Generic", "subject": "Code", "content": "Code: {{code}}"},
]


async def _sends(connector: SmtpConnector) -> list[str]:
    outcomes = []
    for to, usage, payload, locale in SENDS:
        outcomes.append(outcome_view(await connector.send(to, usage, payload, locale)))
    return outcomes


def _run(config: SmtpConfig | dict[str, Any], server: TestServer) -> tuple[list[str], list[bytes]]:
    server.chunks.clear()

    async def main() -> list[str]:
        async with SmtpConnector(config) as connector:
            plain = isinstance(connector._config, PlainConfig)
            assert plain is isinstance(config, dict)
            return await _sends(connector)

    with fixed_tokens():
        outcomes = asyncio.run(main())
    return outcomes, _wire(server.chunks)


def _wire(chunks: list[bytes]) -> list[bytes]:
    """What the client wrote, less the clock (Message-ID seconds) and CRAM-MD5's answer to the
    server's challenge (the challenge is new each time; the server checks the answer)."""
    wire = [stamp(chunk) for chunk in chunks]
    for index, chunk in enumerate(wire[:-1]):
        if chunk == b"AUTH CRAM-MD5\r\n":
            wire[index + 1] = b"(answer)\r\n"
    return wire


@pytest.mark.parametrize("case", range(4))
def test_a_plain_config_sends_the_models_bytes(make_server: MakeServer, case: int) -> None:
    server = make_server(pipelining=True, auth_required=case in (1, 3), users={USER: PASSWORD})
    data = configs(server)[case]
    plain = _run(data, server)
    model = _run(SmtpConfig.model_validate(data), server)
    assert plain == model
    assert len(server.messages) == 2 * len(SENDS)
    assert b"123456" in b"".join(plain[1])
    if case in (1, 3):
        assert b"(answer)\r\n" in plain[1] and all(m.auth_login for m in server.messages)
    if case == 3:  # the config's own templates were sent, not the shipped ones
        sent = b"".join(plain[1])
        assert b"Sign in to Acme" in sent and b"Your code is 123456." in sent
        assert b"Welcome 654321" in sent and b"Code: 000000" in sent


@pytest.mark.parametrize("case", [1, 3])
def test_connector_config_is_the_model_of_the_dict(make_server: MakeServer, case: int) -> None:
    server = make_server()
    data = configs(server)[case]
    connector = SmtpConnector(data)
    assert isinstance(connector._config, PlainConfig)
    config = connector.config
    assert isinstance(config, SmtpConfig) and connector.config is config
    assert config.to_dict(reveal_secrets=True) == SmtpConfig.model_validate(data).to_dict(
        reveal_secrets=True
    )
    assert PASSWORD not in repr(connector._config)
    assert config.templates == SmtpConfig.model_validate(data).templates


def test_a_config_templates_choice_is_an_email_template(make_server: MakeServer) -> None:
    """Admins read the chain's choice of a plain config's own template as its model."""
    from smtp_connector import EmailTemplate

    data = configs(make_server())[3]
    connector = SmtpConnector(data)
    assert isinstance(connector._config, PlainConfig)
    choice = connector.template_choice("Register", "de")
    assert choice.source == "config" and isinstance(choice.template, EmailTemplate)
    assert choice.template == SmtpConfig.model_validate(data).templates[1]


def test_a_shipped_choice_is_an_email_template() -> None:
    """Admins read the chain's choice as the model (its shipped defaults are plain)."""
    from smtp_connector import EmailTemplate

    connector = SmtpConnector({"host": "127.0.0.1", "fromEmail": "noreply@example.com"})
    choice = connector.template_choice("SignIn", "es")
    assert choice.source == "shipped" and isinstance(choice.template, EmailTemplate)
    assert choice.template.locale == "es" and choice.template.html_content
