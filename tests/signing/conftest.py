"""Fixtures of the signing tests: DKIM keys, a test PKI, a recording SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from signing_helpers import (
    DOMAIN,
    PASSWORD,
    DkimKey,
    Pki,
    _free_port,
    _issue,
    _pem,
    _Recorder,
)

from smtp_connector.signing.dkim import (
    generate_dkim_key,
)

# --- DKIM fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    pem, record = generate_dkim_key("s1", DOMAIN, "rsa", 2048)
    return DkimKey("s1", pem, record)


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    pem, record = generate_dkim_key("ed1", DOMAIN, "ed25519")
    return DkimKey("ed1", pem, record)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca_key = rsa.generate_private_key(65537, 2048)
    ca_cert = _issue(ca_key, ca_key, None, "smtp-connector test CA")
    key = rsa.generate_private_key(65537, 2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ca_path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca_path.write_text(_pem(ca_cert))
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    ).decode()
    return Pki(
        ca_cert=_pem(ca_cert),
        ca_path=ca_path,
        signer_cert=_pem(_issue(key, ca_key, ca_cert, "noreply")),
        signer_key_encrypted=encrypted,
        signer_key=_pem(key),
        ec_cert=_pem(_issue(ec_key, ca_key, ca_cert, "noreply ec")),
        ec_key=_pem(ec_key),
        other_key=_pem(rsa.generate_private_key(65537, 2048)),
        expired_cert=_pem(_issue(key, ca_key, ca_cert, "old", days=(-60, -1))),
        future_cert=_pem(_issue(key, ca_key, ca_cert, "new", days=(5, 60))),
        server_only_cert=_pem(
            _issue(key, ca_key, ca_cert, "tls", purpose=ExtendedKeyUsageOID.SERVER_AUTH)
        ),
        ca_key=_pem(ca_key),
    )


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Recorder]]:
    from aiosmtpd.controller import Controller

    recorder = _Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()
