"""The test servers themselves: stop() cuts the sessions still open.

Since Python 3.12 `asyncio.Server.wait_closed()` waits for every open connection, so a test
server that left its sessions alone would hold each teardown for as long as its script sleeps
(and a timing assertion around it would measure the teardown instead of the send).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from restartable import RestartableServer
from smtp_servers import ScriptedServer, TestServer


async def test_scripted_server_stop_cuts_a_sleeping_session() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hello\r\n")
        await writer.drain()
        await asyncio.sleep(3600)  # silent "forever"

    server = await ScriptedServer(script).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        assert await reader.readline() == b"220 hello\r\n"
        async with asyncio.timeout(5):  # fails here instead of waiting out the script's sleep
            await server.stop()
            with contextlib.suppress(ConnectionResetError):  # a reset is a cut too
                assert await reader.read() == b""  # the server closed the connection
        assert server.sessions == set()
    finally:
        writer.close()


@pytest.mark.parametrize("kind", [TestServer, RestartableServer])
def test_aiosmtpd_server_stop_cuts_open_sessions(
    kind: type[TestServer | RestartableServer],
) -> None:
    server = kind().start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    in_data = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        for sock in (idle, in_data):
            assert sock.recv(1024).startswith(b"220")
        in_data.sendall(b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n")
        in_data.sendall(b"DATA\r\nSubject: half a message\r\n")
        server.stop()
        for sock in (idle, in_data):
            with contextlib.suppress(ConnectionResetError):  # a reset is a cut too
                while sock.recv(4096):  # replies to the commands above, then EOF
                    pass
    finally:
        idle.close()
        in_data.close()
    assert server.messages == []
