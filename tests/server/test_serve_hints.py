"""A real `smtp-connector serve` tells an operator what to change in the native API's terms
(issue 23, items 2 and 3): a relay with a private CA fails its check with the cause and a hint
naming `tlsCa` (never the library's `tls.ca`); giving the CA (with the password again, since
the trust changes) makes the check pass; a wrong password is "check `username` and
`password`", not a TLS hint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD, SMTP_USER, create_key_cli, env_with, start_serve
from smtp_servers import MakeServer

LIBRARY_WORDS = ("tls.ca", "rejectUnauthorized", "secure:", "requireTLS", "ignoreTLS",
                 "auth.user", "auth.pass")  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = env_with()
    key = create_key_cli(url, env=env)
    served = start_serve(url, tmp_path / "serve.log", env=env)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=served.base_url, headers=headers, timeout=30) as http:
            yield http
    finally:
        served.stop()


def test_private_ca_check_hint_then_tlsca(
    client: httpx.Client, make_server: MakeServer, ca_pem: str
) -> None:
    relay = make_server(mode="implicit", auth_required=True, users={SMTP_USER: SMTP_PASSWORD})
    app = client.post(
        "/v1/apps",
        json={"name": "shop", "testEmail": "ops@example.org", "fromEmail": "noreply@example.com"},
    ).json()["id"]
    made = client.post(f"/v1/apps/{app}/servers", json={
        "host": "127.0.0.1", "port": relay.port, "security": "tls", "username": SMTP_USER,
        "password": SMTP_PASSWORD, "timeout": 5}).json()  # fmt: skip
    check = f"/v1/apps/{app}/servers/{made['id']}/check"

    untrusted = client.post(check)
    assert untrusted.status_code == 406, untrusted.text
    error = untrusted.json()["error"]
    assert error["cause"] == "certificate_untrusted" and error["code"] == "tls_failed"
    assert "is not trusted" in error["message"] and "`tlsCa`" in error["hint"]
    assert "`security`" not in error["hint"]  # not "match Security to the port"
    assert not [w for w in LIBRARY_WORDS if w in untrusted.text]
    assert relay.messages == []

    server = f"/v1/apps/{app}/servers/{made['id']}"
    without_password = client.patch(server, json={"tlsCa": ca_pem})
    assert without_password.status_code == 400  # the trust changes: the password again
    trusted = client.patch(server, json={"tlsCa": ca_pem, "password": SMTP_PASSWORD})
    assert trusted.status_code == 200, trusted.text
    passed = client.post(check)
    assert passed.status_code == 200 and passed.json()["definition"]["status"] == "active"
    assert relay.messages[-1].rcpt_tos == ["ops@example.org"]

    client.patch(server, json={"password": "not-the-password"})
    refused = client.post(check).json()["error"]
    assert refused["cause"] == "auth_refused" and "`password`" in refused["hint"]
    assert "`tlsCa`" not in refused["hint"] and "not-the-password" not in str(refused)
