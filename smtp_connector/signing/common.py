"""Shared plumbing for the DKIM and S/MIME signers: reading "PEM text or path" settings, the one
exception type signers raise, and splitting a message into header fields and body.

Both signers accept "PEM text or a path" for keys and certificates (as nodemailer does), and both
must report problems without ever echoing the value: a mistyped path may well be a mangled key.
So every message built here names the field and the problem, never the content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import install_hint
from ..files import read_option_file

CRLF = b"\r\n"
_PEM_MARKER = "-----BEGIN "
_PEM_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_FIELD_NAME = re.compile(rb"^([!-9;-~]+):")
_BARE_NEWLINE = re.compile(rb"\r?\n")
PRIVATE_KEY_LABEL = "[A-Z0-9 ]*PRIVATE KEY"
CERTIFICATE_LABEL = "(?:X509 )?CERTIFICATE"


class SigningFailure(ValueError):
    """A signer's own, secret-free explanation of why a message could not be signed.

    `sign_message` shows these messages verbatim; any other exception is reported by its type
    only, because third-party exception text could quote message content (a verification code).
    """


@dataclass(frozen=True)
class HeaderField:
    """One header field as it appears on the wire: `raw` keeps the folding, without final CRLF."""

    name: bytes
    raw: bytes

    @property
    def lower_name(self) -> bytes:
        return self.name.lower()

    @property
    def value(self) -> bytes:
        """Everything after the colon, CRLF-terminated (the form DKIM canonicalization expects)."""
        return self.raw[len(self.name) + 1 :] + CRLF


def to_crlf(data: bytes) -> bytes:
    """Normalise line endings to CRLF; signatures are computed over what the wire will carry."""
    if data.count(b"\n") == data.count(CRLF):
        return data
    return _BARE_NEWLINE.sub(CRLF, data)


def split_message(data: bytes) -> tuple[list[HeaderField], bytes]:
    """Split a CRLF message into its header fields and body (body excludes the blank line).

    A malformed header block raises `SigningFailure` without quoting the offending line, which
    could carry a code or an address.
    """
    head, sep, body = data.partition(CRLF + CRLF)
    if not sep and head.endswith(CRLF):
        head = head[:-2]
    fields: list[HeaderField] = []
    for line in head.split(CRLF) if head else []:
        if line[:1] in (b" ", b"\t") and fields:
            last = fields[-1]
            fields[-1] = HeaderField(last.name, last.raw + CRLF + line)
            continue
        match = _FIELD_NAME.match(line)
        if match is None:
            raise SigningFailure(
                "the message's header block is malformed (a line is neither a header field "
                "nor a folded continuation)"
            )
        fields.append(HeaderField(match.group(1), line))
    return fields, body


def is_pem(text: str | bytes) -> bool:
    """True when `text` holds PEM armour (rather than a path or raw base64)."""
    if isinstance(text, bytes):
        return _PEM_MARKER.encode("ascii") in text
    return _PEM_MARKER in text


def pem_labels(data: bytes) -> list[str]:
    """The PEM block labels in `data` (`PRIVATE KEY`, `CERTIFICATE`, …), to explain mix-ups such as
    a certificate pasted where the private key belongs."""
    return _PEM_LABEL.findall(data.decode("ascii", errors="replace"))


def pem_blocks(data: bytes, label_pattern: str) -> bytes:
    """Only the PEM blocks whose label matches `label_pattern` (a regex), so a combined file
    (certificate + key, as many tools write) can be given for either setting."""
    pattern = re.compile(
        rb"-----BEGIN (" + label_pattern.encode("ascii") + rb")-----.*?-----END \1-----",
        re.DOTALL,
    )
    return b"\n".join(match.group(0) for match in pattern.finditer(data))


def unparsable_key_message(data: bytes) -> str:
    """Why a private key did not load, naming the usual mix-up (a certificate or public key pasted
    in) without quoting the data."""
    labels = pem_labels(data)
    if labels and not any("PRIVATE KEY" in label for label in labels):
        return f"`privateKey` holds a {labels[0]}, not a private key"
    return (
        "`privateKey` could not be parsed as a private key (expected PEM "
        "`-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`)"
    )


# `disableFileAccess` applies to every key and certificate a signer reads. It is a build-time
# policy, so `build_signers` sets it around the signers' constructors (`file_access`) instead of
# threading one flag through every loader of DKIM and S/MIME.
_FILE_ACCESS: ContextVar[bool] = ContextVar("signing_file_access", default=True)


@contextmanager
def file_access(allowed: bool) -> Iterator[None]:
    """Within this block `read_source` reads paths only if `allowed`."""
    token = _FILE_ACCESS.set(allowed)
    try:
        yield
    finally:
        _FILE_ACCESS.reset(token)


def read_source(value: str, field: str) -> bytes:
    """The bytes of a `PEM text or path` setting.

    PEM text is returned as is; anything else is read as a file through `files.read_option_file`
    (bounded, regular files only, refused under `disableFileAccess`). The error never repeats
    `value`: when it is not a readable path it may be key material with its armour cut off.
    """
    if is_pem(value):
        return value.strip().encode("utf-8")
    return read_option_file(value, field, allow_files=_FILE_ACCESS.get())


def require_cryptography(extra: str) -> None:
    """Fail with the install hint when `cryptography` is missing (it is an optional extra)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise ValueError(
            f"this feature needs the `cryptography` package: {install_hint(extra)}"
        ) from None
