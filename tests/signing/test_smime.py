"""S/MIME: signatures verified by `openssl smime -verify` against a test CA, the multipart/signed
structure, and bad material refused when the signer is built."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
from signing_helpers import (
    CODE,
    DOMAIN,
    PASSWORD,
    DkimKey,
    Pki,
    _change_body,
    _config,
    assert_no_secrets,
    digest_and_signer_check,
    dns_stub,
    make_email,
    parsed,
    signed_parts,
    smime_options,
    smime_verifies,
    verify_all,
)

from smtp_connector.config import SmimeOptions, SmtpConfig
from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.signing.policy import build_signers, sign_message
from smtp_connector.signing.smime import SmimeSigner

# --- S/MIME: signing and structure --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa-encrypted-key", "ec"])
def test_smime_signed_message_verifies(pki: Pki, tmp_path: Path, kind: str) -> None:
    options = (
        smime_options(pki)
        if kind == "rsa-encrypted-key"
        else SmimeOptions(certificate=pki.ec_cert, private_key=pki.ec_key)
    )
    signed = SmimeSigner(options).sign(make_email().as_bytes())
    assert smime_verifies(signed, pki, tmp_path)
    assert not smime_verifies(_change_body(signed), pki, tmp_path)
    # The openssl-free fallback check agrees.
    assert digest_and_signer_check(signed, pki)
    assert not digest_and_signer_check(_change_body(signed), pki)


def test_smime_structure_keeps_outer_headers(pki: Pki) -> None:
    email = make_email()
    original = parsed(email.as_bytes())
    signed = parsed(SmimeSigner(smime_options(pki)).sign(email.as_bytes()))
    assert signed.get_content_type() == "multipart/signed"
    assert signed.get_param("protocol") == "application/pkcs7-signature"
    assert signed.get_param("micalg") == "sha-256"
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                 "Auto-Submitted", "X-Request-Id"):  # fmt: skip
        assert signed[name] == original[name], name
    assert len(signed.get_all("Content-Type")) == 1
    content, signature = signed.get_payload()  # type: ignore[misc]
    assert content.get_content_type() == "multipart/alternative"
    assert CODE in content.get_body(("plain",)).get_content()
    assert signature.get_content_type() == "application/pkcs7-signature"


def test_smime_single_part_moves_content_headers_inside(pki: Pki, tmp_path: Path) -> None:
    raw = make_email(html=None).as_bytes()
    signed = SmimeSigner(smime_options(pki)).sign(raw)
    outer_head = signed.split(b"\r\n\r\n", 1)[0]
    assert b"Content-Transfer-Encoding" not in outer_head
    entity, _ = signed_parts(signed)
    assert entity.startswith(b'Content-Type: text/plain; charset="us-ascii"\r\n')
    assert b"Content-Transfer-Encoding: 7bit" in entity.split(b"\r\n\r\n", 1)[0]
    assert smime_verifies(signed, pki, tmp_path)


def test_smime_then_dkim_both_verify(pki: Pki, rsa_key: DkimKey, tmp_path: Path) -> None:
    config = SmtpConfig.model_validate(
        _config(
            smime={
                "certificate": pki.signer_cert,
                "privateKey": pki.signer_key_encrypted,
                "privateKeyPassword": PASSWORD,
            },
            dkim={"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem},
        )
    )
    signers = build_signers(config)
    assert [s.name for s in signers] == ["smime", "dkim"]
    signed = sign_message(make_email().as_bytes(), signers, smime_dont_send_on_error=True)
    assert verify_all(signed, dns_stub(rsa_key)) == [True]
    assert parsed(signed).get_content_type() == "multipart/signed"
    assert smime_verifies(signed, pki, tmp_path)


# --- S/MIME: config-time validation -------------------------------------------------------------


def _smime_cases(pki: Pki) -> dict[str, tuple[dict[str, Any], str]]:
    base = {
        "certificate": pki.signer_cert,
        "privateKey": pki.signer_key_encrypted,
        "privateKeyPassword": PASSWORD,
    }
    return {
        "wrong password": (base | {"privateKeyPassword": "not-the-password"}, "wrong password"),
        "no password": (
            {k: v for k, v in base.items() if k != "privateKeyPassword"},
            "set `privateKeyPassword`",
        ),
        "mismatch": (base | {"privateKey": pki.other_key}, "does not belong to `certificate`"),
        "expired": (base | {"certificate": pki.expired_cert}, "expired on"),
        "not yet valid": (base | {"certificate": pki.future_cert}, "not valid until"),
        "bad certificate": (
            base | {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
            "could not be parsed as an X.509",
        ),
        "key as certificate": (base | {"certificate": pki.signer_key}, "not a certificate"),
        "bad key": (
            base | {"privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "could not be parsed as a private key",
        ),
        "server certificate": (base | {"certificate": pki.server_only_cert}, "emailProtection"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong password", "no password", "mismatch", "expired", "not yet valid",
        "bad certificate", "key as certificate", "bad key", "server certificate",
    ],
)  # fmt: skip
def test_bad_smime_config_is_invalid_config(pki: Pki, case: str) -> None:
    smime_config, fragment = _smime_cases(pki)[case]
    config = SmtpConfig.model_validate(_config(smime=smime_config))  # the shape is fine
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)  # the signer checks its key material when it is built
    error = info.value
    assert error.code is ErrorCode.INVALID_CONFIG
    assert "smime" in error.message and fragment in error.message
    assert_no_secrets(
        f"{error} {error!r} {error.details}",
        pki.signer_key,
        pki.signer_key_encrypted,
        pki.other_key,
        passwords=(PASSWORD,),
    )


def test_extra_certificates_are_embedded(pki: Pki, tmp_path: Path) -> None:
    ca_file = tmp_path / "chain.pem"
    ca_file.write_text(pki.ca_cert)
    signer = SmimeSigner(smime_options(pki, extraCertificates=[str(ca_file)]))
    signed = signer.sign(make_email().as_bytes())
    embedded = pkcs7.load_der_pkcs7_certificates(signed_parts(signed)[1])
    ca = x509.load_pem_x509_certificate(pki.ca_cert.encode())
    assert ca in embedded and len(embedded) == 2
    assert smime_verifies(signed, pki, tmp_path)


def test_unneeded_password_for_plain_key_is_accepted(pki: Pki, tmp_path: Path) -> None:
    options = smime_options(pki, privateKey=pki.signer_key)
    assert smime_verifies(SmimeSigner(options).sign(make_email().as_bytes()), pki, tmp_path)


def test_secrets_stay_out_of_reprs_and_dumps(pki: Pki, rsa_key: DkimKey) -> None:
    config = SmtpConfig.model_validate(
        _config(
            smime={
                "certificate": pki.signer_cert,
                "privateKey": pki.signer_key_encrypted,
                "privateKeyPassword": PASSWORD,
            },
            dkim={"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem},
        )
    )
    signers = build_signers(config)
    text = " ".join(
        [repr(config), repr(config.dkim), repr(config.smime), str(config.to_dict())]
        + [repr(signer) for signer in signers]
        + [repr(vars(signer)) for signer in signers]
    )
    assert_no_secrets(
        text, rsa_key.pem, pki.signer_key_encrypted, pki.signer_key, passwords=(PASSWORD,)
    )
    assert "s1" in repr(signers[1]) and "noreply" in repr(signers[0])


def test_missing_cryptography_says_what_to_install(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hint works where the user stands: from the index, from a checkout, or by package."""
    monkeypatch.setitem(sys.modules, "cryptography", None)  # as if the extra were not installed
    config = SmtpConfig.model_validate(
        _config(smime={"certificate": pki.signer_cert, "privateKey": pki.signer_key})
    )
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    message = info.value.message
    assert "pip install 'smtp-connector[smime]'" in message
    assert "pip install '.[smime]'" in message
    assert message.endswith("or pip install cryptography")
