"""Reading the files that options point at (TLS CA/certificate/key, DKIM and S/MIME keys).

Several options take "PEM text or a path". A path is read here and only here, so every read
obeys the same three rules: `disableFileAccess` refuses it (with one message, whether or not
the file exists, so a config cannot be used to probe the disk); only regular files are read (a
FIFO would block the loop, `/dev/zero` would never end); and at most `MAX_OPTION_FILE_BYTES` are
read. Errors name the option, never the value: a mistyped path may be a mangled key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Key and certificate files are a few KB; a CA bundle is ~200 KB. 1 MiB leaves room for both.
MAX_OPTION_FILE_BYTES = 1024 * 1024
_MAX_PATH_CHARS = 4096


class OptionFileError(ValueError):
    """An option's file could not be used; the message names the option, never its value."""


def read_option_file(
    value: str, field: str, *, allow_files: bool, max_bytes: int = MAX_OPTION_FILE_BYTES
) -> bytes:
    """The bytes of the file `value` names, for option `field`. Raises `OptionFileError`."""
    if not allow_files:
        raise OptionFileError(
            f"`{field}` is not inline PEM text, and `disableFileAccess` is set, which forbids "
            "reading it from a file; inline the PEM text (-----BEGIN …-----)"
        )
    candidate = value.strip()
    if not candidate or len(candidate) > _MAX_PATH_CHARS or "\n" in candidate:
        raise OptionFileError(
            f"`{field}` is neither PEM text (-----BEGIN …-----) nor a path to a PEM file"
        )
    try:
        return _read_regular_file(Path(candidate).expanduser(), field, max_bytes)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OptionFileError(
            f"`{field}` is not PEM text (-----BEGIN …-----) and could not be read as a file "
            f"path ({reason})"
        ) from None


def _read_regular_file(path: Path, field: str, max_bytes: int) -> bytes:
    """Open without blocking, check it is a regular file of bounded size, read it."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OptionFileError(f"`{field}` names something that is not a regular file")
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OptionFileError(
            f"`{field}` names a file over {max_bytes // 1024} KiB; a key or certificate file "
            "is a few KB"
        )
    return data
