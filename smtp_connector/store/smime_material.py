"""S/MIME key and certificate material: PEM text always, a file path only where the operator
said so.

privacyIDEA's admins name key files on their server (`private_key: /etc/privacyidea/key.pem`),
while a tenant of a shared service must never make it read a file of the host: a key path
pointing at another tenant's key, or an error that tells "no such file" from "not a key",
turns the signer into a file browser. One rule serves both:
- PEM text is always accepted (the private key is encrypted at rest and never returned);
- a path only when the operator has named a directory (`SMTP_CONNECTOR_SMIME_DIR`), only from
  keys bound to no app (the operator's), and only when it resolves inside that directory
  (relative paths against it; `..` and symlinks that lead out are refused). It is checked at
  save and again when a connector is built, and stored as given (a path is not a secret).
Every refusal reads the same whether the file exists or not.
"""

from __future__ import annotations

from pathlib import Path

from smtp_connector.errors import ConnectorError, ErrorCode

from .domain import CENSORED, Actor

SMIME_DIR_ENV = "SMTP_CONNECTOR_SMIME_DIR"
_PEM = "-----BEGIN "
MAX_FILE_BYTES = 1024 * 1024  # as the library's own file reader


def is_pem(value: str) -> bool:
    return _PEM in value


def is_path(value: str | None) -> bool:
    """A value that names a file: anything given that is neither PEM, empty nor `__CENSORED__`."""
    return bool(value) and value != CENSORED and not is_pem(value or "")


def check_path(value: str, field: str, actor: Actor | None, smime_dir: Path | None) -> None:
    """Refuse a path `actor` may not use (see the module docstring); `field` is the API name.
    Whether the file is usable is checked when a connector is built (`resolve_inside`)."""
    if smime_dir is None:
        raise _refusal(
            field,
            f"must be PEM text (-----BEGIN …); file paths are accepted only when the operator "
            f"sets {SMIME_DIR_ENV}",
        )
    if actor is not None and actor.app_id is not None:
        raise _refusal(
            field, "must be PEM text (-----BEGIN …): an API key bound to an app cannot name files"
        )
    _inside(value, field, smime_dir)


def _inside(value: str, field: str, smime_dir: Path) -> Path:
    base = smime_dir.resolve()
    candidate = Path(value) if Path(value).is_absolute() else base / value
    real = candidate.resolve()
    if not real.is_relative_to(base):
        raise _refusal(field, f"must be a path inside {SMIME_DIR_ENV}")
    return real


def resolve_inside(value: str, field: str, smime_dir: Path | None) -> Path:
    """The real path of `value` inside the S/MIME directory, checked to hold PEM text; one
    refusal for a missing file, a directory, a device or a file that is not PEM."""
    if smime_dir is None:
        raise _refusal(field, f"is a file path, but {SMIME_DIR_ENV} is not set")
    real = _inside(value, field, smime_dir)
    if not _holds_pem(real):
        raise _refusal(
            field, f"cannot be used: it must name a readable PEM file in {SMIME_DIR_ENV}"
        )
    return real


def _holds_pem(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return False
        return _PEM.encode() in path.read_bytes()
    except OSError:
        return False


def _refusal(field: str, why: str) -> ConnectorError:
    return ConnectorError(ErrorCode.INVALID_CONFIG, f"`{field}` {why}.")
