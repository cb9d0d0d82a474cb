"""Issue 27, findings 2 and 3, against a real `smtp-connector serve`: a tenant cannot take the
name of a dialect's app to receive the operator's definitions, and cannot make the service read
the host's files through S/MIME fields (nor learn which files exist)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    ServeProcess,
    create_key_cli,
    definition,
    env_with,
    start_serve,
)
from smtp_servers import MakeServer

pytest.importorskip("cryptography")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def smime_dir(tmp_path: Path) -> Path:
    """The operator's directory of S/MIME material, with one real (self-signed) pair."""
    from signing_helpers import smime_pair

    folder = tmp_path / "smime"
    folder.mkdir()
    cert_pem, key_pem = smime_pair("noreply@example.com")
    (folder / "cert.pem").write_text(cert_pem)
    (folder / "key.pem").write_text(key_pem)
    return folder


@pytest.fixture
def served(tmp_path: Path, smime_dir: Path) -> Iterator[tuple[ServeProcess, str, str]]:
    """serve with an S/MIME directory; an operator key, and a tenant key bound to app `shop`."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    env = env_with(SMTP_CONNECTOR_SMIME_DIR=str(smime_dir))
    operator = create_key_cli(url, env=env)
    serve = start_serve(url, tmp_path / "serve.log", env)
    created = httpx.post(f"{serve.base_url}/v1/apps", json={"name": "shop", "id": "shop"},
                         headers=bearer(operator))  # fmt: skip
    assert created.status_code == 201
    tenant = create_key_cli(url, app="shop", env=env)
    yield serve, operator, tenant
    serve.stop()


@pytest.mark.parametrize("name", ["privacyidea", "portal", "PrivacyIDEA", " portal "])
def test_a_tenant_cannot_take_a_dialect_apps_name(
    name: str, served: tuple[ServeProcess, str, str], make_server: MakeServer
) -> None:
    serve, operator, tenant = served
    live = make_server()
    with httpx.Client(base_url=serve.base_url, timeout=30) as http:
        renamed = http.patch("/v1/apps/shop", json={"name": name}, headers=bearer(tenant))
        assert renamed.status_code == 400, renamed.text
        assert "reserved" in renamed.json()["error"]["message"]
        created = http.post("/v1/apps", json={"name": name}, headers=bearer(operator))
        assert created.status_code == 400

        # The operator's privacyIDEA and portal saves land in the service's own apps.
        pi = http.post("/smtpserver/otp", headers={"Authorization": operator}, json={
            "server": "127.0.0.1", "port": live.port, "username": "u", "password":
            SMTP_PASSWORD, "sender": "otp@example.com"})  # fmt: skip
        assert pi.json()["result"]["value"] is True, pi.text
        portal = http.post(
            "/api/2.0/smtpsettings/smtp",
            headers=bearer(operator),
            json={"host": "127.0.0.1", "port": live.port, "senderAddress": "p@example.com"},
        )
        assert portal.status_code == 200, portal.text
        assert http.get("/v1/apps/shop/servers", headers=bearer(tenant)).json() == []
        names = sorted(a["name"] for a in http.get("/v1/apps", headers=bearer(operator)).json())
        assert names == ["portal", "privacyidea", "shop"]
        # ... and the tenant's key does not reach them.
        assert http.get("/smtpserver/", headers={"Authorization": tenant}).status_code == 403


def test_a_dialect_app_renamed_by_the_operator_is_still_found(
    served: tuple[ServeProcess, str, str], make_server: MakeServer
) -> None:
    serve, operator, _ = served
    live = make_server()
    with httpx.Client(base_url=serve.base_url, headers={"Authorization": operator}) as http:
        params = {"server": "127.0.0.1", "port": live.port, "sender": "otp@example.com"}
        assert http.post("/smtpserver/a", json=params).json()["result"]["value"] is True
        (app,) = [a for a in http.get("/v1/apps", headers=bearer(operator)).json()
                  if a["name"] == "privacyidea"]  # fmt: skip
        renamed = http.patch(f"/v1/apps/{app['id']}", json={"name": "otp mail"},
                             headers=bearer(operator))  # fmt: skip
        assert renamed.status_code == 200
        listed = http.get("/smtpserver/").json()["result"]["value"]
        assert list(listed) == ["a"]  # found by its marker, not by its name


HOST_FILES = ["/etc/hostname", "/etc/passwd", "/nonexistent/key.pem", "/etc", "/proc/self/environ"]


@pytest.mark.parametrize("field", ["certificate", "privateKey"])
def test_a_tenant_cannot_name_host_files(
    field: str, served: tuple[ServeProcess, str, str], smime_dir: Path, make_server: MakeServer
) -> None:
    """Finding 3: paths are refused for an app-bound key — even inside the S/MIME directory —
    with one message whatever the file is (exists, missing, a directory, not a key)."""
    serve, _, tenant = served
    live = make_server(users={SMTP_USER: SMTP_PASSWORD})
    cert_pem = (smime_dir / "cert.pem").read_text()
    key_pem = (smime_dir / "key.pem").read_text()
    messages = set()
    with httpx.Client(base_url=serve.base_url, headers=bearer(tenant), timeout=30) as http:
        for path in [*HOST_FILES, str(smime_dir / "key.pem"), "key.pem"]:
            smime = {"enabled": True, "certificate": cert_pem, "privateKey": key_pem, field: path}
            made = http.post(
                "/v1/apps/shop/servers", json=definition(live.port, smime=smime)
            )  # fmt: skip
            assert made.status_code == 400, (path, made.text)
            messages.add(made.json()["error"]["message"])
        assert len(messages) == 1, messages
        (message,) = messages
        assert "PEM text" in message and "bound to an app" in message
        # PEM text is the way a tenant gives its material: accepted, the key never returned.
        smime = {"enabled": True, "certificate": cert_pem, "privateKey": key_pem}
        made = http.post("/v1/apps/shop/servers", json=definition(live.port, smime=smime))
        assert made.status_code == 201, made.text
        assert made.json()["smime"]["privateKey"] == "__CENSORED__"
        sent = http.post(
            "/v1/apps/shop/messages", json={"to": "a@example.org", "payload": {"code": "123456"}}
        )
        assert sent.status_code == 200, sent.text
        assert b"application/pkcs7-signature" in live.messages[-1].content


def test_operator_paths_stay_inside_the_smime_directory(
    served: tuple[ServeProcess, str, str], smime_dir: Path, tmp_path: Path, make_server: MakeServer
) -> None:
    """privacyIDEA's admins name key files: allowed for an operator key inside the directory
    (relative or absolute), returned as stored; `..` and symlinks that lead out refused."""
    serve, operator, _ = served
    live = make_server()
    outside = tmp_path / "outside.pem"
    outside.write_text((smime_dir / "key.pem").read_text())
    (smime_dir / "link.pem").symlink_to(outside)
    pi = {"Authorization": operator}
    base = {"server": "127.0.0.1", "port": live.port, "sender": "noreply@example.com",
            "smime": 1, "dont_send_on_error": 1}  # fmt: skip
    with httpx.Client(base_url=serve.base_url, timeout=30) as http:
        for key, cert in (("key.pem", "cert.pem"), (str(smime_dir / "key.pem"), "cert.pem")):
            saved = http.post(
                "/smtpserver/signed",
                headers=pi,
                json=base | {"private_key": key, "certificate": cert},
            )
            assert saved.json()["result"]["value"] is True, saved.text
            listed = http.get("/smtpserver/", headers=pi).json()["result"]["value"]
            assert listed["signed"]["private_key"] == key  # a path is not a secret
            assert listed["signed"]["certificate"] == cert
        (smime_dir / "notes.txt").write_text("not a key")
        for keys, why in ((("../outside.pem", str(outside), "link.pem"), "a path inside"),
                          (("missing.pem", ".", "notes.txt"), "cannot be used")):  # fmt: skip
            messages = set()
            for key in keys:
                refused = http.post("/smtpserver/signed", headers=pi,
                                    json=base | {"private_key": key})  # fmt: skip
                assert refused.status_code == 400, (key, refused.text)
                messages.add(refused.json()["result"]["error"]["message"])
            # One answer per group: a missing file, a directory and a text file read the same.
            assert len(messages) == 1, messages
            message = messages.pop()
            assert why in message and "SMTP_CONNECTOR_SMIME_DIR" in message

        sent = http.post(
            "/smtpserver/send_test_email",
            headers=pi,
            json=base | {"identifier": "signed", "recipient": "admin@example.org",
                         "private_key": "key.pem", "certificate": "cert.pem"},
        )  # fmt: skip
        assert sent.json()["result"]["value"] is True, sent.text
        assert b"application/pkcs7-signature" in live.messages[-1].content


def test_without_a_smime_directory_paths_are_refused_for_everyone(
    tmp_path: Path, make_server: MakeServer
) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    operator = create_key_cli(url)
    serve = start_serve(url, tmp_path / "serve.log")
    try:
        refused = httpx.post(
            f"{serve.base_url}/smtpserver/x",
            headers={"Authorization": operator},
            json={
                "server": "127.0.0.1",
                "port": make_server().port,
                "smime": 1,
                "private_key": "/etc/ssl/private/key.pem",
            },
        )
        assert refused.status_code == 400
        assert "SMTP_CONNECTOR_SMIME_DIR" in refused.json()["result"]["error"]["message"]
    finally:
        serve.stop()
