"""DKIM over a template's own From (`sendFrom`, Logto's template details): the signature covers
the From header the message actually carries, for every template of one connector, and
breaks if that From is changed on the way."""

from __future__ import annotations

from email.utils import parseaddr

from signing_helpers import (
    CODE,
    DOMAIN,
    DkimKey,
    _Recorder,
    _server_config,
    dns_stub,
    parsed,
    signature_tags,
    verify_all,
)

from smtp_connector.connector import SmtpConnector

TEMPLATES = [
    {"usageType": "SignIn", "subject": "Code {{code}}", "content": "Code {{code}}",
     "sendFrom": "Security <security@example.com>", "replyTo": "help@example.com"},
    {"usageType": "Register", "subject": "Welcome {{code}}", "content": "Code {{code}}",
     "sendFrom": "{{application.name}} <welcome@example.com>"},
]  # fmt: skip


async def test_each_templates_from_is_the_signed_from(
    smtp_server: tuple[int, _Recorder], rsa_key: DkimKey
) -> None:
    port, recorder = smtp_server
    dkim = {"domainName": DOMAIN, "keySelector": rsa_key.selector, "privateKey": rsa_key.pem}
    config = _server_config(port, dkim=dkim, templates=TEMPLATES)
    async with SmtpConnector(config) as connector:
        for _ in range(2):  # the second round comes from the compose cache
            await connector.send("user@example.org", "SignIn", {"code": CODE})
            await connector.send(
                "user@example.org", "Register", {"code": CODE, "application": {"name": "Acme"}}
            )
            await connector.send("user@example.org", "ForgotPassword", {"code": CODE})
    froms = [parseaddr(str(parsed(data)["From"])) for data in recorder.contents]
    expected = [
        ("Security", "security@example.com"),
        ("Acme", "welcome@example.com"),
        ("", "noreply@example.com"),  # no sendFrom: the config's fromEmail
    ]
    assert froms == expected * 2
    dns = dns_stub(rsa_key)
    for data in recorder.contents:
        assert verify_all(data, dns) == [True]
        assert "from" in signature_tags(data)["h"].lower().split(":")
    assert parsed(recorder.contents[0])["Reply-To"] == "help@example.com"
    assert parsed(recorder.contents[0])["Message-ID"].endswith("@example.com>")
    forged = recorder.contents[0].replace(b"security@example.com", b"billing@example.com", 1)
    assert forged != recorder.contents[0]
    assert verify_all(forged, dns) == [False]
