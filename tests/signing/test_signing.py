"""Message signing: DKIM (RSA, Ed25519, both) verified by dkimpy's own verifier against a stub DNS,
S/MIME verified by `openssl smime -verify` against a test CA, config-time key validation, the
dontSendOnError policy, the `dkim-keygen` command, and one delivery through a real local server.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import importlib.util
import json
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smtp_connector.addresses import parse_address
from smtp_connector.cli import main
from smtp_connector.compose.message import RenderedEmail
from smtp_connector.config import DkimOptions, SmimeOptions, SmtpConfig
from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.signing.dkim import (
    DkimSigner,
    check_dkim_options,
    dns_record_name,
    generate_dkim_key,
    txt_strings,
)
from smtp_connector.signing.policy import build_signers, sign_message
from smtp_connector.signing.smime import SmimeSigner

DOMAIN = "example.com"
FROM = "noreply@example.com"
CODE = "482913"
PASSWORD = "k3y-Passw0rd!"
HAS_NACL = importlib.util.find_spec("nacl") is not None
needs_nacl = pytest.mark.skipif(
    not HAS_NACL, reason="dkimpy's Ed25519 verifier needs pynacl (in the test extra)"
)
OPENSSL = shutil.which("openssl")

# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DkimKey:
    selector: str
    pem: str
    record: str


def make_email(text: str | None = None, html: str | None = "default") -> RenderedEmail:
    """A verification mail as the connector composes it (multipart/alternative by default)."""
    return RenderedEmail(
        subject="Your sign-in code",
        text=f"Your code is {CODE}.\n" if text is None else text,
        html=f"<p>Your code is <b>{CODE}</b>.</p>" if html == "default" else html,
        from_address=parse_address(f"Acme <{FROM}>"),
        to=(parse_address("user@example.org"),),
        headers=(("X-Request-Id", "req-42"),),
    )


def dns_stub(*keys: DkimKey, domain: str = DOMAIN) -> Callable[..., bytes | None]:
    """dkimpy's `dnsfunc`: answers TXT queries for the generated keys, nothing else."""
    records = {f"{key.selector}._domainkey.{domain}": key.record.encode() for key in keys}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name.decode().rstrip("."))

    return lookup


def dkim_options(key: DkimKey, **extra: Any) -> DkimOptions:
    data = {"domainName": DOMAIN, "keySelector": key.selector, "privateKey": key.pem, **extra}
    return DkimOptions.model_validate(data)


def verify_all(data: bytes, dns: Callable[..., bytes | None]) -> list[bool]:
    """dkimpy's verdict on every DKIM-Signature of `data`, top down."""
    count = len(re.findall(rb"^DKIM-Signature:", data, flags=re.MULTILINE | re.IGNORECASE))
    if count == 1:
        return [dkim.verify(data, dnsfunc=dns)]  # the module-level API, as receivers call it
    return [_verify_one(data, i, dns) for i in range(count)]


def _verify_one(data: bytes, index: int, dns: Callable[..., bytes | None]) -> bool:
    try:
        return bool(dkim.DKIM(data).verify(idx=index, dnsfunc=dns))
    except dkim.DKIMException:
        return False


def signature_tags(data: bytes, index: int = 0) -> dict[str, str]:
    headers = message_from_bytes(data, policy=policy.compat32).get_all("DKIM-Signature")
    value = re.sub(r"\s+", "", headers[index])
    return dict(item.split("=", 1) for item in value.split(";") if item)


def key_fragments(pem: str) -> list[str]:
    """Pieces of a PEM's base64 body: none may appear in any error, repr or log."""
    body = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    return [body[1], body[-2]] if len(body) > 3 else [body[0][:32]]


def assert_no_secrets(text: str, *pems: str, passwords: tuple[str, ...] = ()) -> None:
    for pem in pems:
        for fragment in key_fragments(pem):
            assert fragment not in text
    for password in passwords:
        assert password not in text


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


# --- DKIM fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    pem, record = generate_dkim_key("s1", DOMAIN, "rsa", 2048)
    return DkimKey("s1", pem, record)


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    pem, record = generate_dkim_key("ed1", DOMAIN, "ed25519")
    return DkimKey("ed1", pem, record)


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


def _change_body(data: bytes) -> bytes:
    return data.replace(f"<b>{CODE}</b>".encode(), b"<b>000000</b>")


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


def _config(**extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": 2525, "fromEmail": FROM, **extra}


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
    with pytest.raises(ValueError, match=r"install smtp-connector\[dkim\]"):
        check_dkim_options(dkim_options(rsa_key))
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


# --- S/MIME fixtures: a test CA and certificates ------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_cert: str
    ca_path: Path
    signer_cert: str
    signer_key_encrypted: str  # encrypted with PASSWORD
    signer_key: str
    ec_cert: str
    ec_key: str
    other_key: str
    expired_cert: str
    future_cert: str
    server_only_cert: str
    ca_key: str


def _pem(obj: Any) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    key: Any,
    ca_key: Any,
    ca_cert: x509.Certificate | None,
    cn: str,
    *,
    days: tuple[int, int] = (-1, 30),
    purpose: x509.ObjectIdentifier = ExtendedKeyUsageOID.EMAIL_PROTECTION,
    valid_for: dt.timedelta | None = None,
) -> x509.Certificate:
    """A CA certificate when `ca_cert` is None, else an end-entity certificate for FROM.
    `valid_for` overrides the end of validity: that long from now."""
    now = dt.datetime.now(dt.timezone.utc)
    is_ca = ca_cert is None
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "encipher_only", "decipher_only"), False,
    )  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn) if is_ca else ca_cert.subject)  # type: ignore[union-attr]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + (valid_for or dt.timedelta(days=days[1])))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca, key_cert_sign=is_ca, crl_sign=is_ca, **usage
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if not is_ca:
        builder = (
            builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(FROM)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
    return builder.sign(ca_key, hashes.SHA256())


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


def smime_options(pki: Pki, **extra: Any) -> SmimeOptions:
    data = {
        "certificate": pki.signer_cert,
        "privateKey": pki.signer_key_encrypted,
        "privateKeyPassword": PASSWORD,
        **extra,
    }
    return SmimeOptions.model_validate(data)


# --- S/MIME verification helpers ----------------------------------------------------------------


def signed_parts(data: bytes) -> tuple[bytes, bytes]:
    """(signed entity bytes, DER signature) cut out of a multipart/signed message by its
    boundary, exactly as RFC 1847 defines them (the CRLF before a delimiter belongs to it)."""
    boundary = parsed(data).get_param("boundary")
    delimiter = b"\r\n--" + str(boundary).encode()
    sections = data.split(delimiter)
    entity = sections[1].split(b"\r\n", 1)[1]
    signature_part = sections[2].split(b"\r\n\r\n", 1)[1]
    return entity, base64.b64decode(signature_part)


def digest_and_signer_check(data: bytes, pki: Pki) -> bool:
    """Without openssl: the PKCS#7 must carry a signer certificate issued by the test CA and a
    messageDigest attribute equal to SHA-256 of the signed entity."""
    entity, der = signed_parts(data)
    ca = x509.load_pem_x509_certificate(pki.ca_cert.encode())
    leaves = [c for c in pkcs7.load_der_pkcs7_certificates(der) if c != ca]
    if not any(_issued_by(leaf, ca) for leaf in leaves):
        return False
    message_digest_attr = bytes.fromhex("06092a864886f70d010904") + b"\x31\x22\x04\x20"
    return message_digest_attr + hashlib.sha256(entity).digest() in der


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def openssl_verify(data: bytes, pki: Pki, tmp_path: Path) -> bool:
    """`openssl smime -verify` against the test CA (purpose smimesign, chain, signature)."""
    assert OPENSSL is not None
    path = tmp_path / f"msg-{hashlib.sha256(data).hexdigest()[:12]}.eml"
    path.write_bytes(data)
    result = subprocess.run(
        [OPENSSL, "smime", "-verify", "-in", str(path), "-CAfile", str(pki.ca_path),
         "-out", str(tmp_path / "content.out")],
        capture_output=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    return result.returncode == 0


def smime_verifies(data: bytes, pki: Pki, tmp_path: Path) -> bool:
    """openssl's verdict when openssl is installed, else the cryptography/asn1 checks."""
    if OPENSSL:
        return openssl_verify(data, pki, tmp_path)
    return digest_and_signer_check(data, pki)


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


# --- the dontSendOnError policy ----------------------------------------------------------------


BRIEF_VALIDITY_S = 1.5


def _config_with_brief_certificate(
    pki: Pki, dont_send: bool, base: dict[str, Any] | None = None
) -> SmtpConfig:
    """A valid S/MIME config whose certificate expires BRIEF_VALIDITY_S from now: the signer is
    built while it is valid, and signing after that fails (a long-running process whose
    certificate ran out)."""
    load = serialization.load_pem_private_key
    key, ca_key = load(pki.signer_key.encode(), None), load(pki.ca_key.encode(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.encode())
    brief = _issue(key, ca_key, ca_cert, "brief", valid_for=dt.timedelta(seconds=BRIEF_VALIDITY_S))
    return SmtpConfig.model_validate(
        (base or _config())
        | dict(
            smime={
                "certificate": _pem(brief),
                "privateKey": pki.signer_key,
                "dontSendOnError": dont_send,
            }
        )
    )


async def _until_expired() -> None:
    await asyncio.sleep(BRIEF_VALIDITY_S + 0.5)


@pytest.mark.parametrize("dont_send", [True, False])
def test_key_file_broken_before_the_connector_is_built_is_invalid_config(
    pki: Pki, tmp_path: Path, dont_send: bool
) -> None:
    key_path = tmp_path / "smime-key.pem"
    key_path.write_text(pki.signer_key_encrypted)
    config = SmtpConfig.model_validate(
        _config(
            smime={
                "certificate": pki.signer_cert,
                "privateKey": str(key_path),
                "privateKeyPassword": PASSWORD,
                "dontSendOnError": dont_send,
            }
        )
    )
    key_path.write_text(pki.signer_key_encrypted[:200])  # rotated badly, truncated…
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG and "smime" in info.value.message
    assert_no_secrets(str(info.value), pki.signer_key_encrypted, passwords=(PASSWORD,))


async def test_expired_certificate_with_dont_send_on_error_refuses(pki: Pki) -> None:
    config = _config_with_brief_certificate(pki, dont_send=True)
    signers = build_signers(config)
    await _until_expired()
    assert config.smime is not None and config.smime.dont_send_on_error is True
    with pytest.raises(ConnectorError) as info:
        sign_message(make_email().as_bytes(), signers, config.smime.dont_send_on_error)
    assert info.value.code is ErrorCode.SIGNING_FAILED
    assert info.value.retryable is False
    assert "S/MIME" in info.value.message and "expired" in info.value.message
    assert_no_secrets(str(info.value), pki.signer_key, passwords=(PASSWORD,))


async def test_expired_certificate_without_dont_send_on_error_sends_unsigned(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config_with_brief_certificate(pki, dont_send=False)
    signers = build_signers(config)
    await _until_expired()
    raw = make_email().as_bytes()
    with caplog.at_level("WARNING", logger="smtp_connector.signing"):
        result = sign_message(raw, signers, smime_dont_send_on_error=False)
    assert result == raw
    warnings = [r for r in caplog.records if r.name == "smtp_connector.signing"]
    assert any("unsigned" in r.getMessage() for r in warnings)
    assert_no_secrets(caplog.text, pki.signer_key, passwords=(PASSWORD,))


class _ExplodingSigner:
    """A signer failing with third-party-style text that quotes the message (the code)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sign(self, message: bytes) -> bytes:
        raise RuntimeError(f"cannot sign {message[-40:]!r}")


@pytest.mark.parametrize("name", ["smime", "dkim"])
def test_failure_reports_never_quote_the_message(name: str) -> None:
    raw = make_email(html=None).as_bytes()
    with pytest.raises(ConnectorError) as info:
        sign_message(raw, [_ExplodingSigner(name)], smime_dont_send_on_error=True)
    assert info.value.code is ErrorCode.SIGNING_FAILED
    assert "RuntimeError" in info.value.message and CODE not in str(info.value)


def test_dkim_failure_refuses_even_when_smime_may_fail(
    pki: Pki, rsa_key: DkimKey, tmp_path: Path
) -> None:
    signers = [SmimeSigner(smime_options(pki)), _ExplodingSigner("dkim")]
    with pytest.raises(ConnectorError) as info:
        sign_message(make_email().as_bytes(), signers, smime_dont_send_on_error=False)
    assert info.value.code is ErrorCode.SIGNING_FAILED and "DKIM" in info.value.message


# --- CLI: dkim-keygen --------------------------------------------------------------------------


def _record_from_output(output: str) -> str:
    match = re.search(r"^\s*Value:\s*(v=DKIM1;.*)$", output, flags=re.MULTILINE)
    assert match, output
    return match.group(1).strip()


def test_dkim_keygen_writes_key_and_prints_record(tmp_path: Path) -> None:
    out = tmp_path / "s1.pem"
    result = CliRunner().invoke(
        main, ["dkim-keygen", "--selector", "s1", "--domain", DOMAIN, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "s1._domainkey.example.com" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    record = _record_from_output(result.output)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    assert "PRIVATE KEY" not in result.output
    # The written key and the printed record belong together: a signature verifies.
    key = DkimKey("s1", str(out), record)
    signed = DkimSigner([dkim_options(key)]).sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(key)) == [True]


@needs_nacl
def test_dkim_keygen_ed25519_json(tmp_path: Path) -> None:
    out = tmp_path / "ed.pem"
    args = ["dkim-keygen", "--selector", "ed1", "--domain", DOMAIN, "--algorithm", "ed25519"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "ed1._domainkey.example.com"
    assert data["value"].startswith("v=DKIM1; k=ed25519; p=")
    assert data["config"]["dkim"]["privateKey"] == str(out)
    key = DkimKey("ed1", out.read_text(), data["value"])
    signed = DkimSigner([dkim_options(key)]).sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(key)) == [True]


def test_dkim_keygen_default_path_and_no_clobber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["dkim-keygen", "--selector", "s1", "--domain", DOMAIN, "--bits", "1024"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    path = tmp_path / "s1.example.com.dkim.pem"
    original = path.read_text()
    again = runner.invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert path.read_text() == original
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0 and path.read_text() != original
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dkim_keygen_rejects_bad_domain(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["dkim-keygen", "--selector", "s1", "--domain", "not a domain",
         "--out", str(tmp_path / "k.pem")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "domainName" in result.output
    assert not (tmp_path / "k.pem").exists()


# --- end to end: connector → real SMTP server ---------------------------------------------------


class _Recorder:
    """aiosmtpd handler keeping the raw DATA of each message."""

    def __init__(self) -> None:
        self.contents: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.contents.append(bytes(envelope.content))
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def _server_config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": FROM,
        "connectionTimeout": 5000,
        "greetingTimeout": 5000,
        "socketTimeout": 5000,
        **extra,
    }


@pytest.mark.parametrize(
    "algorithms", [("rsa",), pytest.param(("rsa", "ed25519"), marks=needs_nacl)]
)
async def test_dkim_signed_mail_received_by_local_server_verifies(
    smtp_server: tuple[int, _Recorder],
    rsa_key: DkimKey,
    ed_key: DkimKey,
    algorithms: tuple[str, ...],
) -> None:
    port, recorder = smtp_server
    keys = [rsa_key, ed_key][: len(algorithms)]
    dkim_config = [
        {"domainName": DOMAIN, "keySelector": key.selector, "privateKey": key.pem} for key in keys
    ]
    async with SmtpConnector(_server_config(port, dkim=dkim_config)) as connector:
        await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
        await connector.send(to="other@example.org", usage_type="Register", payload={"code": "1"})
    assert len(recorder.contents) == 2
    dns = dns_stub(*keys)
    for received in recorder.contents:
        assert verify_all(received, dns) == [True] * len(keys)
    assert CODE.encode() in recorder.contents[0]
    tampered = recorder.contents[0].replace(CODE.encode(), b"000000")
    assert tampered != recorder.contents[0]
    assert verify_all(tampered, dns) == [False] * len(keys)


async def test_smime_and_dkim_mail_received_by_local_server_verifies(
    smtp_server: tuple[int, _Recorder], pki: Pki, rsa_key: DkimKey, tmp_path: Path
) -> None:
    port, recorder = smtp_server
    config = _server_config(
        port,
        smime={
            "certificate": pki.signer_cert,
            "privateKey": pki.signer_key_encrypted,
            "privateKeyPassword": PASSWORD,
        },
        dkim={"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem},
    )
    async with SmtpConnector(config) as connector:
        await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
    (received,) = recorder.contents
    assert verify_all(received, dns_stub(rsa_key)) == [True]
    assert parsed(received).get_content_type() == "multipart/signed"
    assert smime_verifies(received, pki, tmp_path)


@pytest.mark.parametrize("dont_send", [True, False])
async def test_dont_send_on_error_through_the_connector(
    smtp_server: tuple[int, _Recorder], pki: Pki, tmp_path: Path, dont_send: bool
) -> None:
    port, recorder = smtp_server
    config = _config_with_brief_certificate(pki, dont_send, base=_server_config(port))
    async with SmtpConnector(config) as connector:
        await _until_expired()
        if dont_send:
            with pytest.raises(ConnectorError) as info:
                await connector.send(
                    to="user@example.org", usage_type="SignIn", payload={"code": CODE}
                )
            assert info.value.code is ErrorCode.SIGNING_FAILED
        else:
            await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
    if dont_send:
        assert recorder.contents == []
    else:
        (received,) = recorder.contents
        assert parsed(received).get_content_type() != "multipart/signed"
        assert CODE.encode() in received
