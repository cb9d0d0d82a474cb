"""Soak: thousands of sends through two real servers while the primary is killed and restarted.

What is counted is what the servers received, by Message-ID (and by the per-request code in the
body): nothing lost, nothing duplicated. The stop is abrupt (listener closed, every session cut
mid-command), run in a thread while sends continue; the restart listens on the same port.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from restartable import RestartableServer, count_message_ids
from smtp_servers import Behaviour

from smtp_connector import ConnectorError, SendRequest, SendResult, SmtpConnector

TEMPLATE = {
    "usageType": "Generic",
    "contentType": "text/plain",
    "subject": "Your code",
    "content": "Request {{code}}",
}
_REQUEST = re.compile(rb"Request (\d{6})")


@pytest.fixture
def two_servers() -> Iterator[tuple[RestartableServer, RestartableServer]]:
    primary = RestartableServer(Behaviour(pipelining=True)).start()
    backup = RestartableServer(Behaviour(pipelining=True)).start()
    yield primary, backup
    primary.stop()
    backup.stop()


def soak_config(
    primary: RestartableServer, backup: RestartableServer, **retry: Any
) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": primary.port,
        "fromEmail": "noreply@example.com",
        "templates": [TEMPLATE],
        "connectionTimeout": 3000,
        "greetingTimeout": 3000,
        "socketTimeout": 5000,
        "servers": [{"host": "127.0.0.1", "port": backup.port, "priority": 1}],
        "pool": {"maxConnections": 5},
        "retry": {"attempts": 6, "initialDelay": 20, "maxDelay": 200, "deadline": 20_000} | retry,
        "health": {"maxErrors": 3, "cooldown": 250},
    }


class Chaos:
    """Stops the primary after `stop_at` completed sends and starts it again after `start_at`,
    noting how much it had received at each point."""

    def __init__(self, server: RestartableServer, stop_at: int, start_at: int) -> None:
        self.server = server
        self.stop_at, self.start_at = stop_at, start_at
        self.tasks: list[asyncio.Task[None]] = []
        self.received_at_stop = -1
        self.received_at_restart = -1

    def on_progress(self, done: int, _: SendResult | ConnectorError) -> None:
        if done == self.stop_at:
            self.tasks.append(asyncio.ensure_future(self._stop()))
        elif done == self.start_at:
            self.tasks.append(asyncio.ensure_future(self._restart()))

    async def _stop(self) -> None:
        await asyncio.to_thread(self.server.stop)
        self.received_at_stop = len(self.server.messages)

    async def _restart(self) -> None:
        await self.tasks[0]  # the stop has finished
        await asyncio.to_thread(self.server.start)
        self.received_at_restart = len(self.server.messages)

    async def wait(self) -> None:
        await asyncio.gather(*self.tasks)


def request_numbers(*servers: RestartableServer) -> Counter[int]:
    """How many times each request (by the number in its body) arrived over all servers."""
    found: Counter[int] = Counter()
    for server in servers:
        for message in server.messages:
            match = _REQUEST.search(message.content)
            assert match is not None
            found[int(match.group(1))] += 1
    return found


async def run_soak(
    primary: RestartableServer, backup: RestartableServer, count: int, **retry: Any
) -> tuple[list[SendResult | ConnectorError], Chaos, list[dict[str, object]]]:
    # The outage covers the second quarter; the second half is left for the failback, which
    # waits out the breaker's cooldown (a faster sender must not finish before it has passed).
    chaos = Chaos(primary, stop_at=count // 4, start_at=count // 2)
    requests = [
        SendRequest(to=f"user{i}@example.org", payload={"code": f"{i:06d}"}) for i in range(count)
    ]
    async with SmtpConnector(soak_config(primary, backup, **retry)) as connector:
        outcomes = await asyncio.wait_for(
            connector.send_many(requests, concurrency=20, on_progress=chaos.on_progress), 120
        )
        await chaos.wait()
        health = connector.health()
    assert len(outcomes) == count
    assert primary.starts == 2  # it really was stopped and started again
    return outcomes, chaos, health


async def test_soak_5000_sends_exactly_once_across_a_restart(
    two_servers: tuple[RestartableServer, RestartableServer],
) -> None:
    """With `resendAfterLostReply`, every one of 5,000 messages arrives exactly once."""
    primary, backup = two_servers
    count = 5000
    started = time.monotonic()
    outcomes, chaos, health = await run_soak(primary, backup, count, resendAfterLostReply=True)
    elapsed = time.monotonic() - started

    errors = [o for o in outcomes if isinstance(o, ConnectorError)]
    assert errors == []
    results = [o for o in outcomes if isinstance(o, SendResult)]

    ids = count_message_ids(primary, backup)
    assert len(ids) == count  # none lost
    assert max(ids.values()) == 1  # none duplicated
    assert {r.message_id for r in results} == set(ids)
    assert request_numbers(primary, backup) == Counter(range(count))

    # Failover and failback really happened: the backup carried the outage, the primary got
    # nothing while it was down and took traffic again after the restart.
    assert chaos.received_at_stop >= 0 and chaos.received_at_restart >= 0
    assert chaos.received_at_restart == chaos.received_at_stop
    assert len(primary.messages) > chaos.received_at_restart
    assert 0 < len(backup.messages) < count
    assert {r.server for r in results} == {primary.address, backup.address}
    assert sum(r.attempts > 1 for r in results) > 0
    assert health[0]["status"] == "active"
    assert elapsed < 90


async def test_soak_default_never_resends_an_unconfirmed_message(
    two_servers: tuple[RestartableServer, RestartableServer],
) -> None:
    """Without the opt-in, a message whose reply was lost in the crash is reported (retryable,
    stage after_data) and never sent twice; everything reported sent arrived exactly once."""
    primary, backup = two_servers
    count = 2000
    outcomes, chaos, _ = await run_soak(primary, backup, count)

    results = [o for o in outcomes if isinstance(o, SendResult)]
    errors = [o for o in outcomes if isinstance(o, ConnectorError)]
    for error in errors:
        assert (error.stage, error.retryable) == ("after_data", True), error
    # Only the sessions in flight to the primary at the crash can lose a reply.
    assert len(errors) <= 5

    ids = count_message_ids(primary, backup)
    assert max(ids.values()) == 1  # nothing duplicated
    assert all(ids[r.message_id] == 1 for r in results)  # everything reported sent arrived
    numbers = request_numbers(primary, backup)
    assert max(numbers.values()) == 1
    assert len(results) <= len(numbers) <= count
    assert len(primary.messages) > chaos.received_at_restart >= 0
