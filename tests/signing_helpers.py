"""Shared helpers of the signing tests: test keys and certificates, parsing, verification."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.util
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smtp_connector.addresses import parse_address
from smtp_connector.compose.message import RenderedEmail
from smtp_connector.config import DkimOptions, SmimeOptions, SmtpConfig

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
    now = dt.datetime.now(dt.UTC)
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


def _change_body(data: bytes) -> bytes:
    return data.replace(f"<b>{CODE}</b>".encode(), b"<b>000000</b>")


def _config(**extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": 2525, "fromEmail": FROM, **extra}


BRIEF_VALIDITY_S = 2.5  # long enough to build the signer on a loaded machine


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


def _seconds_until_expired(config: SmtpConfig) -> float:
    """How long until the S/MIME certificate of `config` has run out."""
    assert config.smime is not None
    certificate = x509.load_pem_x509_certificate(config.smime.certificate.encode())
    left = (certificate.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds()
    return max(left, 0) + 1.1  # validity is stored in whole seconds


def smime_pair(email: str = FROM) -> tuple[str, str]:
    """A signer certificate for `email` (issued by a throwaway CA) and its key, as PEM."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert email == FROM, "the issued certificate names FROM"
    ca_key = rsa.generate_private_key(65537, 2048)
    ca_cert = _issue(ca_key, ca_key, None, "smtp-connector test CA")
    key = rsa.generate_private_key(65537, 2048)
    return _pem(_issue(key, ca_key, ca_cert, "noreply")), _pem(key)
