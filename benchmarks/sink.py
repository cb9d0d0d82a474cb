"""Postfix's `smtp-sink` on a free loopback port: a fast C SMTP server that accepts and discards.

It advertises PIPELINING, so it measures the client, not the server. Debian package `postfix`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_sink(pipelining: bool = True) -> Iterator[int]:
    """Run smtp-sink for the duration of the block; yields its port."""
    if not shutil.which("smtp-sink") and not shutil.os.path.exists(SMTP_SINK):
        raise SystemExit(
            "smtp-sink not found: install Debian's postfix package "
            "(DEBIAN_FRONTEND=noninteractive apt-get install -y postfix)"
        )
    port = free_port()
    args = [SMTP_SINK, "-u", "nobody"] + ([] if pipelining else ["-p"])
    process = subprocess.Popen([*args, f"127.0.0.1:{port}", "1024"])
    try:
        _wait_listening(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"smtp-sink did not start on port {port}")
