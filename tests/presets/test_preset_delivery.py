"""Each preset's generated config is complete: only host, port and TLS are pointed at a local
aiosmtpd server; username convention, auth block, From and pool settings are the preset's."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner
from preset_helpers import SECRET, preset, quiet_from_preset

from smtp_connector.cli import main
from smtp_connector.config import SmtpConfig
from smtp_connector.presets import (
    Preset,
    list_presets,
)

# ------------------------------------------------------------------------------------------
# A real local SMTP server: the generated configs are complete
# ------------------------------------------------------------------------------------------


@dataclass
class LocalServer:
    """An aiosmtpd server on 127.0.0.1 that accepts any login and records what it saw."""

    port: int
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    messages: list[Envelope] = field(default_factory=list)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((mechanism, data.login.decode(), data.password.decode()))
        return AuthResult(success=True, auth_data=data)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 (not built into aiosmtpd): record user and bearer token, accept."""
        fields = base64.b64decode(args[1]).decode().split("\x01")
        user = fields[0].removeprefix("user=")
        token = fields[1].removeprefix("auth=Bearer ")
        self.logins.append(("XOAUTH2", user, token))
        return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_server(server_context: ssl.SSLContext) -> Iterator[LocalServer]:
    """STARTTLS, as every preset requires TLS before AUTH (trusted through `ca_pem`)."""
    server = LocalServer(port=_free_port())
    controller = Controller(
        server,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=server.authenticate,
        tls_context=server_context,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def _account_for(found: Preset) -> tuple[dict[str, Any], str, str]:
    """from_preset kwargs for a preset, the username and the secret the server should see."""
    rule = found.username.rule
    domain = found.domains[0] if found.domains else "example.com"
    kwargs: dict[str, Any] = {"from_email": f"sender@{domain}"}
    expected_user = f"sender@{domain}"
    if rule == "literal":
        expected_user = found.username.value or ""
    elif rule == "account":
        kwargs["user"] = expected_user = "account-login-1"
    elif rule == "same_as_password":
        expected_user = SECRET
    if found.regions:
        kwargs["region"] = [r.id for r in found.regions if not r.deprecated][-1]
    if found.auth.password:
        kwargs["password"] = SECRET
    else:
        kwargs["access_token"] = SECRET
    return kwargs, expected_user, SECRET


@pytest.mark.parametrize("name", list_presets())
async def test_from_preset_sends_through_a_local_server(
    name: str, local_server: LocalServer, ca_pem: str
) -> None:
    pytest.importorskip("smtp_connector.connector")
    from smtp_connector import SmtpConnector

    kwargs, expected_user, secret = _account_for(preset(name))
    config = quiet_from_preset(
        name, host="127.0.0.1", port=local_server.port, secure=False, tls={"ca": ca_pem}, **kwargs
    )
    assert config.require_tls  # a preset keeps requiring TLS on another host and port
    async with SmtpConnector(config) as connector:
        result = await connector.send(
            to="new.user@example.org", usage_type="SignIn", payload={"code": "482913"}
        )
    assert result.accepted == ["new.user@example.org"]
    assert result.server == f"127.0.0.1:{local_server.port}"
    assert [login[1:] for login in local_server.logins] == [(expected_user, secret)]
    (envelope,) = local_server.messages
    assert envelope.mail_from == kwargs["from_email"]
    assert envelope.rcpt_tos == ["new.user@example.org"]
    assert b"482913" in (envelope.original_content or b"")


def _init_args(port: int, output: Path) -> list[str]:
    return [
        "init",
        "--preset",
        "gmail",
        "--user",
        "me@gmail.com",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tls",
        "starttls",
        "--password-env",
        "PRESET_TEST_SMTP_PASSWORD",
        "-o",
        str(output),
        "--no-input",
    ]


def _trust(output: Path, ca_pem: str) -> None:
    """Add the test CA to a config `init` wrote (a real provider's certificate is public)."""
    written = json.loads(output.read_text())
    output.write_text(json.dumps(written | {"tls": {"ca": ca_pem}}))


def test_init_writes_a_config_that_verify_accepts(
    tmp_path: Path, local_server: LocalServer, ca_pem: str
) -> None:
    pytest.importorskip("smtp_connector.connector")
    output = tmp_path / "smtp.json"
    runner = CliRunner()
    created = runner.invoke(main, _init_args(local_server.port, output))
    assert created.exit_code == 0, created.output
    written = json.loads(output.read_text())
    assert written["auth"] == {"user": "me@gmail.com", "pass": "${PRESET_TEST_SMTP_PASSWORD}"}
    assert written["fromEmail"] == "me@gmail.com"
    assert "PRESET_TEST_SMTP_PASSWORD" in created.output
    _trust(output, ca_pem)

    env = {"PRESET_TEST_SMTP_PASSWORD": SECRET}
    checked = runner.invoke(main, ["verify", "--config", str(output)], env=env)
    assert checked.exit_code == 0, checked.output
    assert [login[1:] for login in local_server.logins] == [("me@gmail.com", SECRET)]
    assert local_server.messages == []  # verify sends nothing


async def test_init_config_passes_library_verify(
    tmp_path: Path, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, ca_pem: str
) -> None:
    pytest.importorskip("smtp_connector.connector")
    from smtp_connector import SmtpConnector

    output = tmp_path / "smtp.json"
    created = CliRunner().invoke(main, _init_args(local_server.port, output))
    assert created.exit_code == 0, created.output
    _trust(output, ca_pem)
    monkeypatch.setenv("PRESET_TEST_SMTP_PASSWORD", SECRET)
    config = SmtpConfig.from_file(output)
    assert config.auth.password == SECRET
    async with SmtpConnector(config) as connector:
        await connector.verify()
    assert [login[1:] for login in local_server.logins] == [("me@gmail.com", SECRET)]
