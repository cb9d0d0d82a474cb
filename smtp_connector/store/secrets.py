"""Encryption at rest for SMTP passwords and S/MIME key material (Fernet, with rotation).

`SMTP_CONNECTOR_SECRET_KEY` holds one or more Fernet keys, comma-separated: the first
encrypts, all decrypt, so an operator rotates by prepending a new key, running
`smtp-connector secrets rotate`, then dropping the old one. With SQLite and no key set, a
key file is created beside the database (mode 0600) so a first `serve` just works; with
PostgreSQL the database is usually shared and backed up elsewhere, so a missing key is an
error rather than a file on one machine that the others would not have.

`cryptography` (its Rust extension: about 7 MB of a `serve`'s idle memory) is imported by the
first encryption or decryption, not at start: keys in the form `Fernet.generate_key()` gives
(`is_generated_key`) are ones Fernet accepts, so they are checked without it; any other key is
given to Fernet at once, as before, and refused with the same error.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

from smtp_connector.errors import ConnectorError, ErrorCode, secret_safe_logger

from .urls import is_sqlite, sqlite_path

log = secret_safe_logger("smtp_connector.store")

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

SECRET_KEY_ENV = "SMTP_CONNECTOR_SECRET_KEY"
# What `Fernet.generate_key()` returns: 32 bytes in url-safe base64, 43 characters and the pad.
_GENERATED_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


def is_generated_key(key: str) -> bool:
    """Whether `key` is exactly what `Fernet.generate_key()` gives for some 32 bytes (the
    canonical encoding: the last character's unused bits zero). Every such key is one Fernet
    accepts, since each is a key it generates; anything else (unpadded, with spaces, the
    standard alphabet's `+/`, stray bits) is left to Fernet's own parsing."""
    if not _GENERATED_KEY.fullmatch(key):
        return False
    return base64.urlsafe_b64encode(base64.urlsafe_b64decode(key)).decode("ascii") == key


def _multi_fernet(keys: list[str]) -> MultiFernet:
    """Fernet for `keys` (the first encrypts, all decrypt); a key Fernet refuses is an
    invalid_config error that shows no key."""
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{SECRET_KEY_ENV} must be Fernet keys (32 url-safe base64 bytes each), "
            "comma-separated; create one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`.",
        ) from None


class SecretBox:
    """Encrypts and decrypts secret strings; never logs or reprs them. Keys in generated form
    get their Fernet on first use (see the module's docstring); others are checked now."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConnectorError(ErrorCode.INVALID_CONFIG, f"{SECRET_KEY_ENV} holds no key.")
        self._keys = list(keys)
        self._built: MultiFernet | None = None
        if not all(is_generated_key(key) for key in keys):
            self._built = _multi_fernet(keys)  # refused now, as before, or kept
        self.key_count = len(keys)

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"

    @property
    def _fernet(self) -> MultiFernet:
        """The keys' Fernet, made on first use (two threads making it at once make equal
        ones; either serves)."""
        built = self._built
        if built is None:
            built = self._built = _multi_fernet(self._keys)
        return built

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"A stored secret cannot be decrypted with the keys in {SECRET_KEY_ENV}: "
                "the key that encrypted it is missing (keep old keys after the first one "
                "until `smtp-connector secrets rotate` has run).",
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt `token` with the first key (MultiFernet.rotate)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"A stored secret cannot be decrypted with any key in {SECRET_KEY_ENV}; "
                "add the key it was encrypted with, then rotate again.",
            ) from None


def parse_keys(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def load_secret_box(url: URL, configured: str | None) -> SecretBox:
    """The SecretBox for this database: configured keys, or (SQLite only) the key file."""
    keys = parse_keys(configured)
    if keys:
        return SecretBox(keys)
    if not is_sqlite(url):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{SECRET_KEY_ENV} is not set. With PostgreSQL the encryption key must be given "
            "explicitly (the same on every machine): set it to a Fernet key, e.g. the output "
            "of `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`.",
        )
    path = sqlite_path(url)
    if path is None:
        log.warning("No %s and an in-memory database: secrets use a throwaway key", SECRET_KEY_ENV)
        return SecretBox([_generate_key()])
    return SecretBox([_key_file(path.with_name(path.name + ".key"))])


def _generate_key() -> str:
    """A new Fernet key, as `Fernet.generate_key()` makes one (32 bytes from the OS's CSPRNG,
    url-safe base64), without importing `cryptography` for it: a first `serve` on SQLite makes
    its key file here."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _key_file(path: Path) -> str:
    """Read the key file, creating it (0600, exclusive) on first use."""
    if path.exists():
        return path.read_text().strip()
    key = _generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "%s is not set: created the encryption key file %s (mode 0600). Back it up with the "
        "database, or set %s instead.",
        SECRET_KEY_ENV,
        path,
        SECRET_KEY_ENV,
    )
    return key
