"""A stored definition with `ntlm: true` authenticates with NTLM: the native API's check runs
against aiosmtpd with an `auth_NTLM` handler (pyspnego's acceptor) that also offers PLAIN, so
only the `ntlm` flag can make the connector choose NTLM."""

from __future__ import annotations

from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer

pytest.importorskip("spnego", reason="NTLM needs the ntlm extra (pyspnego)")


async def test_native_ntlm_flag_authenticates_with_ntlm(
    api: Api, make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "ntlm-users"
    users.write_text(f"CORP:mailer:{SMTP_PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    server = make_server(ntlm=True, users={"CORP\\mailer": SMTP_PASSWORD})
    h = await api.key()
    app = await api.client.post(
        "/v1/apps", json={"name": "exchange", "testEmail": "ops@example.org"}, headers=h
    )
    base = f"/v1/apps/{app.json()['id']}/servers"
    fields = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",  # the admin's explicit choice: AUTH without TLS (ignoreTLS)
        "auth": True,
        "ntlm": True,
        "username": "CORP\\mailer",
        "password": SMTP_PASSWORD,
        "fromEmail": "noreply@example.com",
        "timeout": 5,
    }
    created = await api.client.post(base, json=fields, headers=h)
    assert created.status_code == 201, created.text
    checked = await api.client.post(f"{base}/{created.json()['id']}/check", headers=h)
    assert checked.status_code == 200, checked.text
    assert [mechanism for mechanism, _ in server.handler.auth_attempts] == ["NTLM"]
    assert server.messages[0].rcpt_tos == ["ops@example.org"]
