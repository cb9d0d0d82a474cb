"""DKIM (RSA, Ed25519, both): signatures verified by dkimpy's own verifier against a stub DNS,
tampering caught, and bad key material refused when the signer is built."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from signing_helpers import (
    DOMAIN,
    PASSWORD,
    DkimKey,
    Pki,
    _change_body,
    _config,
    assert_no_secrets,
    dkim_options,
    dns_stub,
    make_email,
    needs_nacl,
    signature_tags,
    verify_all,
)

from smtp_connector.config import SmtpConfig
from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.signing.dkim import (
    DkimSigner,
    check_dkim_options,
    dns_record_name,
    generate_dkim_key,
    txt_strings,
)
from smtp_connector.signing.policy import sign_message

# --- DKIM: signatures verify, tampering is caught ---------------------------------------------


def test_rsa_signature_verifies_with_dkimpy(rsa_key: DkimKey) -> None:
    raw = make_email().as_bytes()
    signed = DkimSigner([dkim_options(rsa_key)]).sign(raw)
    assert signed.endswith(raw)  # the message itself is untouched, the field is prepended
    assert verify_all(signed, dns_stub(rsa_key)) == [True]
    tags = signature_tags(signed)
    assert (tags["a"], tags["d"], tags["s"], tags["c"]) == (
        "rsa-sha256",
        DOMAIN,
        "s1",
        "relaxed/relaxed",
    )
    assert all(len(line) <= 78 for line in signed.split(b"\r\n\r\n")[0].split(b"\r\n"))


@needs_nacl
def test_ed25519_signature_verifies_with_dkimpy(ed_key: DkimKey) -> None:
    signed = DkimSigner([dkim_options(ed_key)]).sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(ed_key)) == [True]
    assert signature_tags(signed)["a"] == "ed25519-sha256"


@needs_nacl
def test_rsa_and_ed25519_keys_sign_together(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    signer = DkimSigner([dkim_options(rsa_key), dkim_options(ed_key)])
    signed = signer.sign(make_email().as_bytes())
    assert [signature_tags(signed, i)["a"] for i in (0, 1)] == ["rsa-sha256", "ed25519-sha256"]
    assert verify_all(signed, dns_stub(rsa_key, ed_key)) == [True, True]
    # Each signature really depends on its own key: with other keys published, both fail.
    other_rsa = generate_dkim_key("s1", DOMAIN, "rsa", 1024)[1]
    other_ed = generate_dkim_key("ed1", DOMAIN, "ed25519")[1]
    others = dns_stub(DkimKey("s1", "", other_rsa), DkimKey("ed1", "", other_ed))
    assert verify_all(signed, others) == [False, False]


def _change_subject(data: bytes) -> bytes:
    return data.replace(b"Subject: Your sign-in code", b"Subject: Your sign-in c0de")


def _add_subject(data: bytes) -> bytes:
    return b"Subject: Click this instead\r\n" + data


def _add_reply_to(data: bytes) -> bytes:
    return b"Reply-To: attacker@evil.example\r\n" + data


def _change_signed_domain(data: bytes) -> bytes:
    return data.replace(b"d=example.com", b"d=example.net", 1)


@pytest.mark.parametrize(
    "tamper", [_change_body, _change_subject, _add_subject, _add_reply_to, _change_signed_domain]
)
def test_tampered_message_fails(rsa_key: DkimKey, tamper: Callable[[bytes], bytes]) -> None:
    signed = DkimSigner([dkim_options(rsa_key)]).sign(make_email().as_bytes())
    tampered = tamper(signed)
    assert tampered != signed
    dns = dns_stub(rsa_key, domain="example.net") if tamper is _change_signed_domain else None
    assert verify_all(signed, dns_stub(rsa_key)) == [True]
    assert verify_all(tampered, dns or dns_stub(rsa_key)) == [False]


def test_refolding_in_transit_still_verifies(rsa_key: DkimKey) -> None:
    """relaxed/relaxed: a relay re-folding a header or padding whitespace does not break it."""
    signed = DkimSigner([dkim_options(rsa_key)]).sign(make_email().as_bytes())
    refolded = signed.replace(b"Subject: Your sign-in code", b"Subject:  Your sign-in\r\n\tcode")
    assert refolded != signed
    assert verify_all(refolded, dns_stub(rsa_key)) == [True]


def test_lf_only_input_is_signed_as_crlf(rsa_key: DkimKey) -> None:
    lf = make_email().as_bytes().replace(b"\r\n", b"\n")
    signed = DkimSigner([dkim_options(rsa_key)]).sign(lf)
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify_all(signed, dns_stub(rsa_key)) == [True]


@pytest.mark.parametrize("names", [["From", "Subject", "To"], "From:Subject:To"])
def test_header_field_names_are_respected(rsa_key: DkimKey, names: list[str] | str) -> None:
    signer = DkimSigner([dkim_options(rsa_key, headerFieldNames=names)])
    signed = signer.sign(make_email().as_bytes())
    assert signature_tags(signed)["h"] == "from:subject:to"
    assert verify_all(signed, dns_stub(rsa_key)) == [True]
    # An unsigned header may change; a signed one may not.
    unsigned_change = signed.replace(b"X-Request-Id: req-42", b"X-Request-Id: req-43")
    assert verify_all(unsigned_change, dns_stub(rsa_key)) == [True]
    assert verify_all(_change_subject(signed), dns_stub(rsa_key)) == [False]


def test_key_from_file_is_loaded_once(rsa_key: DkimKey, tmp_path: Path) -> None:
    """The key is read and parsed when the signer is built, never per message."""
    path = tmp_path / "dkim.pem"
    path.write_text(rsa_key.pem)
    signer = DkimSigner([dkim_options(DkimKey("s1", str(path), rsa_key.record))])
    path.unlink()
    signed = signer.sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(rsa_key)) == [True]


def test_traditional_rsa_pem_is_accepted(rsa_key: DkimKey) -> None:
    key = serialization.load_pem_private_key(rsa_key.pem.encode(), None)
    traditional = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in traditional
    signer = DkimSigner([dkim_options(DkimKey("s1", traditional, rsa_key.record))])
    assert verify_all(signer.sign(make_email().as_bytes()), dns_stub(rsa_key)) == [True]


@needs_nacl
def test_dkimpy_raw_ed25519_key_is_accepted(ed_key: DkimKey) -> None:
    key = serialization.load_pem_private_key(ed_key.pem.encode(), None)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signer = DkimSigner([dkim_options(DkimKey("ed1", base64.b64encode(raw).decode(), ""))])
    assert verify_all(signer.sign(make_email().as_bytes()), dns_stub(ed_key)) == [True]


def test_message_without_from_is_refused_even_when_unsigned_mail_is_allowed(
    rsa_key: DkimKey,
) -> None:
    signer = DkimSigner([dkim_options(rsa_key)])
    message = b"To: user@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    with pytest.raises(ConnectorError) as info:
        sign_message(message, [signer], smime_dont_send_on_error=False)
    assert info.value.code is ErrorCode.SIGNING_FAILED
    assert "From" in info.value.message


# --- DKIM: config-time validation -------------------------------------------------------------


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _encrypted(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    ).decode()


def _dkim_cases(rsa_key: DkimKey, pki: Pki) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (dkim config, expected fragment of the error message)."""
    body = "\n".join(rsa_key.pem.strip().splitlines()[1:-1])
    base = {"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem}
    return {
        "garbage": (
            base | {"privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "could not be parsed",
        ),
        "armour cut off": (base | {"privateKey": body}, "nor a path to a PEM file"),
        "missing file": (base | {"privateKey": "/nonexistent/dkim.pem"}, "could not be read"),
        "encrypted": (base | {"privateKey": _encrypted(rsa_key.pem)}, "encrypted"),
        "ec key": (base | {"privateKey": _ec_pem()}, "RSA or Ed25519"),
        "certificate": (base | {"privateKey": pki.signer_cert}, "CERTIFICATE, not a private key"),
        "selector": (base | {"keySelector": "bad selector"}, "keySelector"),
        "domain": (base | {"domainName": "localhost"}, "domainName"),
        "no from": (base | {"headerFieldNames": ["Subject", "To"]}, "must include From"),
        "received": (base | {"headerFieldNames": "From:Received"}, "'received'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "garbage", "armour cut off", "missing file", "encrypted", "ec key", "certificate",
        "selector", "domain", "no from", "received",
    ],
)  # fmt: skip
def test_bad_dkim_config_is_invalid_config(rsa_key: DkimKey, pki: Pki, case: str) -> None:
    dkim_config, fragment = _dkim_cases(rsa_key, pki)[case]
    config = SmtpConfig.model_validate(_config(dkim=[dkim_config]))  # the shape is fine
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)  # the signer checks its key material when it is built
    error = info.value
    assert error.code is ErrorCode.INVALID_CONFIG
    assert "dkim" in error.message and fragment in error.message
    assert_no_secrets(f"{error} {error!r} {error.details}", rsa_key.pem, passwords=(PASSWORD,))


def test_good_dkim_config_loads(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    config = SmtpConfig.model_validate(
        _config(
            dkim=[
                {"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem},
                {"domainName": DOMAIN, "keySelector": "ed1", "privateKey": ed_key.pem},
            ]
        )
    )
    assert isinstance(config.dkim, list) and len(config.dkim) == 2
    assert [signer.name for signer in SmtpConnector(config)._signers] == ["dkim"]


def test_missing_dkimpy_says_what_to_install(
    rsa_key: DkimKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dkim.canonicalization", None)
    with pytest.raises(ValueError) as raised:
        check_dkim_options(dkim_options(rsa_key))
    # Both forms: the index's and a source checkout's (the package may not be on the index).
    assert "pip install 'smtp-connector[dkim]'" in str(raised.value)
    assert "pip install '.[dkim]'" in str(raised.value)
    assert "dkimpy" in str(raised.value).rpartition("or pip install")[2]
    config = SmtpConfig.model_validate(
        _config(dkim={"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem})
    )
    with pytest.raises(ConnectorError, match=r"smtp-connector\[dkim\]"):
        SmtpConnector(config)


def test_generate_dkim_key_records() -> None:
    pem, record = generate_dkim_key("sel", "Bücher.example", "rsa", 1024)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    public = serialization.load_der_public_key(base64.b64decode(record.split("p=")[1]))
    private = serialization.load_pem_private_key(pem.encode(), None)
    assert public.public_numbers() == private.public_key().public_numbers()  # type: ignore[union-attr]
    assert dns_record_name("sel", "Bücher.example") == "sel._domainkey.xn--bcher-kva.example"
    _, long_record = generate_dkim_key("s", DOMAIN, "rsa", 4096)
    chunks = txt_strings(long_record)
    assert len(chunks) > 1 and all(len(c) <= 255 for c in chunks)
    assert "".join(chunks) == long_record
    with pytest.raises(ValueError, match="rsa"):
        generate_dkim_key("s", DOMAIN, "dsa")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bits"):
        generate_dkim_key("s", DOMAIN, "rsa", 512)
