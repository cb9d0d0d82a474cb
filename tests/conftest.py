"""Shared fixtures: trusted test certificates (trustme) and real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from smtp_servers import Behaviour, TestServer

from smtp_connector.delivery.backends import OUTBOX


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def ca_pem(tls_ca: trustme.CA) -> str:
    return tls_ca.cert_pem.bytes().decode()


@pytest.fixture
def make_server(server_context: ssl.SSLContext) -> Iterator[Callable[..., TestServer]]:
    """Start an aiosmtpd server: make_server(mode="starttls", users={...}, pipelining=True)."""
    started: list[TestServer] = []

    def factory(
        mode: str = "plain",
        auth_required: bool = False,
        require_starttls: bool = False,
        idle_timeout: float = 300,
        context: ssl.SSLContext | None = None,
        **behaviour: Any,
    ) -> TestServer:
        server = TestServer(
            mode=mode,
            server_context=context or server_context,
            behaviour=Behaviour(**behaviour),
            auth_required=auth_required,
            require_starttls=require_starttls,
            idle_timeout=idle_timeout,
        ).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _clear_outbox() -> Iterator[None]:
    OUTBOX.clear()
    yield
    OUTBOX.clear()
