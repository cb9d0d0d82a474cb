"""privacyIDEA's own API tests for its SMTP server endpoints (`tests/test_api_smtpserver.py`
upstream, 13 cases), restated against our dialect: the same payloads (form-encoded, strings for
numbers, `privacyidea@local` as sender) and the same assertions, with two adaptations that do
not change what is asserted — the test sends reach a real aiosmtpd server on 127.0.0.1 instead of
upstream's `smtpmock`, and the S/MIME material is a fresh CA pair laid out as upstream's
`tests/testdata/ca/` inside SMTP_CONNECTOR_SMIME_DIR (upstream's own certificate expired in
2020, which our signer refuses: a documented difference).

Documented differences (docs/service.md, privacyIDEA): a key path outside the S/MIME directory
(upstream's `/etc/privacyidea/smime.key`) is refused, so that case uses a path inside it; the
signature part is `application/pkcs7-signature` (RFC 8551) where upstream writes
`application/x-pkcs7-signature`.
"""

from __future__ import annotations

import email
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import client_for
from service_support import SECRET_KEY
from smtp_servers import MakeServer, TestServer

from smtp_connector.store import CLI_ACTOR, SCOPES, Service
from smtp_connector.store.network import NetworkPolicy
from smtp_connector.store.policy import ServicePolicy
from smtp_connector.store.tables import DefinitionRow

pytest.importorskip("cryptography")
CENSORED = "__CENSORED__"
CREATE = {"username": "cornelius", "password": "secret", "port": "123", "server": "1.2.3.4",
          "sender": "privacyidea@local", "description": "myServer"}  # fmt: skip


class Upstream:
    """The test case's helpers (`_create_server`, `_list_servers`, …) over our service."""

    def __init__(self, client: httpx.AsyncClient, service: Service, key: str) -> None:
        self.client, self.service, self.at = client, service, key

    async def create(self, name: str = "server1", **extra: str) -> httpx.Response:
        return await self.client.post(
            f"/smtpserver/{name}", data=CREATE | extra, headers={"Authorization": self.at}
        )

    async def listed(self) -> httpx.Response:
        return await self.client.get("/smtpserver/", headers={"Authorization": self.at})

    async def delete(self, name: str = "server1") -> httpx.Response:
        return await self.client.delete(f"/smtpserver/{name}", headers={"Authorization": self.at})

    async def send_test(self, server: TestServer, **extra: object) -> httpx.Response:
        data = {"identifier": "someServer", "username": "cornelius", "password": "secret",
                "port": str(server.port), "server": "127.0.0.1", "sender": "privacyidea@local",
                "recipient": "recp@example.com", "description": "myServer"} | extra  # fmt: skip
        return await self.client.post(
            "/smtpserver/send_test_email", data=data, headers={"Authorization": self.at}
        )

    async def stored(self, name: str = "server1") -> DefinitionRow:
        from sqlalchemy import select

        async with self.service.database.transaction() as session:
            row = await session.scalar(select(DefinitionRow).where(DefinitionRow.name == name))
        assert row is not None
        return row


@pytest.fixture
def smime_dir(tmp_path: Path) -> Path:
    """Upstream's layout with a fresh pair; or, with UPSTREAM_PRIVACYIDEA_DIR set to a
    privacyIDEA checkout, upstream's own test data (its certificate expired in 2020: the S/MIME
    send case then fails, as documented)."""
    from signing_helpers import smime_pair

    given = os.environ.get("UPSTREAM_PRIVACYIDEA_DIR")
    if given:
        return Path(given)
    folder = tmp_path / "privacyidea"
    (folder / "tests" / "testdata" / "ca").mkdir(parents=True)
    cert_pem, key_pem = smime_pair("noreply@example.com")
    (folder / "tests/testdata/ca/cacert.pem").write_text(cert_pem)
    (folder / "tests/testdata/ca/cakey.pem").write_text(key_pem)
    return folder


@pytest.fixture
async def upstream(database_url: str, smime_dir: Path) -> AsyncIterator[Upstream]:
    policy = ServicePolicy(network=NetworkPolicy.parse("any"), smime_dir=smime_dir)
    service = await Service.open(database_url, SECRET_KEY, migrate=True, policy=policy)
    _, key = await service.keys.create(CLI_ACTOR, SCOPES)
    async with client_for(service) as client:
        yield Upstream(client, service, key)
    await service.aclose()


@pytest.fixture
def smtp(make_server: MakeServer) -> TestServer:
    return make_server(users={"cornelius": "secret"})


async def test_create_server_unauthorized(upstream: Upstream) -> None:
    res = await upstream.client.post("/smtpserver/server1", data={
        k: v for k, v in CREATE.items() if k != "sender"})  # fmt: skip
    assert res.status_code == 401


async def test_create_server(upstream: Upstream) -> None:
    res = await upstream.create()
    assert res.status_code == 200 and res.json()["result"]["value"] is True


async def test_list_servers(upstream: Upstream) -> None:
    await upstream.create()
    res = await upstream.listed()
    assert res.status_code == 200
    server_list = res.json()["result"]["value"]
    assert len(server_list) == 1
    server1 = server_list["server1"]
    assert server1["server"] == "1.2.3.4"
    assert server1["sender"] == "privacyidea@local"
    assert server1["username"] == "cornelius"
    assert server1["password"] == CENSORED


async def test_delete_server(upstream: Upstream) -> None:
    await upstream.create()
    assert (await upstream.delete()).status_code == 200
    res = await upstream.listed()
    assert res.status_code == 200 and len(res.json()["result"]["value"]) == 0


async def test_send_test_email(upstream: Upstream, smtp: TestServer) -> None:
    res = await upstream.send_test(smtp)
    assert res.status_code == 200 and res.json()["result"]["value"] is True, res.text


async def test_send_smime_email(upstream: Upstream, smtp: TestServer) -> None:
    res = await upstream.send_test(smtp, smime=True, private_key="tests/testdata/ca/cakey.pem",
                                   certificate="tests/testdata/ca/cacert.pem")  # fmt: skip
    assert res.status_code == 200 and res.json()["result"]["value"] is True, res.text
    msg = smtp.messages[-1].content.decode()
    assert "application/pkcs7-signature" in msg  # upstream: application/x-pkcs7-signature
    assert "smime.p7s" in msg


async def test_dont_send_email_on_smime_error(upstream: Upstream, smtp: TestServer) -> None:
    res = await upstream.send_test(smtp, smime=True, dont_send_on_error=True,
                                   private_key="tests/testdata/ca/cakey.pem",
                                   certificate="tests/testdata/ca")  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["result"]["value"] is False
    assert smtp.messages == []


async def test_sent_email_text_content(upstream: Upstream, smtp: TestServer) -> None:
    res = await upstream.send_test(smtp)
    assert res.status_code == 200 and res.json()["result"]["value"] is True, res.text
    (sent,) = smtp.messages
    assert sent.mail_from == "privacyidea@local"
    assert "recp@example.com" in sent.rcpt_tos
    parsed = email.message_from_bytes(sent.content)
    assert parsed["Subject"] == "Test Email from privacyIDEA"
    assert parsed["From"] == "privacyidea@local"
    assert parsed["To"] == "recp@example.com"
    body = parsed.get_payload(decode=True).decode("utf-8")
    assert "This is a test email from privacyIDEA." in body
    assert "The configuration someServer is working." in body


async def test_password_not_overwritten_by_censored(upstream: Upstream) -> None:
    await upstream.create()
    res = await upstream.create(password=CENSORED, description="updated description")
    assert res.status_code == 200, res.text
    row = await upstream.stored()
    assert upstream.service.box.decrypt(row.password_enc or "") == "secret"
    assert row.description == "updated description"


async def test_private_key_password_censored_in_response(upstream: Upstream) -> None:
    await upstream.create(private_key_password="pkpass")
    server = (await upstream.listed()).json()["result"]["value"]["server1"]
    assert server["private_key_password"] == CENSORED


async def test_private_key_password_not_overwritten_by_censored(upstream: Upstream) -> None:
    await upstream.create(private_key_password="my_key_pass")
    res = await upstream.create(password=CENSORED, private_key_password=CENSORED,
                                description="updated with censored pkpass")  # fmt: skip
    assert res.status_code == 200, res.text
    row = await upstream.stored()
    assert row.smime_key_password_enc not in (None, "", CENSORED)
    assert upstream.service.box.decrypt(row.smime_key_password_enc or "") == "my_key_pass"
    assert row.description == "updated with censored pkpass"


async def test_private_key_not_censored_in_response(upstream: Upstream) -> None:
    # Upstream uses /etc/privacyidea/smime.key; ours must lie in SMTP_CONNECTOR_SMIME_DIR.
    res = await upstream.create(smime="1", private_key="tests/testdata/ca/cakey.pem")
    assert res.status_code == 200, res.text
    server = (await upstream.listed()).json()["result"]["value"]["server1"]
    assert server["password"] == CENSORED
    assert server["private_key"] == "tests/testdata/ca/cakey.pem"
    outside = await upstream.create("server2", smime="1", private_key="/etc/privacyidea/smime.key")
    assert outside.status_code == 400  # the documented difference
    assert "SMTP_CONNECTOR_SMIME_DIR" in outside.json()["result"]["error"]["message"]


async def test_password_cleared_with_empty_string(upstream: Upstream) -> None:
    await upstream.create(password="to_be_cleared")
    res = await upstream.create(password="", description="cleared password")
    assert res.status_code == 200, res.text
    row = await upstream.stored()
    assert row.password_enc is None  # upstream stores an encrypted "": nothing stored here


async def test_smtps_server_means_implicit_tls(
    upstream: Upstream, make_server: MakeServer, ca_pem: str
) -> None:
    """privacyIDEA's `server: smtps://host` (its lib reads the scheme with urlparse)."""
    tls_server = make_server(mode="tls", users={"cornelius": "secret"})
    res = await upstream.create("tls1", server=f"smtps://127.0.0.1:{tls_server.port}")
    assert res.status_code == 200, res.text
    listed = (await upstream.listed()).json()["result"]["value"]["tls1"]
    assert listed["server"] == "smtps://127.0.0.1" and listed["port"] == tls_server.port
    row = await upstream.stored("tls1")
    assert (row.host, row.security) == ("127.0.0.1", "tls")
    bad = await upstream.create("tls2", server="imaps://127.0.0.1")
    assert bad.status_code == 400 and "`server`" in bad.text
