"""Helpers for the HTTP-edge tests (tests/security/test_edge_*.py): a real `serve` with an
admin key on SQLite or PostgreSQL, raw sockets that speak HTTP/1.1 the way a slow or hostile
client does, and the error message read out of whichever dialect's envelope answered.

Importable as `import edge_support` (tests/ is on sys.path through the root conftest).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from service_support import (
    SECRET_KEY,
    ServeProcess,
    cli,
    create_key_cli,
    env_with,
    start_serve,
    truncate_postgres,
)


@dataclass
class Served:
    process: ServeProcess
    url: str  # the database's
    admin: str  # an API key with read and write, bound to no app

    @property
    def port(self) -> int:
        return int(self.process.base_url.rsplit(":", 1)[1])

    def client(self, **headers: str) -> httpx.Client:
        """A client that opens a connection per request: the shared serve closes idle
        connections after 1 s, and a POST sent on a connection the server is closing at that
        moment is lost ("Server disconnected without sending a response"), a race no test
        here is about."""
        auth = {"Authorization": f"Bearer {self.admin}"}
        return httpx.Client(
            base_url=self.process.base_url,
            headers=auth | headers,
            timeout=30,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def log(self) -> str:
        return self.process.log.read_text()


@contextmanager
def serve_on(
    database_url: str, log: Path, log_level: str = "warning", **env: str
) -> Iterator[Served]:
    """`smtp-connector serve` on `database_url` (SQLite file or a migrated PostgreSQL database,
    emptied first) with `env` set, and an admin key made by the CLI."""
    environ = env_with(SMTP_CONNECTOR_SECRET_KEY=SECRET_KEY, **env)
    if database_url.startswith("postgresql"):
        cli("db", "upgrade", "--database-url", database_url, env=environ)  # queue tables too
        truncate_postgres(database_url)
    admin = create_key_cli(database_url, env=environ)
    process = start_serve(database_url, log, environ, log_level=log_level)
    try:
        yield Served(process, database_url, admin)
    finally:
        process.stop()


def message_of(response: httpx.Response) -> str:
    """The error message in any of the six envelopes: ours, seed 000's, seed 001's, the
    portal's, privacyIDEA's and Logto's."""
    body: Any = response.json()
    if isinstance(body.get("error"), dict):  # native, portal
        return str(body["error"]["message"])
    if "errorCode" in body:  # per-app list (seed 000)
        return str(body["message"])
    if "success" in body:  # app integrations (seed 001)
        return str(body["message"])
    if "code" in body and "message" in body:  # Logto's email templates
        return str(body["message"])
    return str(body["result"]["error"]["message"])  # privacyIDEA


def connect(port: int, timeout: float = 30) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 30) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection, and whether it did close it
    within `limit` seconds (a generous bound: the timeouts under test are 1-2 s)."""
    data = b""
    deadline = time.monotonic() + limit
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def trickle(sock: socket.socket, pieces: list[bytes], every: float) -> int:
    """Send `pieces` one at a time, `every` seconds apart, until the server closes the
    connection; returns how many pieces it took."""
    for count, piece in enumerate(pieces):
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return count
        time.sleep(every)
    return len(pieces)
