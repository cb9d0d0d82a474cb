"""Finding 5 (MEDIUM) and the 535 echo of finding 6: secrets leaked through errors and reprs.

A `tls.key` that is not PEM was echoed in the error (and so in CLI output and logs);
`tls.pfx` appeared raw in `repr()` and `to_dict()`; a 535 reply quoting the AUTH exchange
back (base64 included) reached the error message. Now every secret-bearing field is registered
for redaction when the config is validated (one path), AUTH registers the encoded forms it
sends, and errors, reprs, `to_dict()`, logs and CLI output all go through that scrubber.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner
from smtp_servers import PASSWORD, USER, ScriptedServer, config_for, echoing_auth_dialogue

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector
from smtp_connector.cli import main
from smtp_connector.errors import redact, secret_safe_logger

# base64 key material without its PEM armour: what a bad copy-paste gives
BARE_KEY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7redaction0test0key"


def texts_of(error: ConnectorError) -> str:
    return " ".join([str(error), repr(error), error.message, json.dumps(error.to_dict())])


def test_non_pem_tls_key_is_not_echoed(tls_ca: trustme.CA) -> None:
    cert = tls_ca.issue_cert("client.example.com").cert_chain_pems[0].bytes().decode()
    config = config_for(2525, tls={"cert": cert, "key": BARE_KEY})
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "tls.key" in info.value.message
    assert BARE_KEY not in texts_of(info.value)
    assert BARE_KEY[:24] not in texts_of(info.value)


def test_non_pem_tls_key_is_not_in_cli_output(tls_ca: trustme.CA, tmp_path: Path) -> None:
    cert = tls_ca.issue_cert("client.example.com").cert_chain_pems[0].bytes().decode()
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(config_for(2525, tls={"cert": cert, "key": BARE_KEY})))
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(main, ["verify", "--config", str(path), *extra])
        assert result.exit_code == 2, result.output
        assert "tls.key" in result.output
        assert BARE_KEY not in result.output


def test_pfx_is_masked() -> None:
    pfx = "MIIKcQIBAzCCCjcGCSqGSIb3DQEHAaCCCigEggokMIIKIDCCBM8GCSqG-pfx-body"
    config = SmtpConfig.model_validate(config_for(2525, tls={"pfx": pfx}))
    assert pfx not in repr(config) + repr(config.tls) + str(config.tls)
    assert config.to_dict()["tls"]["pfx"] == "**********"
    assert config.to_dict(reveal_secrets=True)["tls"]["pfx"] == pfx


SECRET_FIELDS: dict[str, dict[str, Any]] = {
    "auth.pass": {"auth": {"user": USER, "pass": "{s}"}},
    "auth.accessToken": {"auth": {"type": "oauth2", "user": USER, "accessToken": "{s}"}},
    "auth.clientSecret": {
        "auth": {"user": USER, "clientId": "c", "clientSecret": "{s}", "accessToken": "t"}
    },
    "auth.refreshToken": {
        "auth": {
            "user": USER,
            "clientId": "c",
            "refreshToken": "{s}",
            "accessUrl": "https://x.example/t",
        }
    },
    "auth.privateKey": {"auth": {"user": USER, "serviceClient": "1", "privateKey": "{s}"}},
    "tls.key": {"tls": {"cert": "c.pem", "key": "{s}"}},
    "tls.passphrase": {"tls": {"passphrase": "{s}"}},
    "tls.pfx": {"tls": {"pfx": "{s}"}},
    "dkim.privateKey": {
        "dkim": {"domainName": "example.com", "keySelector": "s1", "privateKey": "{s}"}
    },
    "smime.privateKey": {"smime": {"certificate": "c.pem", "privateKey": "{s}"}},
    "smime.privateKeyPassword": {
        "smime": {"certificate": "c.pem", "privateKey": "k.pem", "privateKeyPassword": "{s}"}
    },
}


@pytest.mark.parametrize("field", list(SECRET_FIELDS))
def test_every_secret_field_goes_through_the_one_redaction_path(
    field: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"secret-of-{field}-0123456789"
    overrides = json.loads(json.dumps(SECRET_FIELDS[field]).replace("{s}", secret))
    config = SmtpConfig.model_validate(config_for(2525, **overrides))
    dumped = json.dumps(config.to_dict())
    assert secret not in dumped + repr(config)
    assert redact(f"the server said: {secret}!") == "the server said: ***!"
    caplog.set_level(logging.DEBUG, logger="smtp_connector")
    secret_safe_logger("smtp_connector.delivery").warning("echoed %s back", secret)
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)


@pytest.fixture
async def echo_server(
    server_context: ssl.SSLContext,
) -> AsyncIterator[tuple[ScriptedServer, bytearray]]:
    """Implicit TLS (so AUTH is allowed), then a 535 that quotes the AUTH exchange back."""
    received = bytearray()
    server = await ScriptedServer(
        lambda reader, writer: echoing_auth_dialogue(reader, writer, received),
        ssl_context=server_context,
    ).start()
    yield server, received
    await server.stop()


@pytest.mark.parametrize("method", ["PLAIN", "LOGIN"])
async def test_535_echoing_the_credentials_is_scrubbed(
    echo_server: tuple[ScriptedServer, bytearray],
    ca_pem: str,
    method: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, received = echo_server
    caplog.set_level(logging.DEBUG, logger="smtp_connector")
    config = config_for(
        server.port,
        secure=True,
        tls={"ca": ca_pem},
        auth={"user": USER, "pass": PASSWORD, "method": method},
    )
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    error = info.value
    assert error.code is ErrorCode.AUTH_FAILED and error.smtp_code == 535
    forms = [
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    ]
    assert any(form.encode() in received for form in forms[1:])  # it was on the (TLS) wire
    visible = texts_of(error) + " ".join(r.getMessage() for r in caplog.records)
    assert [form for form in forms if form in visible] == []
    assert "***" in (error.server_message or "")  # the echo was there, scrubbed
