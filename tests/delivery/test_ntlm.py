"""NTLM (the portal dialect's `useNtlm`) against a real acceptor: aiosmtpd with an `auth_NTLM`
handler running pyspnego's server side, which checks the client's answers against the
`DOMAIN:user:password` file `NTLM_USER_FILE` names."""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner
from smtp_servers import MakeServer, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.cli import main

pytest.importorskip("spnego", reason="NTLM needs the ntlm extra (pyspnego)")

DOMAIN, NAME, PASSWORD = "CORP", "mailer", "Ntlm-Passw0rd!"


@pytest.fixture(autouse=True)
def ntlm_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    users = tmp_path / "ntlm-users"
    # Heimdal format; a UPN (user@DOMAIN) login has an empty domain and the UPN as user name.
    users.write_text(f"{DOMAIN}:{NAME}:{PASSWORD}\n:{NAME}@{DOMAIN}:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    return users


@pytest.fixture
def leaf(tls_ca: trustme.CA) -> trustme.LeafCert:
    return tls_ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture
def exchange(make_server: MakeServer, leaf: trustme.LeafCert) -> TestServer:
    """STARTTLS, offers PLAIN, LOGIN and NTLM, and (like Exchange with Extended Protection)
    insists on the TLS channel binding of its own certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    bindings = b"tls-server-end-point:" + hashlib.sha256(der).digest()
    return make_server(mode="starttls", context=context, ntlm=True, ntlm_bindings=bindings)


def ntlm_config(server: TestServer, ca_pem: str, **auth: Any) -> dict[str, Any]:
    login = {"type": "ntlm", "user": f"{DOMAIN}\\{NAME}", "pass": PASSWORD} | auth
    return config_for(server, auth=login, tls={"ca": ca_pem})


@pytest.mark.parametrize(
    "login",
    [{}, {"user": f"{NAME}@{DOMAIN}"}, {"user": NAME, "domain": DOMAIN, "workstation": "WS01"}],
    ids=["DOMAIN\\user", "user@DOMAIN", "domain-field"],
)
async def test_right_password_delivers(exchange: TestServer, ca_pem: str, login: dict) -> None:
    async with SmtpConnector(ntlm_config(exchange, ca_pem, **login)) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "482913"})
    ((mechanism, principal),) = exchange.handler.auth_attempts
    assert mechanism == "NTLM"
    assert principal.upper() in (f"{DOMAIN}\\{NAME}".upper(), f"{NAME}@{DOMAIN}".upper())
    (message,) = exchange.messages
    assert message.auth_login == principal.encode()
    assert b"482913" in message.content


async def test_wrong_password_is_auth_failed(exchange: TestServer, ca_pem: str) -> None:
    config = ntlm_config(exchange, ca_pem, **{"pass": "not-the-password"})
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    error = info.value
    assert error.code is ErrorCode.AUTH_FAILED
    assert error.smtp_code == 535
    assert "not-the-password" not in str(error) + repr(error) + json.dumps(error.to_dict())
    assert exchange.messages == []


async def test_plain_connection_is_refused_without_ignore_tls(make_server: MakeServer) -> None:
    plain = make_server(ntlm=True)  # offers AUTH NTLM but no STARTTLS
    config = config_for(plain, auth={"type": "ntlm", "user": f"{DOMAIN}\\{NAME}", "pass": PASSWORD})
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert info.value.code is ErrorCode.TLS_FAILED
    assert "ignoreTLS" in info.value.message
    assert plain.handler.auth_attempts == []
    assert not any(b"AUTH" in chunk.upper() for chunk in plain.chunks)


async def test_ignore_tls_allows_ntlm_in_clear(make_server: MakeServer) -> None:
    plain = make_server(ntlm=True)
    auth = {"type": "ntlm", "user": f"{DOMAIN}\\{NAME}", "pass": PASSWORD}
    async with SmtpConnector(config_for(plain, auth=auth, ignoreTLS=True)) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert [m for m, _ in plain.handler.auth_attempts] == ["NTLM"]


async def test_channel_binding_mismatch_is_refused(
    make_server: MakeServer, leaf: trustme.LeafCert, ca_pem: str
) -> None:
    """The acceptor checks the binding: one for another certificate fails, so the success
    above proves the client sent the right one."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    other = make_server(
        mode="starttls",
        context=context,
        ntlm=True,
        ntlm_bindings=b"tls-server-end-point:" + b"0" * 32,
    )
    async with SmtpConnector(ntlm_config(other, ca_pem)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.verify()
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert other.handler.auth_attempts[0][1].startswith("refused")


async def test_server_without_ntlm_says_what_it_offers(
    make_server: MakeServer, ca_pem: str
) -> None:
    server = make_server(mode="starttls")  # PLAIN, LOGIN, CRAM-MD5, XOAUTH2: no NTLM
    async with SmtpConnector(ntlm_config(server, ca_pem)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.verify()
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert "does not offer AUTH NTLM" in info.value.message and "PLAIN" in info.value.message


async def test_verify_reports_the_mechanism(exchange: TestServer, ca_pem: str) -> None:
    async with SmtpConnector(ntlm_config(exchange, ca_pem)) as connector:
        ((_, steps),) = await connector.verify()
    assert [(s.name, s.detail) for s in steps if s.name == "auth"] == [("auth", "NTLM")]
    assert exchange.messages == []


def test_cli_verify_reports_the_mechanism(
    exchange: TestServer, ca_pem: str, tmp_path: Path
) -> None:
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(ntlm_config(exchange, ca_pem)))
    text = CliRunner().invoke(main, ["verify", "--config", str(path)])
    assert text.exit_code == 0, text.output
    assert "(AUTH NTLM)" in text.output
    as_json = CliRunner().invoke(main, ["verify", "--config", str(path), "--json"])
    assert json.loads(as_json.output)["servers"][0]["auth"] == "NTLM"


def test_missing_extra_is_invalid_config(
    exchange: TestServer, ca_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "spnego", None)  # as if pyspnego were not installed
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(ntlm_config(exchange, ca_pem))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "smtp-connector[ntlm]" in info.value.message


@pytest.mark.parametrize(
    ("auth", "words"),
    [
        ({"type": "ntlm", "user": "CORP\\mailer"}, "auth.pass"),
        ({"type": "ntlm", "user": "u", "pass": "p", "accessToken": "t"}, "OAuth2"),
        ({"user": "u", "pass": "p", "domain": "CORP"}, "NTLM settings"),
    ],
)
def test_ntlm_config_shape(auth: dict, words: str) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config_for(2525, auth=auth))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert words in info.value.message
