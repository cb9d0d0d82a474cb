"""`tls.pfx`: the client certificate and key as a PKCS#12 bundle, against a server that demands a
client certificate (mutual TLS): base64 text and file path forms, a wrong passphrase, a bundle
that is no bundle, and `disableFileAccess`."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from smtp_servers import MakeServer, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector

PASSPHRASE = "pfx-pass-7d1c"


@pytest.fixture
def mutual_server(make_server: MakeServer, tls_ca: trustme.CA) -> TestServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(context)
    tls_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no session
    return make_server(mode="implicit", context=context)


@pytest.fixture
def bundle(tls_ca: trustme.CA) -> bytes:
    client = tls_ca.issue_cert("client.example.com")
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes())
    return pkcs12.serialize_key_and_certificates(
        b"client",
        key,  # type: ignore[arg-type]
        certificate,
        None,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )


def pfx_config(server: TestServer, ca_pem: str, pfx: str, **extra: object) -> dict:
    tls = {"ca": ca_pem, "pfx": pfx, "passphrase": PASSPHRASE}
    return config_for(server, secure=True, tls=tls, **extra)


async def send(config: dict) -> None:
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "246810"})


async def test_base64_bundle_is_presented(
    mutual_server: TestServer, bundle: bytes, ca_pem: str
) -> None:
    await send(pfx_config(mutual_server, ca_pem, base64.b64encode(bundle).decode()))
    assert len(mutual_server.messages) == 1
    assert b"246810" in mutual_server.messages[0].content


async def test_bundle_file_is_presented(
    mutual_server: TestServer, bundle: bytes, ca_pem: str, tmp_path: Path
) -> None:
    path = tmp_path / "client.p12"
    path.write_bytes(bundle)
    await send(pfx_config(mutual_server, ca_pem, str(path)))
    assert len(mutual_server.messages) == 1


async def test_without_the_bundle_the_server_refuses(
    mutual_server: TestServer, ca_pem: str
) -> None:
    with pytest.raises(ConnectorError) as info:
        await send(config_for(mutual_server, secure=True, tls={"ca": ca_pem}))
    assert info.value.code in (ErrorCode.TLS_FAILED, ErrorCode.CONNECTION_FAILED)
    assert mutual_server.messages == []


def test_wrong_passphrase_is_invalid_config_without_secrets(bundle: bytes, ca_pem: str) -> None:
    encoded = base64.b64encode(bundle).decode()
    config = config_for(2525, secure=True, tls={"ca": ca_pem, "pfx": encoded, "passphrase": "no"})
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "passphrase" in info.value.message
    assert encoded[:40] not in str(info.value) and PASSPHRASE not in str(info.value)


def test_not_a_bundle_names_both_forms(ca_pem: str) -> None:
    config = config_for(2525, secure=True, tls={"ca": ca_pem, "pfx": "c2VjcmV0LWJ1bmRsZQ=="})
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "base64" in info.value.message and ".p12" in info.value.message
    assert "c2VjcmV0LWJ1bmRsZQ" not in str(info.value)


def test_disable_file_access_refuses_a_bundle_path(
    bundle: bytes, ca_pem: str, tmp_path: Path
) -> None:
    path = tmp_path / "client.p12"
    path.write_bytes(bundle)
    messages = []
    for candidate in (path, tmp_path / "missing.p12"):
        config = config_for(
            2525,
            secure=True,
            disableFileAccess=True,
            tls={"ca": ca_pem, "pfx": str(candidate), "passphrase": PASSPHRASE},
        )
        with pytest.raises(ConnectorError) as info:
            SmtpConnector(config)
        assert info.value.code is ErrorCode.INVALID_CONFIG
        messages.append(info.value.message)
    assert messages[0] == messages[1]  # an existing and a missing file look the same
    assert "disableFileAccess" in messages[0]


def test_pfx_and_cert_together_are_refused(bundle: bytes) -> None:
    encoded = base64.b64encode(bundle).decode()
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config_for(2525, tls={"pfx": encoded, "cert": "c.pem", "key": "k.pem"}))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "tls.pfx" in info.value.message
