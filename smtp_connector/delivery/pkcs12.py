"""`tls.pfx`: a client certificate and key as one PKCS#12 bundle, the way Node's `tls` takes it.

Logto passes nodemailer's `tls` options through, so a config may carry `pfx` (with `passphrase`)
instead of `cert` + `key`. JSON has no bytes, so the value is the bundle as base64 text, or the
path of a `.p12`/`.pfx` file (read through the bounded option-file reader, so
`disableFileAccess` applies). OpenSSL's `load_cert_chain` takes only PEM paths: the key is
re-encrypted under a one-time random password before it touches the temporary file, so no
unencrypted key is ever written to disk.
"""

from __future__ import annotations

import binascii
import os
import secrets
import ssl
import tempfile
from typing import Any

from ..errors import ConnectorError, ErrorCode, install_hint
from ..files import OptionFileError, read_option_file

_DER_SEQUENCE = 0x30  # every PKCS#12 bundle is a DER SEQUENCE


def load_pfx(
    context: ssl.SSLContext, value: str, passphrase: str | None, *, allow_files: bool
) -> None:
    """Present the bundle's certificate (and chain) and key as this context's client identity."""
    key, certificates = _parse(_bundle_bytes(value, allow_files), passphrase)
    one_time = secrets.token_urlsafe(32)
    paths: list[str] = []
    try:
        cert_path = _private_temp_file(b"".join(certificates), paths)
        key_path = _private_temp_file(_encrypted_key(key, one_time), paths)
        context.load_cert_chain(cert_path, key_path, password=one_time)
    except (ssl.SSLError, OSError) as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"`tls.pfx` could not be used as the client certificate ({exc.__class__.__name__}).",
        ) from None
    finally:
        for path in paths:
            os.unlink(path)


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


def _private_temp_file(data: bytes, paths: list[str]) -> str:
    handle, path = tempfile.mkstemp(suffix=".pem")  # mode 0600
    paths.append(path)
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return path
