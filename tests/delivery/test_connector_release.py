"""A closed connector is freed by reference counting alone, not left to the garbage collector.

The service replaces an app's connector whenever a definition changes; a connector caught in a
reference cycle (it once was: its backend held a bound method of it) stayed in memory, with an
object or more per failover server, until a collection walked it, and those collections paused
every other app's sends (benchmarks/tenant_builds.py). Checked here with collection turned off,
after real sends (one through a failover server with its own From) to a real server.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from smtp_servers import MakeServer, dead_port

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.delivery.failover import SmtpDelivery


@pytest.fixture
def no_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def failover_config(dead: int, port: int, servers: int) -> dict[str, Any]:
    """A primary nobody listens on, then `servers` failover entries to the real server."""
    backups = [
        {"host": "127.0.0.1", "port": port, "ignoreTLS": True, "priority": n, "label": f"b{n}"}
        for n in range(1, servers + 1)
    ]
    backups[0]["defaultFromEmail"] = "codes@backup.example.net"
    return {
        "host": "127.0.0.1",
        "port": dead,
        "ignoreTLS": True,
        "fromEmail": "noreply@example.com",
        "servers": backups,
    }


async def closed(connector: SmtpConnector) -> weakref.ref[SmtpConnector]:
    """Close `connector`; a weak reference to it, for after the caller drops it."""
    await connector.aclose()
    await asyncio.sleep(0)  # the pool's closing callbacks run
    return weakref.ref(connector)


async def test_a_closed_connector_is_freed_without_a_collection(
    make_server: MakeServer, no_collection: None
) -> None:
    server = make_server()
    connector = SmtpConnector(failover_config(dead_port(), server.port, 5))
    result = await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert result.server == f"127.0.0.1:{server.port}"
    reference = await closed(connector)
    del connector
    assert reference() is None
    (received,) = server.messages
    assert received.mail_from == "codes@backup.example.net"  # the failover server's own From
    assert b"123456" in received.content


async def test_a_connector_that_never_sent_is_freed_without_a_collection(
    no_collection: None,
) -> None:
    connector = SmtpConnector(failover_config(dead_port(), dead_port(), 3))
    reference = await closed(connector)
    del connector
    assert reference() is None


@pytest.mark.parametrize(
    ("fast_path", "backups", "attempts", "code"),
    [
        (True, 1, 2, ErrorCode.ALL_SERVERS_FAILED),  # the first try failed, then the rounds
        (True, 0, 1, ErrorCode.CONNECTION_FAILED),  # the first try's own error is final
        (False, 1, 2, ErrorCode.ALL_SERVERS_FAILED),  # no first try: the rounds' error
    ],
    ids=["first try, then rounds", "first try only", "rounds from the start"],
)
async def test_a_connector_whose_send_failed_is_freed_without_a_collection(
    no_collection: None,
    monkeypatch: pytest.MonkeyPatch,
    fast_path: bool,
    backups: int,
    attempts: int,
    code: ErrorCode,
) -> None:
    """A failed send's error holds its traceback's frames: none of them may hold the error
    again (a cycle through the connector's `send`), whether the first try failed and the
    rounds went on, its error was final, or the rounds ran from the start."""
    monkeypatch.setattr(SmtpDelivery, "fast_path", fast_path)
    config = failover_config(dead_port(), dead_port(), 1)
    config["servers"] = config["servers"][:backups]
    config["retry"] = {"attempts": attempts, "initialDelay": 1, "maxDelay": 2}
    connector = SmtpConnector(config)
    with pytest.raises(ConnectorError) as failed:
        await connector.send("user@example.org", "SignIn", {"code": "123456"})
    assert failed.value.code is code and failed.value.attempts == attempts
    del failed
    reference = await closed(connector)
    del connector
    assert reference() is None


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "through send"])
async def test_a_connector_whose_send_many_failed_is_freed_without_a_collection(
    no_collection: None, monkeypatch: pytest.MonkeyPatch, inline: bool
) -> None:
    """`send_many` returns a failed message's error: its traceback holds the workers' frames,
    which held the results (and so the error) until a collection found the cycle."""
    monkeypatch.setattr(SmtpConnector, "inline_send_many", inline)
    config = failover_config(dead_port(), dead_port(), 1) | {
        "servers": [],
        "retry": {"attempts": 1},
    }
    connector = SmtpConnector(config)
    requests = [{"to": f"u{n}@example.org", "usage_type": "SignIn", "payload": {"code": "123456"}}
                for n in range(3)]  # fmt: skip
    results = await connector.send_many(requests, concurrency=2)
    assert [r.code for r in results] == [ErrorCode.CONNECTION_FAILED] * 3  # type: ignore[union-attr]
    errors = [weakref.ref(r) for r in results]
    del results
    assert all(error() is None for error in errors)
    reference = await closed(connector)
    del connector
    assert reference() is None
