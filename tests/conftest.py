"""Shared fixtures: trusted test certificates (trustme) and real SMTP servers on 127.0.0.1, and
the event loops the delivery tests run on (the default asyncio loop and uvloop, uvicorn's)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme
from smtp_servers import Behaviour, TestServer

from smtp_connector import errors
from smtp_connector.delivery.backends import OUTBOX

# Test folders whose async tests run once per event loop: everything that opens SMTP sessions.
EVERY_LOOP_FOLDERS = ("delivery", "signing", "presets", "security")
TESTS = Path(__file__).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loops",
        default="asyncio,uvloop",
        help="loops the delivery/signing tests run on, comma-separated (default: asyncio,uvloop)",
    )


def _loop_factories(config: pytest.Config) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {}
    for name in config.getoption("--event-loops").split(","):
        if name.strip() == "asyncio":
            factories["asyncio"] = asyncio.new_event_loop
        elif name.strip() == "uvloop":
            uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra")
            factories["uvloop"] = uvloop.new_event_loop
    return factories


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio's hook: async tests under EVERY_LOOP_FOLDERS run on each loop (test ids
    end in [asyncio] / [uvloop]); the rest use the default loop (the hook must always answer)."""
    folder = Path(str(item.path)).relative_to(TESTS).parts[0]
    if folder in EVERY_LOOP_FOLDERS:
        return _loop_factories(config)
    return {"asyncio": asyncio.new_event_loop}


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
        host: str = "127.0.0.1",
        **behaviour: Any,
    ) -> TestServer:
        server = TestServer(
            host=host,
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


@pytest.fixture(autouse=True)
def _forget_the_tests_secrets() -> Iterator[None]:
    """Secrets a test registered are forgotten after it: the registry redacts every later
    message in the process, and hypothesis draws strings from the package's own literals
    ("then", "false", "default"), so a drawn password could garble another test's message
    ("Au***tication", "secure: ***") depending on the order and the draw."""
    before = set(errors._SECRETS)
    yield
    if len(errors._SECRETS) != len(before):  # it only ever grows
        with errors._REGISTRY_LOCK:
            errors._SECRETS.intersection_update(before)
            errors._ORDERED[:] = sorted(errors._SECRETS, key=len, reverse=True)
