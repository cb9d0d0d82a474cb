"""A real `smtp-connector serve` and a separate `smtp-connector worker` process, on SQLite and
on PostgreSQL, shared by the test modules that use them (starting them costs seconds), with an
aiosmtpd server that records what arrives. Each test makes its own app, so tests do not see
each other's templates. The serve runs with no worker of its own: queued mail is delivered by
the other process, which must read the app's templates from the database."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from queue_support import prepare_queue_schema
from service_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    definition,
    key_headers,
    postgres_database,
    serve_env,
    start_serve,
)
from smtp_servers import Behaviour, TestServer

MAX_TEMPLATES = 6  # the serve's SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP


@dataclass
class Served:
    url: str
    base_url: str
    smtp: TestServer
    headers: dict[str, str]  # every scope, bound to no app
    log: Path

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, timeout=30, headers=self.headers if headers is None else headers
        )

    def new_app(self, client: httpx.Client, **fields: Any) -> str:
        body = {"name": f"shop-{uuid.uuid4().hex[:8]}", "fromEmail": "otp@shop.example.com"}
        made = client.post("/v1/apps", json=body | fields)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def add_server(self, client: httpx.Client, app: str, **fields: Any) -> str:
        made = client.post(f"/v1/apps/{app}/servers", json=definition(self.smtp.port, **fields))
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def mail_to(self, to: str, timeout: float = 60) -> Message:
        """The one message the SMTP server received for `to` (waiting for a queued one)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in list(self.smtp.messages) if to in m.rcpt_tos]
            if found:
                assert len(found) == 1, f"{len(found)} messages to {to}"
                return message_from_bytes(found[0].content)
            assert time.monotonic() < deadline, f"nothing arrived for {to}:\n{self.log.read_text()}"
            time.sleep(0.05)


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def parts_of(message: Message) -> dict[str, str]:
    """content type -> decoded text of each body part."""
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def _start_worker(url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("smtp-connector")
    handle = log.open("wb")
    return subprocess.Popen(
        [str(exe), "worker", "--database-url", url, "--loop", "asyncio"],
        stdout=handle, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"templates-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'serve.db'}"
        else:
            url = stack.enter_context(postgres_database())
        env = serve_env(
            SMTP_CONNECTOR_QUEUE_WORKER="0",
            SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP=str(MAX_TEMPLATES),
        )
        headers = key_headers(url)  # migrates the store first
        if request.param == "postgres":  # the queue's tables (what `db upgrade` adds)
            asyncio.run(prepare_queue_schema(url))
        smtp = TestServer(behaviour=Behaviour(users={SMTP_USER: SMTP_PASSWORD})).start()
        stack.callback(smtp.stop)
        serve = start_serve(url, tmp / "serve.log", env=env)
        stack.callback(serve.stop)
        worker = _start_worker(url, env, tmp / "worker.log")
        stack.callback(_stop, worker)
        yield Served(url, serve.base_url, smtp, headers, tmp / "serve.log")
