"""Finding 6: `disableFileAccess` did not cover DKIM, S/MIME or TLS key paths; `/dev/zero` as a
key path raised MemoryError; errors told whether a file exists.

Every option that can name a file is read through one bounded reader: refused under
`disableFileAccess` with one message whether or not the file exists, regular files only, at
most 1 MiB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from smtp_servers import config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector

pytest.importorskip("cryptography")

PATH_OPTIONS: dict[str, Any] = {
    "tls.ca": lambda p: {"tls": {"ca": p}},
    "tls.key": lambda p: {"tls": {"cert": p, "key": p}},
    "dkim.privateKey": lambda p: {
        "dkim": {"domainName": "example.com", "keySelector": "s1", "privateKey": p}
    },
    "smime.certificate": lambda p: {"smime": {"certificate": p, "privateKey": p}},
}


def build_error(options: dict[str, Any], **config: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config_for(2525, **options, **config))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    return info.value


@pytest.mark.parametrize("option", list(PATH_OPTIONS))
def test_disable_file_access_covers_every_path_and_hides_existence(
    option: str, tmp_path: Path
) -> None:
    existing = tmp_path / "key.pem"
    existing.write_text("not really a key")
    missing = tmp_path / "missing.pem"
    messages = [
        build_error(PATH_OPTIONS[option](str(path)), disableFileAccess=True).message
        for path in (existing, missing)
    ]
    assert "disableFileAccess" in messages[0]
    assert messages[0] == messages[1]  # the same words: existence is not revealed
    assert str(tmp_path) not in messages[0]


@pytest.mark.parametrize("option", list(PATH_OPTIONS))
def test_dev_zero_is_not_read_forever(option: str) -> None:
    error = build_error(PATH_OPTIONS[option]("/dev/zero"))
    assert "regular file" in error.message


def test_oversized_key_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * (2 * 1024 * 1024))
    error = build_error(PATH_OPTIONS["dkim.privateKey"](str(big)))
    assert "KiB" in error.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    error = build_error(PATH_OPTIONS["tls.ca"](str(fifo)))
    assert "regular file" in error.message


def test_file_transport_is_refused_under_disable_file_access(tmp_path: Path) -> None:
    outbox = tmp_path / "out"
    config = {
        "transport": "file",
        "outboxDir": str(outbox),
        "fromEmail": "noreply@example.com",
        "disableFileAccess": True,
    }
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "disableFileAccess" in info.value.message and "memory" in info.value.message
    assert not outbox.exists()  # nothing was written or created
