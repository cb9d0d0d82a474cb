"""The dev server's port: one it picked (port 0) can be taken by another process before
aiosmtpd binds it, and is then picked again; a port the user named and that is taken stays an
error naming it (tests/cli/test_cli_edges.py has the CLI's line for `serve`)."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest

from smtp_connector.errors import ConnectorError
from smtp_connector.testing import devserver
from smtp_connector.testing.devserver import DevServer


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_picked_port_taken_before_the_bind_is_picked_again(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = [busy_port]  # the first pick is taken by the time the server binds it
    real = devserver._bind_once
    monkeypatch.setattr(devserver, "_bind_once",
                        lambda host, port: real(host, picks.pop() if picks else port))  # fmt: skip
    with DevServer() as server:
        assert server.port not in (0, busy_port)
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nbody\r\n")
        assert server.wait_for(1, timeout=30)
    assert server.messages[0].mail_from == "a@example.org"


def test_a_named_port_that_is_taken_is_an_error_naming_it(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_started(*args: object, **kwargs: object) -> None:
        raise AssertionError("aiosmtpd started: it reports a failed bind after 5 s, not at once")

    monkeypatch.setattr(devserver, "Controller", not_started)
    with pytest.raises(ConnectorError) as raised:
        DevServer(port=busy_port).start()
    assert f"127.0.0.1:{busy_port}" in raised.value.message
    assert "already in use" in raised.value.message and "--port 0" in raised.value.message


@pytest.mark.parametrize("host", ["/tmp/sink.sock", "http://localhost", "no-such-host.invalid"])
def test_a_host_that_is_not_an_address_is_an_error_naming_it(host: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        DevServer(host=host).start()
    assert raised.value.message.startswith(f"Cannot listen on {host}")
    assert raised.value.code.value == "invalid_config"
