"""The connection pool against real servers: reuse, recycling, stale connections, rate limit,
concurrency cap, PIPELINING on the wire, clean shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest
from smtp_servers import MakeServer, ScriptedServer, config_for, smtp_dialogue
from waiting import eventually, settled

from smtp_connector import ConnectorError, SmtpConnector


async def send_n(connector: SmtpConnector, count: int, concurrent: bool = False) -> list:
    sends = [
        connector.send(f"user{i}@example.org", "SignIn", {"code": f"{i:06d}"}) for i in range(count)
    ]
    if concurrent:
        return await asyncio.gather(*sends)
    return [await send for send in sends]


async def test_one_connection_for_many_sends(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        await send_n(connector, 10)
    assert len(server.messages) == 10
    assert server.connections == 1


async def test_recycled_after_max_messages(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server, pool={"maxMessages": 3})) as connector:
        await send_n(connector, 7)
    assert len(server.messages) == 7
    assert server.connections == 3  # 3 + 3 + 1


async def test_stale_connection_replaced_without_failing(make_server: MakeServer) -> None:
    server = make_server(idle_timeout=0.3)  # the server drops idle clients (421 + close)
    async with SmtpConnector(config_for(server)) as connector:
        await connector.send("a@example.org", "SignIn", {"code": "1"})
        await eventually(lambda: server.open_connections == 0)  # the server dropped it
        result = await connector.send("b@example.org", "SignIn", {"code": "2"})
    assert result.attempts == 1
    assert len(server.messages) == 2
    assert server.connections == 2


async def test_idle_timeout_closes_connections(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server, pool={"idleTimeout": 200})) as connector:
        await connector.send("a@example.org", "SignIn", {"code": "1"})
        assert server.open_connections == 1
        # The server never drops a client (idle_timeout 300 s): only the pool can close it.
        await eventually(lambda: server.open_connections == 0)
        await connector.send("b@example.org", "SignIn", {"code": "2"})
    assert server.connections == 2


async def test_rate_limit_spacing(make_server: MakeServer) -> None:
    server = make_server()
    config = config_for(server, rateLimit={"maxMessages": 2, "rateDelta": 400})
    async with SmtpConnector(config) as connector:
        started = time.monotonic()
        await send_n(connector, 6, concurrent=True)
        elapsed = time.monotonic() - started
    assert len(server.messages) == 6
    assert elapsed >= 0.8  # windows start at 0, 0.4 and 0.8 s


async def test_concurrency_cap(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server, pool={"maxConnections": 2})) as connector:
        await send_n(connector, 30, concurrent=True)
    assert len(server.messages) == 30
    assert server.peak_connections <= 2
    assert server.connections == 2


async def test_pipelining_used_when_offered(make_server: MakeServer) -> None:
    server = make_server(pipelining=True)
    async with SmtpConnector(config_for(server)) as connector:
        result = await connector.send(["a@example.org", "b@example.org"], "SignIn", {"code": "1"})
    assert result.pipelined is True
    (burst,) = server.command_chunks()
    assert burst.count(b"RCPT TO") == 2 and burst.endswith(b"DATA\r\n")
    assert server.messages[0].rcpt_tos == ["a@example.org", "b@example.org"]


async def test_pipelined_rejections_are_read_correctly(make_server: MakeServer) -> None:
    server = make_server(pipelining=True, reject_rcpt={"b@example.org": "550 5.1.1 unknown"})
    async with SmtpConnector(config_for(server)) as connector:
        result = await connector.send(["a@example.org", "b@example.org"], "SignIn", {"code": "1"})
        again = await connector.send("c@example.org", "SignIn", {"code": "2"})
    assert result.accepted == ["a@example.org"]
    assert result.rejected["b@example.org"][0] == 550
    assert again.accepted == ["c@example.org"]  # the session stayed in sync
    assert server.connections == 1


async def test_lockstep_when_pipelining_not_offered(make_server: MakeServer) -> None:
    server = make_server(pipelining=False)
    async with SmtpConnector(config_for(server)) as connector:
        result = await connector.send("a@example.org", "SignIn", {"code": "1"})
    assert result.pipelined is False
    (mail_chunk,) = server.command_chunks()
    assert b"RCPT" not in mail_chunk.upper()


async def test_pipelining_can_be_disabled(make_server: MakeServer) -> None:
    server = make_server(pipelining=True)
    async with SmtpConnector(config_for(server, pipelining=False)) as connector:
        result = await connector.send("a@example.org", "SignIn", {"code": "1"})
    assert result.pipelined is False


async def test_clean_shutdown_loses_nothing(make_server: MakeServer) -> None:
    server = make_server()
    connector = SmtpConnector(config_for(server, pool={"maxConnections": 3}))
    sends = asyncio.ensure_future(send_n(connector, 40, concurrent=True))
    await asyncio.sleep(0.05)
    await connector.aclose()  # drains in-flight sends before closing
    results = await sends
    assert len(results) == 40
    assert len(server.messages) == 40
    await eventually(lambda: server.open_connections == 0)  # the server saw every close


async def test_a_close_that_times_out_leaves_no_sender_behind() -> None:
    """`aclose` past its bound cancels the senders; the messages still queued must not start a
    new sender (and a new connection) behind its back: they fail, retryable, unsent."""

    dot = asyncio.Event()

    async def stall_after_dot(writer: asyncio.StreamWriter) -> None:
        dot.set()
        await asyncio.sleep(3600)  # the first message's reply never comes

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await smtp_dialogue(reader, writer, on_data_end=stall_after_dot)

    server = await ScriptedServer(script).start()
    config = config_for(
        server.port, pool={"maxConnections": 1}, retry={"attempts": 1, "deadline": 20000}
    )
    connector = SmtpConnector(config)
    try:
        sends = [
            asyncio.ensure_future(connector.send(f"u{i}@example.org", "SignIn", {"code": "1"}))
            for i in range(3)
        ]
        await settled(dot)  # the first is waiting for its reply, two are queued
        (pool,) = connector._backend._pools[asyncio.get_running_loop()].values()  # type: ignore[attr-defined]
        await pool.aclose(timeout=0.2)
        assert pool._senders == {}
        outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), timeout=5)
        assert all(isinstance(outcome, ConnectorError) for outcome in outcomes)
        first, *queued = outcomes
        assert first.stage == "after_data" and not first.retryable  # type: ignore[union-attr]
        assert all(error.retryable for error in queued)  # type: ignore[union-attr]
        await asyncio.sleep(0.2)  # a sender started behind the close would connect meanwhile
        assert server.connections == 1
    finally:
        await connector.aclose()
        await server.stop()


@pytest.mark.parametrize("pipelining", [True, False])
async def test_a_cancelled_sender_fails_unsent_messages_as_retryable(pipelining: bool) -> None:
    """A sender cancelled by a close that timed out: the message whose content went out may
    have been delivered (not retryable); one that never reached its content is safe to retry,
    with pipelining (its envelope rode on the first one's final dot) or lock-step (in MAIL)."""

    stalled = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted\r\n")
        messages = 0
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                writer.write(b"250-scripted\r\n250 PIPELINING\r\n" if pipelining else b"250 x\r\n")
            elif verb == b"MAIL" and messages and not pipelining:
                stalled.set()
                await asyncio.sleep(3600)  # the second message waits in MAIL
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                messages += 1
                if pipelining:
                    stalled.set()
                    await asyncio.sleep(3600)  # no reply to the dot, nor to what came with it
                writer.write(b"250 OK\r\n")
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    server = await ScriptedServer(script).start()
    config = config_for(server.port, pool={"maxConnections": 1}, retry={"attempts": 1})
    connector = SmtpConnector(config)
    try:
        sends = [
            asyncio.ensure_future(connector.send(f"u{i}@example.org", "SignIn", {"code": "1"}))
            for i in range(2)
        ]
        await settled(stalled)
        (pool,) = connector._backend._pools[asyncio.get_running_loop()].values()  # type: ignore[attr-defined]
        await pool.aclose(timeout=0.2)
        first, second = await asyncio.gather(*sends, return_exceptions=True)
        if pipelining:
            assert isinstance(first, ConnectorError) and first.stage == "after_data"
            assert not first.retryable
        else:
            assert not isinstance(first, BaseException)  # delivered before the stall
        assert isinstance(second, ConnectorError)
        assert second.retryable and second.stage != "after_data", second
    finally:
        await connector.aclose()
        await server.stop()


async def test_a_send_given_up_during_its_envelope_is_not_kept_in_flight() -> None:
    """The caller cancels while its pipelined envelope waits for 354: the connection is dropped
    (nothing sent) and the sender forgets the message (it kept it for the sender's life)."""

    at_data, given_up = asyncio.Event(), asyncio.Event()
    after_354: list[bytes] = []  # what the client wrote after the 354: nothing of the message

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted\r\n")
        while line := await reader.readline():
            if given_up.is_set():
                after_354.append(line)
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                writer.write(b"250-scripted\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                at_data.set()
                await given_up.wait()  # the caller gives up meanwhile
                writer.write(b"354 go ahead\r\n")
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    server = await ScriptedServer(script).start()
    connector = SmtpConnector(config_for(server.port, retry={"attempts": 1}))
    try:
        send = asyncio.ensure_future(connector.send("u@example.org", "SignIn", {"code": "1"}))
        await settled(at_data)  # the envelope is out, its replies withheld
        send.cancel()
        await asyncio.gather(send, return_exceptions=True)
        given_up.set()  # the 354, late, may reach a connection still open
        (pool,) = connector._backend._pools[asyncio.get_running_loop()].values()  # type: ignore[attr-defined]
        (sender,) = pool._senders
        await eventually(lambda: sender._in_flight == set())
        assert not [line for line in after_354 if line.upper().startswith(b"SUBJECT:")]
    finally:
        await connector.aclose()
        await server.stop()
