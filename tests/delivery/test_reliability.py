"""Reliability against real local servers: retries, failover by priority, the circuit breaker,
send throttles, input hardening and observability.

Every test talks to a real socket: aiosmtpd (`make_server`, `RestartableServer`) or a raw
scripted server (`PlanServer`) for the misbehaviours aiosmtpd cannot produce (421 greeting,
connection reset, silence, a connection dropped after the final dot). Assertions are on what the
servers received, or on the error the connector raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from restartable import RestartableServer, message_id_of
from smtp_servers import (
    PASSWORD,
    USER,
    MakeServer,
    TestServer,
    config_for,
    dead_port,
    stop_raw_server,
)
from waiting import eventually

from smtp_connector import ConnectorError, ErrorCode, SendResult, SmtpConnector
from smtp_connector.config import RetryOptions
from smtp_connector.delivery.failover import backoff_delay
from smtp_connector.delivery.throttle import MemoryThrottleStore

CODE = "482913"
RCPT = "user@example.org"
TEXT_TEMPLATE = {
    "usageType": "Generic",
    "contentType": "text/plain",
    "subject": "Your code {{code}}",
    "content": "Your verification code is {{code}}.",
}
FAST_RETRY = {"attempts": 3, "initialDelay": 10, "maxDelay": 50, "deadline": 15000}


# -- a scripted server whose n-th connection misbehaves as planned --------------------------


class PlanServer:
    """A raw SMTP server in the test's loop. Connection n follows `plan[n]` (the last entry
    repeats). Steps:

    ok                 an honest server: 250 after the final dot
    greet421           421 instead of the 220 greeting, then close
    reset              accept, then close with a TCP RST before saying anything
    silent             accept and never greet
    silent_at_mail     greet and answer EHLO, then never answer again
    drop_after_dot     read the whole message, then close without replying
    silent_after_dot   read the whole message, then never reply

    `accepted` holds messages answered 250; `unconfirmed` the ones read in full whose reply
    was withheld (the server "may have queued" them).
    """

    def __init__(self, *plan: str, pipelining: bool = False) -> None:
        assert plan
        self.plan = plan
        self.pipelining = pipelining
        self.connections = 0
        self.accepted: list[bytes] = []
        self.unconfirmed: list[bytes] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> PlanServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await stop_raw_server(self._server, self._tasks)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        step = self.plan[min(self.connections, len(self.plan) - 1)]
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._dialogue(step, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # stop(): cut the connection
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _dialogue(
        self, step: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if step == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if step == "silent":
            await asyncio.sleep(60)
            return
        if step == "greet421":
            writer.write(b"421 4.3.2 Service not available, closing channel\r\n")
            await writer.drain()
            return
        writer.write(b"220 plan.test ESMTP\r\n")
        await writer.drain()
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                pipelining = b"250-PIPELINING\r\n" if self.pipelining else b""
                writer.write(b"250-plan.test\r\n" + pipelining + b"250 SIZE 10000000\r\n")
                await writer.drain()
                if step == "silent_at_mail":
                    await asyncio.sleep(60)
                    return
                continue
            if verb == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                lines = []
                while (data := await reader.readline()) != b".\r\n":
                    if not data:
                        return
                    lines.append(data[1:] if data.startswith(b"..") else data)
                content = b"".join(lines)
                if step == "drop_after_dot":
                    self.unconfirmed.append(content)
                    return
                if step == "silent_after_dot":
                    self.unconfirmed.append(content)
                    await asyncio.sleep(60)
                    return
                self.accepted.append(content)
                writer.write(b"250 2.0.0 Ok: queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 2.0.0 Ok\r\n")
            await writer.drain()


PlanFactory = Callable[..., Awaitable[PlanServer]]


@pytest.fixture
async def plan_server() -> AsyncIterator[PlanFactory]:
    started: list[PlanServer] = []

    async def factory(*plan: str, pipelining: bool = False) -> PlanServer:
        server = await PlanServer(*plan, pipelining=pipelining).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        await server.stop()


@pytest.fixture
def restartable() -> Iterator[Callable[..., RestartableServer]]:
    """restartable(start=True): an aiosmtpd server that can be stopped and started again."""
    made: list[RestartableServer] = []

    def factory(start: bool = True) -> RestartableServer:
        server = RestartableServer()
        made.append(server)
        return server.start() if start else server

    yield factory
    for server in made:
        server.stop()


# -- helpers -------------------------------------------------------------------------------


def address(server: TestServer | PlanServer | RestartableServer | int) -> str:
    port = server if isinstance(server, int) else server.port
    return f"127.0.0.1:{port}"


def servers_config(
    primary: TestServer | PlanServer | RestartableServer | int,
    *backups: TestServer | PlanServer | RestartableServer | int,
    **overrides: Any,
) -> dict[str, Any]:
    """Primary at the top level (priority 0), backups at priority 1, 2, … in the given order."""
    extra = [
        {
            "host": "127.0.0.1",
            "port": b if isinstance(b, int) else b.port,
            "priority": index + 1,
            "connectionTimeout": 5000,
            "greetingTimeout": 5000,
            "socketTimeout": 5000,
        }
        for index, b in enumerate(backups)
    ]
    base: dict[str, Any] = {"templates": [TEXT_TEMPLATE], "retry": FAST_RETRY, "servers": extra}
    port = primary if isinstance(primary, int) else primary.port
    return config_for(port, **(base | overrides))


async def send_one(connector: SmtpConnector, to: str = RCPT, code: str = CODE) -> SendResult:
    return await connector.send(to, "SignIn", {"code": code})


async def send_error(connector: SmtpConnector, to: str = RCPT, code: str = CODE) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        await send_one(connector, to, code)
    return info.value


def parsed(content: bytes) -> EmailMessage:
    return message_from_bytes(content, policy=policy.default)  # type: ignore[return-value]


def rcpt_commands(server: TestServer) -> int:
    return sum(chunk.upper().count(b"RCPT TO") for chunk in server.chunks)


def data_commands(server: TestServer) -> int:
    return len(re.findall(rb"(?m)^DATA\r$", b"".join(server.chunks)))


def assert_log(result: SendResult, *expected: tuple[str, bool, str | None]) -> None:
    """The per-attempt log, as (server, ok, error_code) triples."""
    assert [(a.server, a.ok, a.error_code) for a in result.attempt_log] == list(expected)
    assert result.attempts == len(expected)


# -- 1. retries ----------------------------------------------------------------------------


async def test_connection_refused_fails_over_to_backup(make_server: MakeServer) -> None:
    backup = make_server()
    primary = dead_port()
    async with SmtpConnector(servers_config(primary, backup)) as connector:
        result = await send_one(connector)
    assert result.server == address(backup)
    assert_log(
        result, (address(primary), False, "connection_failed"), (address(backup), True, None)
    )
    (received,) = backup.messages
    assert message_id_of(received.content) == result.message_id


async def test_connection_reset_is_retried(plan_server: PlanFactory) -> None:
    server = await plan_server("reset", "ok")
    async with SmtpConnector(servers_config(server)) as connector:
        result = await send_one(connector)
    assert_log(result, (server.address, False, "connection_failed"), (server.address, True, None))
    assert server.connections == 2
    (content,) = server.accepted
    assert message_id_of(content) == result.message_id


async def test_421_greeting_is_retried_then_delivered(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("greet421", "ok")
    async with SmtpConnector(servers_config(server)) as connector:
        result = await send_one(connector)
    assert result.attempts == 2
    assert result.attempt_log[0].smtp_code == 421
    assert result.attempt_log[0].ok is False
    assert len(server.accepted) == 1
    assert server.unconfirmed == []


async def test_421_greeting_fails_over(plan_server: PlanFactory, make_server: MakeServer) -> None:
    primary = await plan_server("greet421")
    backup = make_server()
    async with SmtpConnector(servers_config(primary, backup)) as connector:
        result = await send_one(connector)
    assert result.server == address(backup)
    assert result.attempt_log[0].server == primary.address
    assert result.attempt_log[0].smtp_code == 421
    assert primary.accepted == [] and len(backup.messages) == 1


@pytest.mark.parametrize(
    "reply",
    [
        "421 4.4.2 Connection timed out, closing",
        "450 4.2.0 Mailbox temporarily unavailable",
        "451 4.3.0 Local error in processing",
        "452 4.3.1 Insufficient system storage",
    ],
)
async def test_transient_reply_at_data_is_retried_and_delivered_once(
    make_server: MakeServer, reply: str
) -> None:
    server = make_server(data_replies=[reply])
    async with SmtpConnector(servers_config(server)) as connector:
        result = await send_one(connector)
    assert result.attempts == 2
    first, second = result.attempt_log
    assert (first.ok, first.smtp_code) == (False, int(reply[:3]))
    assert (second.ok, second.smtp_code) == (True, 250)
    assert server.behaviour.data_replies == []  # the transient reply was really served
    (received,) = server.messages  # delivered exactly once
    assert message_id_of(received.content) == result.message_id


@pytest.mark.parametrize(
    "reply", ["450 4.2.1 Mailbox busy, try later", "452 4.2.2 Mailbox full, try later"]
)
async def test_transient_rcpt_reply_retried_up_to_attempts(
    make_server: MakeServer, reply: str
) -> None:
    server = make_server(reject_rcpt={RCPT: reply})
    config = servers_config(server, retry=FAST_RETRY | {"attempts": 3})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.RECIPIENT_REJECTED
    assert error.smtp_code == int(reply[:3])
    assert error.retryable is True
    assert error.attempts == 3
    assert rcpt_commands(server) == 3
    assert server.messages == []


@pytest.mark.parametrize(
    ("knob", "code", "smtp_code"),
    [
        ({"reject_rcpt": {RCPT: "550 5.1.1 User unknown"}}, ErrorCode.RECIPIENT_REJECTED, 550),
        (
            {"data_replies": ["554 5.7.1 Message refused", "554 5.7.1 Message refused"]},
            ErrorCode.MESSAGE_REJECTED,
            554,
        ),
    ],
    ids=["rcpt-550", "data-554"],
)
async def test_permanent_5xx_is_never_retried_nor_failed_over(
    make_server: MakeServer, knob: dict[str, Any], code: ErrorCode, smtp_code: int
) -> None:
    primary = make_server(**knob)
    backup = make_server()
    config = servers_config(primary, backup, retry=FAST_RETRY | {"attempts": 5})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is code
    assert error.smtp_code == smtp_code
    assert error.retryable is False
    assert error.attempts == 1
    assert rcpt_commands(primary) == 1
    assert data_commands(primary) == (1 if code is ErrorCode.MESSAGE_REJECTED else 0)
    assert primary.messages == []
    assert backup.connections == 0 and backup.messages == []


async def test_timeout_before_data_is_retried(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("silent_at_mail", "ok")
    async with SmtpConnector(servers_config(server, socketTimeout=600)) as connector:
        result = await send_one(connector)
    assert_log(result, (server.address, False, "timeout"), (server.address, True, None))
    assert len(server.accepted) == 1
    assert server.unconfirmed == []


@pytest.mark.parametrize("step", ["silent", "silent_at_mail"], ids=["greeting", "mail"])
async def test_slow_server_times_out_then_fails_over(
    plan_server: PlanFactory, make_server: MakeServer, step: str
) -> None:
    primary = await plan_server(step)
    backup = make_server()
    config = servers_config(primary, backup, greetingTimeout=700, socketTimeout=700)
    async with SmtpConnector(config) as connector:
        started = time.monotonic()
        result = await send_one(connector)
        elapsed = time.monotonic() - started
    assert result.server == address(backup)
    assert_log(result, (primary.address, False, "timeout"), (address(backup), True, None))
    # The configured 0.7 s, told apart from the defaults (30 s, 10 min) with room for a loaded
    # machine: the bound says which timeout fired, it does not time the send.
    assert 0.6 <= elapsed < 15.0
    assert len(backup.messages) == 1 and primary.accepted == []


async def test_attempts_bound_retries(make_server: MakeServer) -> None:
    server = make_server(data_replies=["451 4.3.0 Try again later"] * 10)
    config = servers_config(server, retry=FAST_RETRY | {"attempts": 4})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.MESSAGE_REJECTED
    assert error.smtp_code == 451
    assert error.retryable is True
    assert error.attempts == 4
    assert len(server.behaviour.data_replies) == 6  # exactly four DATA transactions
    assert server.messages == []


async def test_backoff_grows_exponentially_between_retries(make_server: MakeServer) -> None:
    server = make_server(data_replies=["451 4.3.0 Try again later"] * 3)
    retry = {"attempts": 4, "initialDelay": 200, "maxDelay": 10_000, "deadline": 30_000}
    async with SmtpConnector(servers_config(server, retry=retry)) as connector:
        started = time.monotonic()
        result = await send_one(connector)
        elapsed = time.monotonic() - started
    assert result.attempts == 4
    assert len(server.messages) == 1
    # Delays of 200, 400, 800 ms with equal jitter are at least 100 + 200 + 400 ms; a constant
    # 200 ms delay could not reach 0.7 s (at most 3 x 200 ms). The upper bound only says the
    # delays are milliseconds, not seconds (at least 100 + 200 + 400 s), on a loaded machine too.
    assert elapsed >= 0.7
    assert elapsed < 60.0


def test_backoff_delay_jitter_and_cap() -> None:
    options = RetryOptions(attempts=10, initial_delay=100, max_delay=1000)
    for round_number, base in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        samples = [backoff_delay(options, round_number) for _ in range(200)]
        assert all(base / 2 <= s <= base + 1e-9 for s in samples), round_number
        assert len(set(samples)) > 100  # jittered, not a fixed schedule


async def test_deadline_stops_retries(make_server: MakeServer) -> None:
    server = make_server(data_replies=["451 4.3.0 Try again later"] * 50)
    retry = {"attempts": 20, "initialDelay": 200, "maxDelay": 200, "deadline": 800}
    async with SmtpConnector(servers_config(server, retry=retry)) as connector:
        started = time.monotonic()
        error = await send_error(connector)
        elapsed = time.monotonic() - started
    assert error.code is ErrorCode.MESSAGE_REJECTED
    assert error.attempts is not None and 2 <= error.attempts < 20
    # attempts < 20 is what shows the deadline stopped the retries; elapsed only says it was
    # the 0.8 s deadline, not the 19 delays of 0.1-0.2 s, with room for a loaded machine.
    assert elapsed < 15.0
    assert 50 - len(server.behaviour.data_replies) == error.attempts


async def test_deadline_bounds_a_hung_attempt(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("silent_at_mail")
    retry = {"attempts": 3, "initialDelay": 10, "maxDelay": 10, "deadline": 500}
    config = servers_config(server, socketTimeout=60_000, retry=retry)
    async with SmtpConnector(config) as connector:
        started = time.monotonic()
        error = await send_error(connector)
        elapsed = time.monotonic() - started
    assert error.code is ErrorCode.TIMEOUT
    assert error.retryable is True
    # "A total deadline" of 0.5 s cuts the hung attempt; without it socketTimeout (60 s) would.
    # The bound is far from both, so a loaded machine cannot trip it.
    assert elapsed < 15.0


@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelined"])
async def test_lost_reply_after_final_dot_is_not_resent(
    plan_server: PlanFactory, make_server: MakeServer, pipelining: bool
) -> None:
    primary = await plan_server("drop_after_dot", "ok", pipelining=pipelining)
    backup = make_server()
    config = servers_config(primary, backup, retry=FAST_RETRY | {"attempts": 5})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.CONNECTION_FAILED
    assert error.retryable is True
    assert error.stage == "after_data"
    assert error.attempts == 1
    assert "may or may not have been queued" in error.message
    assert len(primary.unconfirmed) == 1  # the server got the whole message once …
    assert primary.accepted == [] and primary.connections == 1  # … and nothing was resent
    assert backup.connections == 0 and backup.messages == []


async def test_timeout_after_final_dot_is_not_resent(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("silent_after_dot", "ok")
    config = servers_config(server, socketTimeout=700, retry=FAST_RETRY | {"attempts": 5})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.TIMEOUT
    assert error.retryable is True
    assert error.stage == "after_data"
    assert error.attempts == 1
    assert len(server.unconfirmed) == 1
    assert server.accepted == [] and server.connections == 1


async def test_lost_reply_is_resent_when_opted_in(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("drop_after_dot", "ok")
    retry = FAST_RETRY | {"resendAfterLostReply": True}
    async with SmtpConnector(servers_config(server, retry=retry)) as connector:
        result = await send_one(connector)
    assert result.attempts == 2
    assert result.attempt_log[0].error_code == "connection_failed"
    (maybe_queued,) = server.unconfirmed
    (confirmed,) = server.accepted
    # The same message (same Message-ID) was sent again, so a receiver can de-duplicate.
    assert message_id_of(maybe_queued) == message_id_of(confirmed) == result.message_id


async def test_lost_reply_resend_fails_over_when_opted_in(
    plan_server: PlanFactory, make_server: MakeServer
) -> None:
    primary = await plan_server("drop_after_dot")
    backup = make_server()
    retry = FAST_RETRY | {"resendAfterLostReply": True}
    async with SmtpConnector(servers_config(primary, backup, retry=retry)) as connector:
        result = await send_one(connector)
    assert result.server == address(backup)
    (received,) = backup.messages
    assert message_id_of(received.content) == result.message_id
    assert len(primary.unconfirmed) == 1


async def test_all_servers_failed_lists_each_error(
    plan_server: PlanFactory, make_server: MakeServer, ca_pem: str
) -> None:
    refused = dead_port()
    greets_421 = await plan_server("greet421")
    wrong_password = make_server(
        mode="starttls", auth_required=True, users={USER: "another-password"}
    )
    failures: list[ConnectorError] = []
    config = servers_config(refused, greets_421, wrong_password)
    config["servers"][1]["auth"] = {"user": USER, "pass": PASSWORD}
    config["servers"][1]["tls"] = {"ca": ca_pem}
    async with SmtpConnector(config, on_failed=failures.append) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.ALL_SERVERS_FAILED
    assert error.attempts == 3
    assert error.retryable is True
    names = [address(refused), greets_421.address, address(wrong_password)]
    assert set(error.details) == set(names)
    assert error.details[names[0]]["code"] == "connection_failed"
    assert error.details[names[1]]["smtp_code"] == 421
    assert error.details[names[2]]["code"] == "auth_failed"
    assert error.details[names[2]]["smtp_code"] == 535
    for name in names:
        assert name in error.message
    assert PASSWORD not in json.dumps(error.details) + str(error)
    assert failures == [error]
    assert wrong_password.messages == []


async def test_all_servers_down() -> None:
    ports = [dead_port() for _ in range(3)]
    config = servers_config(*ports, retry=FAST_RETRY | {"attempts": 6})
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.ALL_SERVERS_FAILED
    assert error.retryable is True
    assert error.attempts == 6  # two rounds over the three servers
    assert set(error.details) == {address(p) for p in ports}
    assert {d["code"] for d in error.details.values()} == {"connection_failed"}


# -- 2. servers and priority ---------------------------------------------------------------


async def test_healthy_primary_is_used_and_backups_untouched(make_server: MakeServer) -> None:
    primary, backup = make_server(), make_server()
    async with SmtpConnector(servers_config(primary, backup)) as connector:
        results = [await send_one(connector, f"user{i}@example.org") for i in range(3)]
    assert {r.server for r in results} == {address(primary)}
    assert all(r.attempts == 1 for r in results)
    assert len(primary.messages) == 3
    assert backup.connections == 0


async def test_backups_tried_by_priority_not_list_order(make_server: MakeServer) -> None:
    low, high = make_server(), make_server()
    config = servers_config(dead_port())
    config["servers"] = [
        {"host": "127.0.0.1", "port": low.port, "priority": 7},
        {"host": "127.0.0.1", "port": high.port, "priority": 2},
    ]
    async with SmtpConnector(config) as connector:
        result = await send_one(connector)
    assert result.server == address(high)
    assert len(high.messages) == 1
    assert low.connections == 0


async def test_backup_uses_its_own_tls_auth_and_from(make_server: MakeServer, ca_pem: str) -> None:
    backup = make_server(
        mode="starttls",
        require_starttls=True,
        auth_required=True,
        users={"backup-login": "backup-password-42"},
    )
    config = servers_config(dead_port(), auth={"user": USER, "pass": PASSWORD})
    config["servers"] = [
        {
            "host": "127.0.0.1",
            "port": backup.port,
            "priority": 1,
            "requireTLS": True,
            "tls": {"ca": ca_pem},
            "auth": {"user": "backup-login", "pass": "backup-password-42"},
            "defaultFromEmail": "codes@mail.backup-provider.example.net",
            "defaultFromName": "Acme Codes",
        }
    ]
    async with SmtpConnector(config) as connector:
        result = await send_one(connector)
    assert result.server == address(backup)
    (received,) = backup.messages
    assert received.mail_from == "codes@mail.backup-provider.example.net"
    assert received.auth_login == b"backup-login"
    message = parsed(received.content)
    (sender,) = message["From"].addresses
    assert (sender.addr_spec, sender.display_name) == (
        "codes@mail.backup-provider.example.net",
        "Acme Codes",
    )
    assert message["Message-ID"] == result.message_id
    assert result.message_id.endswith("@mail.backup-provider.example.net>")
    assert CODE in message.get_body(("plain",)).get_content()


async def test_primary_keeps_configured_from(make_server: MakeServer) -> None:
    primary, backup = make_server(), make_server()
    config = servers_config(primary, backup)
    config["servers"][0]["defaultFromEmail"] = "codes@backup.example.net"
    async with SmtpConnector(config) as connector:
        result = await send_one(connector)
    (received,) = primary.messages
    assert received.mail_from == "noreply@example.com"
    assert result.message_id.endswith("@example.com>")


# -- 3. health and the circuit breaker -----------------------------------------------------


def health_of(connector: SmtpConnector, server: str) -> dict[str, object]:
    (entry,) = [h for h in connector.health() if h["server"] == server]
    return entry


async def cooled_down(connector: SmtpConnector, server: str) -> None:
    """Wait until the breaker of `server` is half-open (its cool-down ended), polling: a fixed
    sleep just past the cool-down says nothing about when the loop gets to run again."""
    await eventually(lambda: health_of(connector, server)["status"] == "half_open")


async def test_breaker_opens_after_max_errors_and_closes_after_probe(
    restartable: Callable[..., RestartableServer], make_server: MakeServer
) -> None:
    primary = restartable(start=False)
    backup = make_server()
    # The cool-down must outlast the server's restart and one send to the backup, even on a
    # loaded machine: 4 s, and the probe waits for the half-open state instead of a sleep.
    config = servers_config(primary, backup, health={"maxErrors": 2, "cooldown": 4000})
    async with SmtpConnector(config) as connector:
        first = await send_one(connector, "a@example.org")
        assert health_of(connector, primary.address)["status"] == "active"
        second = await send_one(connector, "b@example.org")
        opened_at = time.monotonic()
        for result in (first, second):
            assert [a.server for a in result.attempt_log] == [primary.address, address(backup)]
        state = health_of(connector, primary.address)
        assert (state["status"], state["numErrors"], state["consecutiveErrors"]) == (
            "disabled",
            2,
            2,
        )

        primary.start()  # back up, but the breaker is open: no traffic until the cool-down ends
        skipped = await send_one(connector, "c@example.org")
        assert_log(skipped, (address(backup), True, None))
        assert time.monotonic() - opened_at < 4.0, "machine too slow for this cool-down"
        assert primary.messages == []

        await cooled_down(connector, primary.address)
        probe = await send_one(connector, "d@example.org")
        assert_log(probe, (primary.address, True, None))
        state = health_of(connector, primary.address)
        assert (state["status"], state["consecutiveErrors"]) == ("active", 0)
        after = await send_one(connector, "e@example.org")
    assert after.server == primary.address
    assert [m.rcpt_tos for m in primary.messages] == [["d@example.org"], ["e@example.org"]]
    assert [m.rcpt_tos for m in backup.messages] == [
        ["a@example.org"],
        ["b@example.org"],
        ["c@example.org"],
    ]


async def test_failed_half_open_probe_reopens_breaker(make_server: MakeServer) -> None:
    primary = dead_port()
    backup = make_server()
    # A cool-down long enough that "disabled" is still seen after a send on a loaded machine.
    config = servers_config(primary, backup, health={"maxErrors": 1, "cooldown": 2000})
    async with SmtpConnector(config) as connector:
        await send_one(connector, "a@example.org")
        assert health_of(connector, address(primary))["status"] == "disabled"
        await cooled_down(connector, address(primary))
        probe = await send_one(connector, "b@example.org")
        assert_log(
            probe,
            (address(primary), False, "connection_failed"),
            (address(backup), True, None),
        )
        # One failed probe is enough to open the breaker again (not maxErrors more).
        assert health_of(connector, address(primary))["status"] == "disabled"
        skipped = await send_one(connector, "c@example.org")
        assert_log(skipped, (address(backup), True, None))
    assert len(backup.messages) == 3


async def test_half_open_admits_a_single_probe(make_server: MakeServer) -> None:
    primary = dead_port()
    backup = make_server()
    # The cool-down must outlast the ten sends after the failed probe (or a second probe may
    # start legitimately), on a loaded machine too.
    config = servers_config(primary, backup, health={"maxErrors": 1, "cooldown": 2000})
    async with SmtpConnector(config) as connector:
        await send_one(connector, "first@example.org")
        await cooled_down(connector, address(primary))
        results = await asyncio.gather(
            *(send_one(connector, f"user{i}@example.org") for i in range(10))
        )
    probes = [a for r in results for a in r.attempt_log if a.server == address(primary)]
    assert len(probes) == 1  # "then one send probes it (half-open)"
    assert len(backup.messages) == 11


async def test_every_server_disabled_fails_fast_with_retry_after(
    plan_server: PlanFactory,
) -> None:
    server = await plan_server("greet421")
    config = servers_config(server, health={"maxErrors": 1, "cooldown": 60_000})
    async with SmtpConnector(config) as connector:
        first = await send_error(connector)
        assert first.smtp_code == 421
        tried = server.connections
        started = time.monotonic()
        error = await send_error(connector)
        elapsed = time.monotonic() - started
    assert error.code is ErrorCode.ALL_SERVERS_FAILED
    assert error.retryable is True
    assert error.retry_after is not None and 30.0 < error.retry_after <= 60.0
    assert error.attempts == 0
    assert server.connections == tried  # the open breaker kept the send off the server
    assert elapsed < 15.0  # fails at once, not after the 60 s cool-down (room for a slow machine)


async def test_check_disables_and_reenables_a_server(
    restartable: Callable[..., RestartableServer], make_server: MakeServer
) -> None:
    primary = restartable(start=False)
    backup = make_server()
    config = servers_config(primary, backup, health={"maxErrors": 5, "cooldown": 60_000})
    async with SmtpConnector(config) as connector:
        down = await connector.check(primary.address)
        assert down["status"] == "disabled"
        assert down["numErrors"] == 1
        assert "connection_failed" in str(down["lastError"])
        while_down = await send_one(connector, "a@example.org")
        assert_log(while_down, (address(backup), True, None))

        primary.start()
        up = await connector.check(primary.address)
        assert up["status"] == "active"
        assert primary.messages == []  # a check sends nothing
        assert primary.connections == 1
        after = await send_one(connector, "b@example.org")
    assert after.server == primary.address
    assert len(primary.messages) == 1


async def test_check_does_not_count_as_a_sent_message(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(servers_config(server)) as connector:
        state = await connector.check(address(server))
    assert state["status"] == "active"
    assert server.messages == []
    assert state["numSent"] == 0


async def test_health_reports_every_server_in_priority_order(
    make_server: MakeServer, ca_pem: str
) -> None:
    backup = make_server(mode="starttls", auth_required=True, users={USER: PASSWORD})
    primary = dead_port()
    config = servers_config(primary, backup, auth={"user": USER, "pass": PASSWORD})
    config["servers"][0]["auth"] = {"user": USER, "pass": PASSWORD}
    config["servers"][0]["tls"] = {"ca": ca_pem}
    async with SmtpConnector(config) as connector:
        for i in range(2):
            await send_one(connector, f"user{i}@example.org")
        report = connector.health()
    assert [h["server"] for h in report] == [address(primary), address(backup)]
    first, second = report
    assert first["status"] == "active"  # below maxErrors (5)
    assert (first["numErrors"], first["consecutiveErrors"], first["numSent"]) == (2, 2, 0)
    assert "connection_failed" in str(first["lastError"])
    assert (second["status"], second["numErrors"], second["numSent"]) == ("active", 0, 2)
    assert PASSWORD not in json.dumps(report)


# -- 4. send throttles ---------------------------------------------------------------------


async def test_per_recipient_interval_fires_and_resets(make_server: MakeServer) -> None:
    server = make_server()
    config = servers_config(server, throttle={"perRecipientInterval": 1000})
    async with SmtpConnector(config) as connector:
        await send_one(connector, "a@example.org")
        error = await send_error(connector, "A@Example.org")  # same mailbox, other spelling
        assert error.code is ErrorCode.RATE_LIMITED
        assert error.retryable is True
        assert error.retry_after is not None and 0 < error.retry_after <= 1.0
        other = await send_one(connector, "b@example.org")  # other recipients are not held up
        assert other.accepted == ["b@example.org"]
        await asyncio.sleep(error.retry_after + 0.05)
        again = await send_one(connector, "a@example.org")
    assert again.accepted == ["a@example.org"]
    assert [m.rcpt_tos for m in server.messages] == [
        ["a@example.org"],
        ["b@example.org"],
        ["a@example.org"],
    ]


async def test_per_recipient_hourly_cap(make_server: MakeServer) -> None:
    server = make_server()
    config = servers_config(server, throttle={"perRecipientHourly": 2})
    async with SmtpConnector(config) as connector:
        for _ in range(2):
            await send_one(connector, "a@example.org")
        error = await send_error(connector, "a@example.org")
        await send_one(connector, "b@example.org")
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after is not None and 3500 < error.retry_after <= 3600
    assert len(server.messages) == 3
    assert server.connections == 1


async def test_global_hourly_cap(make_server: MakeServer) -> None:
    server = make_server()
    config = servers_config(server, throttle={"globalHourly": 3})
    async with SmtpConnector(config) as connector:
        for i in range(3):
            await send_one(connector, f"user{i}@example.org")
        error = await send_error(connector, "someone-else@example.org")
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after is not None and 3500 < error.retry_after <= 3600
    assert len(server.messages) == 3


async def test_hourly_window_slides_and_resets(make_server: MakeServer) -> None:
    """The cap counts the last hour only: a send that ages out frees its slot."""
    server = make_server()
    store = MemoryThrottleStore()
    # 59:57 ago: the connector's start and first send must come before it ages out, with room
    # for a loaded machine.
    await store.add("a@example.org", time.time() - 3600 + 3.0)
    config = servers_config(server, throttle={"perRecipientHourly": 1})
    async with SmtpConnector(config, throttle_store=store) as connector:
        error = await send_error(connector, "a@example.org")
        assert error.code is ErrorCode.RATE_LIMITED
        assert error.retry_after is not None and 0 < error.retry_after <= 3.0
        await asyncio.sleep(error.retry_after + 0.05)
        result = await send_one(connector, "a@example.org")
    assert result.accepted == ["a@example.org"]
    assert len(server.messages) == 1


class SharedStore:
    """A throttle store two connector instances share, as a Redis-backed one would be."""

    def __init__(self) -> None:
        self.entries: dict[str, list[float]] = {}
        self.calls: list[tuple[str, str]] = []

    async def recent(self, key: str, since: float) -> list[float]:
        self.calls.append(("recent", key))
        return [t for t in self.entries.get(key, []) if t >= since]

    async def add(self, key: str, at: float) -> None:
        self.calls.append(("add", key))
        self.entries.setdefault(key, []).append(at)


async def test_pluggable_store_is_shared_between_instances(make_server: MakeServer) -> None:
    server = make_server()
    store = SharedStore()
    config = servers_config(server, throttle={"perRecipientInterval": 60_000})
    async with (
        SmtpConnector(config, throttle_store=store) as one,
        SmtpConnector(config, throttle_store=store) as two,
    ):
        await send_one(one, "a@example.org")
        error = await send_error(two, "a@example.org")
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after is not None and 59 < error.retry_after <= 60
    assert ("add", "a@example.org") in store.calls
    assert len(server.messages) == 1


# -- 5. input hardening --------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    [
        "victim@example.org\r\nBcc: attacker@evil.example.net",
        "victim@example.org\nBcc: attacker@evil.example.net",
        "victim@example.org\rX-Injected: yes",
        "victim@example.org\x00attacker@evil.example.net",
        "Victim <victim@example.org>, attacker@evil.example.net",
        '"attacker@evil.example.net" <victim@example.org>',
        "Victim <victim@example.org> <attacker@evil.example.net>",
        "victim@example.org,attacker@evil.example.net",
        "victim@example.org attacker@evil.example.net",
        "a@b@example.org",
        "user@localhost",
        "user@[127.0.0.1]",
        "x@" + "a" * 64 + ".example.org",  # a DNS label over 63 octets
        "x@" + ".".join(["a" * 60] * 5) + ".org",  # over 254 octets
        "",
        "   ",
    ],
)
async def test_hostile_or_malformed_recipient_refused_before_connecting(
    make_server: MakeServer, recipient: str
) -> None:
    server = make_server()
    async with SmtpConnector(servers_config(server)) as connector:
        error = await send_error(connector, recipient)
    assert error.code is ErrorCode.INVALID_RECIPIENT
    assert error.retryable is False
    assert server.connections == 0 and server.messages == []


@pytest.mark.parametrize("local", ["a" * 65, "ü" * 33], ids=["ascii-65", "utf8-66-octets"])
async def test_local_part_over_64_octets_refused(make_server: MakeServer, local: str) -> None:
    server = make_server()
    async with SmtpConnector(servers_config(server)) as connector:
        error = await send_error(connector, f"{local}@example.org")
    assert error.code is ErrorCode.INVALID_RECIPIENT
    assert server.messages == []


async def test_idn_recipient_goes_out_as_punycode(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(servers_config(server)) as connector:
        result = await send_one(connector, "Jürgen <jurgen@bücher.example.net>")
    assert result.accepted == ["jurgen@xn--bcher-kva.example.net"]
    (received,) = server.messages
    assert received.rcpt_tos == ["jurgen@xn--bcher-kva.example.net"]
    (to,) = parsed(received.content)["To"].addresses
    assert to.display_name == "Jürgen"
    assert to.domain in ("xn--bcher-kva.example.net", "bücher.example.net")


async def test_oversized_payload_refused(make_server: MakeServer) -> None:
    server = make_server()
    config = servers_config(server, maxPayloadBytes=4096)
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(RCPT, "SignIn", {"code": CODE, "note": "x" * 5000})
        ok = await connector.send(RCPT, "SignIn", {"code": CODE, "note": "x" * 100})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "4096" in info.value.message
    assert len(server.messages) == 1 and ok.accepted == [RCPT]


@pytest.mark.parametrize(
    "blob", [b"x" * 100_000, [10**4000] * 20], ids=["bytes-100k", "twenty-4000-digit-ints"]
)
async def test_payload_limit_counts_every_value(make_server: MakeServer, blob: object) -> None:
    server = make_server()
    template = TEXT_TEMPLATE | {"content": "{{code}} {{blob}}"}
    config = servers_config(server, maxPayloadBytes=4096, templates=[template])
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(RCPT, "SignIn", {"code": CODE, "blob": blob})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert server.messages == []


async def test_unconvertible_code_is_a_connector_error(make_server: MakeServer) -> None:
    server = make_server()
    failures: list[ConnectorError] = []
    async with SmtpConnector(servers_config(server), on_failed=failures.append) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(RCPT, "SignIn", {"code": 10**5000})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert failures == [info.value]
    assert server.messages == []


async def test_overlong_lines_never_reach_the_wire(make_server: MakeServer) -> None:
    server = make_server()
    code = "Z" * 3000  # one unbroken 3000-octet "word" in the subject and the body
    template = TEXT_TEMPLATE | {"subject": "Code: {{code}}", "content": "Code: {{code}}\n"}
    async with SmtpConnector(servers_config(server, templates=[template])) as connector:
        await send_one(connector, code=code)
    (received,) = server.messages
    lines = received.content.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    message = parsed(received.content)
    assert message["Subject"] == f"Code: {code}"
    assert f"Code: {code}" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "127.1", "2130706433", "0.0.0.0", "::ffff:127.0.0.1"]
)
async def test_refuse_private_hosts(make_server: MakeServer, host: str) -> None:
    server = make_server()
    config = servers_config(server, host=host, refusePrivateHosts=True)
    async with SmtpConnector(config) as connector:
        error = await send_error(connector)
    assert error.code is ErrorCode.CONNECTION_FAILED
    assert error.retryable is False
    assert "refusePrivateHosts" in error.message
    assert server.connections == 0


# -- 6. observability ----------------------------------------------------------------------


async def test_structured_log_records_for_each_attempt(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smtp_connector")
    backup = make_server()
    primary = dead_port()
    async with SmtpConnector(servers_config(primary, backup)) as connector:
        result = await send_one(connector)
    records = [r for r in caplog.records if r.name.startswith("smtp_connector")]
    failed = [r for r in records if r.levelno == logging.WARNING]
    sent = [r for r in records if r.getMessage() == "sent"]
    assert len(failed) == 1 and len(sent) == 1
    fields = ("server", "attempt", "smtp_code", "message_id", "duration")
    assert [getattr(failed[0], f) for f in fields[:4]] == [
        address(primary),
        1,
        None,
        result.message_id,
    ]
    assert failed[0].error_code == "connection_failed"  # type: ignore[attr-defined]
    assert [getattr(sent[0], f) for f in fields[:4]] == [
        address(backup),
        2,
        250,
        result.message_id,
    ]
    for record in (*failed, *sent):
        duration = record.duration  # type: ignore[attr-defined]
        assert isinstance(duration, float) and 0 <= duration < 10


async def test_secrets_never_logged_on_failover(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture, ca_pem: str
) -> None:
    caplog.set_level(logging.DEBUG)
    primary = make_server(mode="starttls", auth_required=True, users={USER: "a-different-password"})
    backup = make_server()
    failures: list[ConnectorError] = []
    auth = {"user": USER, "pass": PASSWORD}
    config = servers_config(primary, backup, auth=auth, tls={"ca": ca_pem}, debug=True)
    async with SmtpConnector(config, on_failed=failures.append) as connector:
        result = await send_one(connector)
        report = connector.health()
    assert result.server == address(backup)
    assert result.attempt_log[0].error_code == "auth_failed"
    assert caplog.records
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        assert PASSWORD not in str(record.__dict__)
    assert PASSWORD not in json.dumps(report)
    assert PASSWORD not in repr(result) + json.dumps(result.to_dict())


async def test_hooks_report_sends_and_failures(make_server: MakeServer) -> None:
    server = make_server(reject_rcpt={"gone@example.org": "550 5.1.1 User unknown"})
    sent: list[SendResult] = []
    failed: list[ConnectorError] = []
    config = servers_config(server, throttle={"perRecipientHourly": 1})
    async with SmtpConnector(config, on_sent=sent.append, on_failed=failed.append) as connector:
        result = await send_one(connector, "a@example.org")
        limited = await send_error(connector, "a@example.org")
        rejected = await send_error(connector, "gone@example.org")
    assert sent == [result]
    assert failed == [limited, rejected]
    assert [e.code for e in failed] == [ErrorCode.RATE_LIMITED, ErrorCode.RECIPIENT_REJECTED]


async def test_failing_hook_never_breaks_a_send(make_server: MakeServer) -> None:
    server = make_server()

    def broken(_: object) -> None:
        raise RuntimeError("metrics backend is down")

    async with SmtpConnector(servers_config(server), on_sent=broken, on_failed=broken) as c:
        result = await send_one(c)
        error = await send_error(c, "not an address")
    assert result.accepted == [RCPT]
    assert error.code is ErrorCode.INVALID_RECIPIENT
    assert len(server.messages) == 1
