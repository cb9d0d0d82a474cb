"""What a strict receiver checks, tested against aiosmtpd capturing the EHLO and the raw bytes:
the EHLO name, display names that cannot split a header (the one validator), special-use
domains, and the `Date` header's zone.

The postfix round trip (`test_postfix.py`) checks the same with a real MTA's restrictions.
"""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from signing_helpers import DkimKey, dns_stub, verify_all
from smtp_servers import MakeServer, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector
from smtp_connector.delivery import network
from smtp_connector.delivery.network import address_literal, is_fqdn
from smtp_connector.signing.dkim import generate_dkim_key

CODE = "482913"
RCPT = "user@example.org"


def parsed(content: bytes) -> EmailMessage:
    return message_from_bytes(content, policy=policy.default)  # type: ignore[return-value]


async def send(server: TestServer | int, to: str = RCPT, **config: Any) -> None:
    async with SmtpConnector(config_for(server, **config)) as connector:
        await connector.send(to, "SignIn", {"code": CODE})


@pytest.fixture
def host_name(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pretend this machine is called `name`; `canonical` is what the resolver would add."""

    def pretend(name: str, canonical: str | None = None) -> None:
        monkeypatch.setattr(network, "_fqdn_cache", {})
        monkeypatch.setattr(network.socket, "gethostname", lambda: name)
        if canonical is not None or "." not in name:

            async def lookup(host: str) -> str | None:
                return canonical

            monkeypatch.setattr(network, "_canonical_name", lookup)

    return pretend


# -- EHLO ------------------------------------------------------------------------------------


async def test_bare_host_name_sends_the_address_literal(
    make_server: MakeServer, host_name: Any
) -> None:
    """The issue's case: a machine called `vm` with no domain used to say `EHLO vm`."""
    host_name("vm")
    server = make_server()
    await send(server)
    assert server.handler.ehlo_names == ["[127.0.0.1]"]
    assert len(server.messages) == 1


async def test_host_with_a_fqdn_sends_it(make_server: MakeServer, host_name: Any) -> None:
    host_name("mail.acme-corp.com")
    server = make_server()
    await send(server)
    assert server.handler.ehlo_names == ["mail.acme-corp.com"]


async def test_canonical_name_from_the_resolver_is_used(
    make_server: MakeServer, host_name: Any
) -> None:
    host_name("vm", canonical="vm.acme-corp.com")
    server = make_server()
    await send(server)
    assert server.handler.ehlo_names == ["vm.acme-corp.com"]


async def test_localhost_is_not_a_fqdn(make_server: MakeServer, host_name: Any) -> None:
    """A container called `localhost` goes through the real resolver (/etc/hosts), whose
    `localhost` / `localhost.localdomain` answers do not count as a name."""
    host_name("localhost")
    server = make_server()
    await send(server)
    assert server.handler.ehlo_names == ["[127.0.0.1]"]


async def test_configured_name_wins(make_server: MakeServer, host_name: Any) -> None:
    host_name("mail.acme-corp.com")
    server = make_server()
    await send(server, name="relay-7.acme-corp.com")
    assert server.handler.ehlo_names == ["relay-7.acme-corp.com"]


async def test_default_ehlo_on_this_machine_is_never_a_bare_name(make_server: MakeServer) -> None:
    """No patching: whatever this host is called, the EHLO is a FQDN or an address literal."""
    server = make_server()
    await send(server)
    (name,) = server.handler.ehlo_names
    assert name == "[127.0.0.1]" or is_fqdn(name), name


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this host")
async def test_ipv6_connection_sends_an_ipv6_address_literal(
    make_server: MakeServer, host_name: Any
) -> None:
    host_name("vm")
    server = make_server(host="::1")
    await send(server.port, host="::1")
    assert server.handler.ehlo_names == ["[IPv6:::1]"]
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("ip", "literal"),
    [
        ("192.0.2.7", "[192.0.2.7]"),
        ("2001:db8::1", "[IPv6:2001:db8::1]"),
        ("fe80::1%eth0", "[IPv6:fe80::1]"),  # the zone id is local to this host
        ("::ffff:192.0.2.7", "[192.0.2.7]"),  # an IPv4 connection on a dual-stack socket
    ],
)
def test_address_literal_forms(ip: str, literal: str) -> None:
    assert address_literal(ip) == literal


@pytest.mark.parametrize(
    ("name", "fqdn"),
    [
        ("mail.acme-corp.com", True),
        ("vm", False),
        ("localhost", False),
        ("localhost.localdomain", False),
        ("vm.localdomain", False),
        ("johns-laptop.local", False),
        ("10.0.0.1", False),
        ("under_score.example.com", False),
        ("xn--bcher-kva.example.com", True),
    ],
)
def test_what_counts_as_a_fqdn(name: str, fqdn: bool) -> None:
    assert is_fqdn(name) is fqdn


# -- Date ------------------------------------------------------------------------------------


async def test_date_has_a_numeric_zone(make_server: MakeServer) -> None:
    server = make_server()
    await send(server)
    (date,) = re.findall(rb"^Date: (.*)\r$", server.messages[0].content, flags=re.M)
    assert re.fullmatch(rb"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000", date)
    assert parsed(server.messages[0].content)["Date"].datetime.utcoffset().total_seconds() == 0


# -- display names: one validator ------------------------------------------------------------

BREAKS = ["\r\nBcc: victim@example.net", "\nBcc: x", "\rX", "\x00", "\u2028Bcc: x", "\x85", "\t"]


@pytest.mark.parametrize("evil", BREAKS)
def test_default_from_name_with_a_control_is_invalid_config(evil: str) -> None:
    """Regression: `servers[].defaultFromName` went unchecked into the quoted display name, so
    CR/LF split the From header. Refused at load, naming the field."""
    config = config_for(1) | {
        "servers": [
            {
                "host": "127.0.0.1",
                "port": 2,
                "defaultFromEmail": "codes@example.net",
                "defaultFromName": f"Acme{evil}",
            }
        ]
    }
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "servers.0.defaultFromName" in info.value.message


async def test_default_from_name_never_splits_the_signed_from_header(
    make_server: MakeServer,
) -> None:
    """Regression, end to end: a failover server's defaultFromName with CR/LF used to add a
    `Bcc:` header that DKIM then signed. Even when the name bypasses config validation (set
    after load), nothing goes on the wire; a clean name gives one From, signed and verified."""
    pem, record = generate_dkim_key("s1", "example.net", "rsa", 1024)
    backup = make_server()
    config = SmtpConfig.model_validate(
        config_for(backup)
        | {
            "servers": [
                {
                    "host": "127.0.0.1",
                    "port": backup.port,
                    "defaultFromEmail": "codes@example.net",
                    "defaultFromName": "Acme Codes",
                }
            ],
            "host": None,
            "dkim": {"domainName": "example.net", "keySelector": "s1", "privateKey": pem},
        }
    )
    async with SmtpConnector(config) as connector:
        await connector.send(RCPT, "SignIn", {"code": CODE})
        connector.config.servers[0].default_from_name = "Acme\r\nBcc: victim@example.net"
        with pytest.raises(ConnectorError) as info:
            await connector.send(RCPT, "SignIn", {"code": CODE})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    (received,) = backup.messages
    head = received.content.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in head
    assert len(re.findall(rb"^From:", head, flags=re.M | re.I)) == 1
    assert parsed(received.content)["From"].addresses[0].display_name == "Acme Codes"
    dns = dns_stub(DkimKey("s1", pem, record), domain="example.net")
    assert verify_all(received.content, dns) == [True]


@pytest.mark.parametrize("field", ["fromName", "replyTo", "fromEmail"])
@pytest.mark.parametrize("char", ["\t", "\x1b", "\x7f", "\x9b", "\u2029"])
def test_configured_display_names_with_controls_are_refused(field: str, char: str) -> None:
    value = f"Acme{char}Codes"
    if field != "fromName":
        value = f'"{value}" <codes@example.com>'
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config_for(1) | {field: value})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert f"`{field}`" in info.value.message
    assert f"U+{ord(char):04X}" in info.value.message


async def test_recipient_display_name_controls_are_collapsed(make_server: MakeServer) -> None:
    """A recipient's name is typed by a user: controls become one space, the mail goes out."""
    server = make_server()
    await send(server, to='"Ann\t\x1b Lee\u2028Jr" <ann@example.org>')
    (received,) = server.messages
    assert received.rcpt_tos == ["ann@example.org"]
    (to,) = parsed(received.content)["To"].addresses
    assert to.display_name == "Ann Lee Jr"


@pytest.mark.parametrize("to", ["Ann\r\n <ann@example.org>", "Ann\x00 <ann@example.org>"])
async def test_recipient_line_breaks_and_nul_are_refused(make_server: MakeServer, to: str) -> None:
    server = make_server()
    with pytest.raises(ConnectorError) as info:
        await send(server, to=to)
    assert info.value.code is ErrorCode.INVALID_RECIPIENT
    assert server.connections == 0


# -- special-use domains ---------------------------------------------------------------------

SPECIAL = ["user@shop.test", "user@mail.example", "user@x.invalid", "user@localhost"]
SPECIAL += ["user@app.localhost", "user@printer.local"]


@pytest.mark.parametrize("to", SPECIAL)
async def test_special_use_recipient_is_refused_naming_the_rule_and_the_opt_in(
    make_server: MakeServer, to: str
) -> None:
    server = make_server()
    with pytest.raises(ConnectorError) as info:
        await send(server, to=to)
    assert info.value.code is ErrorCode.INVALID_RECIPIENT
    assert "special-use domain name (RFC 6761/2606" in info.value.message
    assert "allowSpecialUseDomains" in info.value.message
    assert server.connections == 0


@pytest.mark.parametrize("to", SPECIAL)
async def test_allow_special_use_domains_delivers(make_server: MakeServer, to: str) -> None:
    server = make_server()
    await send(server, to=to, allowSpecialUseDomains=True, fromEmail="noreply@app.test")
    (received,) = server.messages
    assert received.rcpt_tos == [to]
    assert received.mail_from == "noreply@app.test"


@pytest.mark.parametrize("domain", ["example.com", "example.net", "example.org"])
async def test_documentation_domains_stay_accepted(make_server: MakeServer, domain: str) -> None:
    server = make_server()
    await send(server, to=f"user@{domain}", fromEmail=f"noreply@{domain}")
    assert server.messages[0].rcpt_tos == [f"user@{domain}"]


@pytest.mark.parametrize("field", ["fromEmail", "replyTo"])
def test_special_use_sender_is_invalid_config(field: str) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config_for(1) | {field: "noreply@app.test"})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert f"`{field}`" in info.value.message and "allowSpecialUseDomains" in info.value.message
    allowed = config_for(1) | {field: "noreply@app.test", "allowSpecialUseDomains": True}
    assert SmtpConfig.model_validate(allowed).to_dict()["allowSpecialUseDomains"] is True
    snake = config_for(1) | {field: "noreply@app.test", "allow_special_use_domains": True}
    assert SmtpConfig.model_validate(snake).allow_special_use_domains is True


def test_special_use_default_from_email_is_invalid_config() -> None:
    server = {"host": "127.0.0.1", "defaultFromEmail": "codes@backup.test"}
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config_for(1) | {"servers": [server]})
    assert "servers[0].defaultFromEmail" in info.value.message
    assert "allowSpecialUseDomains" in info.value.message
    config = config_for(1) | {"servers": [server], "allowSpecialUseDomains": True}
    assert (
        SmtpConfig.model_validate(config).servers[0].default_from_email
        == server["defaultFromEmail"]
    )
