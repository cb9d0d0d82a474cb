"""`tls.pfx`: a client certificate and key as one PKCS#12 bundle, the way Node's `tls` takes it.

Logto passes nodemailer's `tls` options through, so a config may carry `pfx` (with `passphrase`)
instead of `cert` + `key`. JSON has no bytes, so the value is the bundle as base64 text, or the
path of a `.p12`/`.pfx` file (read through the bounded option-file reader, so
`disableFileAccess` applies). The bundle becomes PEM for the one client-certificate loader in
`tls.py`; the key is re-encrypted under a one-time random password first, because that loader
hands OpenSSL a temporary file, and no unencrypted key may be written to disk.
"""

from __future__ import annotations

import binascii
import secrets
from typing import Any

from ..errors import ConnectorError, ErrorCode, install_hint
from ..files import OptionFileError, read_option_file

_DER_SEQUENCE = 0x30  # every PKCS#12 bundle is a DER SEQUENCE


def pfx_to_pem(value: str, passphrase: str | None, *, allow_files: bool) -> tuple[str, str, str]:
    """(certificate chain PEM, key PEM encrypted under a one-time password, that password):
    what OpenSSL's `load_cert_chain` takes, so the bundle loads like `tls.cert` + `tls.key`."""
    key, certificates = _parse(_bundle_bytes(value, allow_files), passphrase)
    one_time = secrets.token_urlsafe(32)
    chain = b"".join(certificates).decode("ascii")
    return chain, _encrypted_key(key, one_time).decode("ascii"), one_time


def _bundle_bytes(value: str, allow_files: bool) -> bytes:
    """Base64 text of a DER bundle, or else a path (never both guessed from a file's existence:
    whether a path exists must not change the error, so a config cannot probe the disk)."""
    compact = "".join(value.split())
    try:
        data = binascii.a2b_base64(compact.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        data = b""
    if data[:1] == bytes([_DER_SEQUENCE]):
        return data
    try:
        return read_option_file(value, "tls.pfx", allow_files=allow_files)
    except OptionFileError as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Invalid TLS option: {exc}; `tls.pfx` takes a PKCS#12 bundle as base64 text or "
            "the path of a .p12/.pfx file.",
        ) from None


def _parse(data: bytes, passphrase: str | None) -> tuple[Any, list[bytes]]:
    """The private key and the PEM certificates (leaf first) of a PKCS#12 bundle."""
    try:
        from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
    except ImportError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"`tls.pfx` needs the `cryptography` package: {install_hint('pfx')}.",
        ) from None
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            "`tls.pfx` is not a PKCS#12 bundle this passphrase opens: check the file and "
            "`tls.passphrase`.",
        ) from None
    if key is None or certificate is None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            "`tls.pfx` holds no private key and certificate pair; export the bundle with both.",
        )
    pems = [c.public_bytes(Encoding.PEM) for c in [certificate, *chain]]
    return key, pems


def _encrypted_key(key: Any, password: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode("ascii")),
        )
    )
