"""S/MIME signing (RFC 8551): multipart/signed with a detached PKCS#7 signature.

Why this shape:
- The signature is made by `cryptography`'s `PKCS7SignatureBuilder` (OpenSSL underneath) in
  binary mode over the exact CRLF bytes of the signed entity, and the multipart/signed wrapper is
  written here, so the outer headers (From, To, Subject, Message-ID, custom headers …) stay the
  message's own and DKIM can sign the result afterwards.
- Certificate and key are loaded and checked once (config time and signer construction): wrong
  password, key not matching the certificate, expired or not-yet-valid certificate, or a
  certificate that is not for email all fail with a clear `invalid_config` message.
- Nothing here ever repeats key material or the password.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..config import SmimeOptions
from ..errors import register_secret
from .common import (
    CERTIFICATE_LABEL,
    CRLF,
    PRIVATE_KEY_LABEL,
    HeaderField,
    SigningFailure,
    is_pem,
    pem_blocks,
    pem_labels,
    read_source,
    require_cryptography,
    split_message,
    to_crlf,
    unparsable_key_message,
)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

MICALG = "sha-256"
_PREAMBLE = b"This is a cryptographically signed message in MIME format."
_DEFAULT_CONTENT_TYPE = b'Content-Type: text/plain; charset="us-ascii"'
_SIGNATURE_PART_HEADERS = (
    b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="smime.p7s"\r\n'
    b"Content-Description: S/MIME Cryptographic Signature\r\n"
)


@dataclass(frozen=True)
class _Material:
    """The loaded signer certificate, its key and any chain certificates to embed."""

    certificate: x509.Certificate
    key: Any  # RSA or EC private key; kept out of reprs by SmimeSigner
    chain: tuple[x509.Certificate, ...]

    def __repr__(self) -> str:
        return f"SmimeMaterial(subject={self.certificate.subject.rfc4514_string()!r})"


class SmimeSigner:
    """Wraps a message into multipart/signed. Build once per connector; `sign` keeps no state."""

    name = "smime"

    def __init__(self, options: SmimeOptions) -> None:
        """Load and check the material: a bad key, wrong password, a certificate that does not
        match, has expired or is not for email, or anything OpenSSL refuses in a trial signature
        raises ValueError with a clear, secret-free message (the connector's `invalid_config`)."""
        self._material = _load_material(options)
        try:
            _detached_signature(self._material, b"Content-Type: text/plain\r\n\r\ntest\r\n")
        except Exception as exc:
            raise ValueError(
                "S/MIME: a test signature with this certificate and key failed "
                f"({type(exc).__name__})"
            ) from None

    def __repr__(self) -> str:
        cert = self._material.certificate
        return (
            f"SmimeSigner(subject={cert.subject.rfc4514_string()!r}, "
            f"not_after={cert.not_valid_after_utc:%Y-%m-%d})"
        )

    @property
    def certificate(self) -> x509.Certificate:
        return self._material.certificate

    @property
    def addresses(self) -> frozenset[str]:
        """Email addresses the certificate is for; mail clients flag a From that is not one."""
        return certificate_addresses(self._material.certificate)

    def sign(self, message: bytes) -> bytes:
        """The message as multipart/signed: outer headers kept, content headers + body signed."""
        _check_validity(self._material.certificate, SigningFailure)
        data = to_crlf(message)
        fields, body = split_message(data)
        outer = [f for f in fields if not _is_content_header(f)]
        entity = _signed_entity([f for f in fields if _is_content_header(f)], body)
        signature = _detached_signature(self._material, entity)
        return _multipart_signed(outer, entity, signature)


def certificate_addresses(certificate: x509.Certificate) -> frozenset[str]:
    """rfc822Name SANs plus any emailAddress in the subject, lower-cased."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    found = {
        str(attr.value).lower()
        for attr in certificate.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
    }
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        found |= {name.lower() for name in san.value.get_values_for_type(x509.RFC822Name)}
    except x509.ExtensionNotFound:
        pass
    return frozenset(found)


# --- message construction ------------------------------------------------------------------


def _is_content_header(field: HeaderField) -> bool:
    """Content-* fields describe the body, so they move inside the signed entity."""
    return field.lower_name.startswith(b"content-")


def _signed_entity(content_fields: Sequence[HeaderField], body: bytes) -> bytes:
    """The MIME entity that is signed: content headers, blank line, body (canonical CRLF)."""
    raw = [f.raw for f in content_fields]
    if not any(f.lower_name == b"content-type" for f in content_fields):
        raw.insert(0, _DEFAULT_CONTENT_TYPE)
    return CRLF.join(raw) + CRLF + CRLF + body


def _multipart_signed(outer: Sequence[HeaderField], entity: bytes, signature: bytes) -> bytes:
    """RFC 1847 multipart/signed. The CRLF before each delimiter belongs to the delimiter, so the
    entity's bytes between the delimiters are exactly the bytes that were signed."""
    boundary = _boundary(entity)
    head = [f.raw for f in outer]
    if not any(f.lower_name == b"mime-version" for f in outer):
        head.append(b"MIME-Version: 1.0")
    head.append(
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
        + CRLF
        + b" micalg="
        + MICALG.encode("ascii")
        + b'; boundary="'
        + boundary
        + b'"'
    )
    encoded = base64.encodebytes(signature).replace(b"\n", CRLF)
    delimiter = b"--" + boundary
    return b"".join(
        [
            CRLF.join(head) + CRLF + CRLF,
            _PREAMBLE + CRLF + CRLF,
            delimiter + CRLF + entity + CRLF,
            delimiter + CRLF + _SIGNATURE_PART_HEADERS + CRLF + encoded + CRLF,
            delimiter + b"--" + CRLF,
        ]
    )


def _boundary(entity: bytes) -> bytes:
    """A random boundary that does not occur in the entity (vanishingly unlikely, but checked)."""
    while True:
        boundary = f"=_smime_{secrets.token_hex(12)}".encode("ascii")
        if boundary not in entity:
            return boundary


def _detached_signature(material: _Material, entity: bytes) -> bytes:
    """DER PKCS#7 SignedData over `entity` as is (binary mode: it is already canonical CRLF)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(entity)
        .add_signer(material.certificate, material.key, hashes.SHA256())
    )
    for extra in material.chain:
        builder = builder.add_certificate(extra)
    return builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )


# --- loading and checks --------------------------------------------------------------------


def _load_material(options: SmimeOptions) -> _Material:
    """Load and cross-check certificate, key and chain; ValueError on any problem."""
    require_cryptography("smime")
    secret = options.private_key.get_secret_value()
    password = (
        options.private_key_password.get_secret_value()
        if options.private_key_password is not None
        else None
    )
    register_secret(password)
    if is_pem(secret):
        register_secret(secret.strip())  # inline key text (a path is not a secret)
    try:
        certificates = _load_certificates(options.certificate, "certificate")
        chain = [
            cert
            for index, source in enumerate(options.extra_certificates)
            for cert in _load_certificates(source, f"extraCertificates[{index}]")
        ]
        key = _load_private_key(secret, password)
        certificate = certificates[0]
        _check_key_matches(certificate, key)
        _check_validity(certificate, ValueError)
        _check_usage(certificate)
    except ValueError as exc:
        raise ValueError(f"S/MIME: {exc}") from None
    return _Material(certificate, key, tuple(certificates[1:] + chain))


def _load_certificates(source: str, field: str) -> list[x509.Certificate]:
    """All certificates in a PEM text/file (the first is the signer's), or one DER file."""
    from cryptography import x509

    data = read_source(source, field)
    try:
        if is_pem(data):
            certificates = x509.load_pem_x509_certificates(pem_blocks(data, CERTIFICATE_LABEL))
        else:
            certificates = [x509.load_der_x509_certificate(data)]
    except Exception:
        labels = pem_labels(data)
        if labels and not any("CERTIFICATE" in label for label in labels):
            raise ValueError(f"`{field}` holds a {labels[0]}, not a certificate") from None
        raise ValueError(
            f"`{field}` could not be parsed as an X.509 certificate "
            "(expected PEM `-----BEGIN CERTIFICATE-----`)"
        ) from None
    return certificates


def _load_private_key(secret: str, password: str | None) -> PrivateKeyTypes:
    """The signing key, decrypted with `password` when it is encrypted."""
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key,
        load_pem_private_key,
    )

    data = read_source(secret, "privateKey")
    pem = is_pem(data)
    blob = pem_blocks(data, PRIVATE_KEY_LABEL) if pem else data
    loader = load_pem_private_key if pem else load_der_private_key
    secret_bytes = password.encode("utf-8") if password else None
    try:
        key = loader(blob, password=secret_bytes)
    except TypeError:
        if secret_bytes is None:
            raise ValueError("`privateKey` is encrypted: set `privateKeyPassword`") from None
        # A password for an unencrypted key is merely unnecessary, not an error.
        key = _load_unencrypted(loader, blob, data)
    except Exception:
        if secret_bytes is not None and (b"ENCRYPTED" in blob or not pem):
            raise ValueError(
                "`privateKeyPassword` does not decrypt `privateKey` (wrong password?)"
            ) from None
        raise ValueError(unparsable_key_message(data)) from None
    _check_key_type(key)
    return key


def _load_unencrypted(loader: Any, blob: bytes, data: bytes) -> PrivateKeyTypes:
    try:
        return loader(blob, password=None)
    except Exception:
        raise ValueError(unparsable_key_message(data)) from None


def _check_key_type(key: PrivateKeyTypes) -> None:
    """PKCS#7 signing here supports RSA and EC (ECDSA) keys."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
        raise ValueError(f"`privateKey` is a {kind} key; S/MIME signing needs an RSA or EC key")


def _check_key_matches(certificate: x509.Certificate, key: PrivateKeyTypes) -> None:
    """The key must be the certificate's: otherwise every signature would fail to verify."""
    from cryptography.hazmat.primitives import serialization

    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise ValueError(
            "`privateKey` does not belong to `certificate` "
            f"({certificate.subject.rfc4514_string()}); give the key the certificate was issued for"
        )


def _check_validity(certificate: x509.Certificate, error: type[ValueError]) -> None:
    """Refuse an expired or not-yet-valid certificate: receivers would show the mail as forged."""
    now = datetime.now(UTC)
    subject = certificate.subject.rfc4514_string()
    if now > certificate.not_valid_after_utc:
        raise error(
            f"the certificate ({subject}) expired on "
            f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; renew it"
        )
    if now < certificate.not_valid_before_utc:
        raise error(
            f"the certificate ({subject}) is not valid until "
            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )


def _check_usage(certificate: x509.Certificate) -> None:
    """Key usage / extended key usage must allow signing email (OpenSSL's smimesign purpose)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise ValueError("the certificate's key usage does not allow digital signatures")
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    allowed = {ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    if not allowed.intersection(purposes):
        raise ValueError(
            "the certificate is not an email (S/MIME) certificate: its extended key usage "
            "lacks emailProtection"
        )
