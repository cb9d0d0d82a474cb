"""Chained pipelined transactions: the final dot of one message leaves with the next message's
MAIL/RCPT/DATA. Real servers refuse every third message or recipient, or hang up right after a
final dot; each send's result must be its own, and the servers' records show nothing lost and
nothing sent twice."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest
from smtp_servers import MakeServer, ScriptedServer, TestServer, config_for, smtp_dialogue

from smtp_connector import ConnectorError, ErrorCode, SendRequest, SendResult, SmtpConnector
from smtp_connector.delivery.checkpoint import before_message_data

TEMPLATE = {
    "usageType": "Generic",
    "contentType": "text/plain",
    "subject": "Your code",
    "content": "Request {{code}}",
}
REQUEST = re.compile(rb"Request (\d{6})")
COUNT = 30


def chain_config(port: int, connections: int = 2, **overrides: Any) -> dict[str, Any]:
    return config_for(port, templates=[TEMPLATE], pool={"maxConnections": connections}) | overrides


def requests(count: int = COUNT) -> list[SendRequest]:
    return [
        SendRequest(to=f"user{i}@example.org", payload={"code": f"{i:06d}"}) for i in range(count)
    ]


def numbers(contents: list[bytes]) -> Counter[int]:
    found: Counter[int] = Counter()
    for content in contents:
        match = REQUEST.search(content)
        assert match is not None
        found[int(match.group(1))] += 1
    return found


def chained_bursts(server: TestServer) -> int:
    """Writes in which a final dot and the next MAIL FROM arrived together."""
    return sum(b".\r\nMAIL FROM:" in chunk for chunk in server.chunks)


async def test_every_third_message_refused_at_end_of_data(make_server: MakeServer) -> None:
    server = make_server(pipelining=True, reject_every_data=3)
    async with SmtpConnector(chain_config(server.port)) as connector:
        outcomes = await connector.send_many(requests(), concurrency=6)

    accepted = numbers([m.content for m in server.messages])
    refused = numbers(server.handler.refused_data)
    assert len(refused) == COUNT // 3
    assert sum(accepted.values()) + sum(refused.values()) == COUNT  # each arrived once
    assert set(accepted) | set(refused) == set(range(COUNT))
    for index, outcome in enumerate(outcomes):
        if index in refused:
            assert isinstance(outcome, ConnectorError), index
            assert outcome.code is ErrorCode.MESSAGE_REJECTED
            assert outcome.smtp_code == 550 and outcome.stage == "data"
            assert outcome.attempts == 1
        else:
            assert isinstance(outcome, SendResult), (index, outcome)
            assert outcome.pipelined and outcome.smtp_code == 250
    assert chained_bursts(server) > 0  # the dots really rode with the next envelopes
    assert server.connections == 2  # a refusal after the dot keeps the connection


async def test_every_third_recipient_refused(make_server: MakeServer) -> None:
    server = make_server(pipelining=True, reject_every_rcpt=3)
    async with SmtpConnector(chain_config(server.port)) as connector:
        outcomes = await connector.send_many(requests(), concurrency=6)

    refused = set(server.handler.refused_rcpts)
    received = numbers([m.content for m in server.messages])
    assert len(refused) == COUNT // 3
    assert sum(received.values()) == COUNT - len(refused)  # nothing twice
    for index, outcome in enumerate(outcomes):
        address = f"user{index}@example.org"
        if address in refused:
            assert isinstance(outcome, ConnectorError), index
            assert outcome.code is ErrorCode.RECIPIENT_REJECTED
            assert outcome.smtp_code == 550
            assert index not in received
        else:
            assert isinstance(outcome, SendResult), (index, outcome)
            assert outcome.accepted == [address]
            assert received[index] == 1
    assert chained_bursts(server) > 0


async def test_checkpoint_runs_per_message_before_its_content(make_server: MakeServer) -> None:
    """Each chained message still awaits its own checkpoint after its 354 and before its
    content; a refusing checkpoint stops that message only."""
    server = make_server(pipelining=True)
    seen: list[int] = []
    already_there: list[int] = []

    async def send(connector: SmtpConnector, index: int) -> SendResult | ConnectorError:
        async def checkpoint() -> None:
            seen.append(index)
            if index in numbers([m.content for m in server.messages]):
                already_there.append(index)
            if index == 7:
                raise RuntimeError("database is down")

        with before_message_data(checkpoint):
            try:
                return await connector.send(
                    f"user{index}@example.org", payload={"code": f"{index:06d}"}
                )
            except ConnectorError as error:
                return error

    async with SmtpConnector(chain_config(server.port, connections=1)) as connector:
        outcomes = await asyncio.gather(*(send(connector, i) for i in range(COUNT)))

    assert sorted(seen) == list(range(COUNT))  # once each
    assert already_there == []
    refused = outcomes[7]
    assert isinstance(refused, ConnectorError) and refused.stage == "data"
    assert refused.code is ErrorCode.MESSAGE_REJECTED
    received = numbers([m.content for m in server.messages])
    assert received == Counter(i for i in range(COUNT) if i != 7)
    assert all(isinstance(o, SendResult) for i, o in enumerate(outcomes) if i != 7)
    assert chained_bursts(server) > 0


class HangUpAfterDot:
    """An SMTP server offering PIPELINING that, at the `fatal`-th final dot it reads (over all
    connections), stores the message and hangs up without answering."""

    def __init__(self, fatal: int) -> None:
        self.fatal = fatal
        self.dots = 0
        self.stored: list[bytes] = []
        self.chained_at_hang_up = False

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-scripted\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                if not await self._message(reader):
                    writer.transport.abort()
                    return
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    async def _message(self, reader: asyncio.StreamReader) -> bool:
        """Read one message; False when this is the dot to hang up at."""
        content = b""
        while (line := await reader.readline()) not in (b".\r\n", b""):
            content += line
        self.stored.append(content)
        self.dots += 1
        if self.dots != self.fatal:
            return True
        await asyncio.sleep(0.05)  # let the next envelope, written with the dot, arrive
        self.chained_at_hang_up = b"MAIL FROM:" in bytes(reader._buffer)  # type: ignore[attr-defined]
        return False


async def test_lost_reply_after_a_dot_is_unknown_for_that_message_only() -> None:
    script = HangUpAfterDot(fatal=5)
    server = await ScriptedServer(script).start()
    try:
        config = chain_config(server.port, connections=1, retry={"attempts": 3, "initialDelay": 10})
        async with SmtpConnector(config) as connector:
            outcomes = await connector.send_many(requests(12), concurrency=4)
    finally:
        await server.stop()

    assert script.chained_at_hang_up  # the next message's envelope was in the same write
    received = numbers(script.stored)
    assert received == Counter(range(12))  # all there, none twice (the unknown one not resent)
    failed = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, ConnectorError)]
    assert len(failed) == 1
    index, error = failed[0]
    assert error.stage == "after_data" and error.code is ErrorCode.CONNECTION_FAILED
    assert numbers(script.stored[4:5]) == Counter([index])  # it is the fifth message
    assert all(o.attempts == 1 for o in outcomes if isinstance(o, SendResult))
    assert server.connections == 2


class Fragmenting:
    """An SMTP server offering PIPELINING whose replies are multi-line and leave one byte per
    write, so the client's parser sees every reply cut at every possible point."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._say(writer, b"220-fragmenting\r\n220 ESMTP\r\n")
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                await self._say(writer, b"250-fragmenting\r\n250-PIPELINING\r\n250 SIZE 100000\r\n")
            elif verb == b"DATA":
                await self._say(writer, b"354 go ahead\r\n")
                content = b""
                while (line := await reader.readline()) not in (b".\r\n", b""):
                    content += line
                self.stored.append(content)
                await self._say(
                    writer, b"250-2.0.0 queued as\r\n250 2.0.0 X%d\r\n" % len(self.stored)
                )
            elif verb == b"QUIT":
                await self._say(writer, b"221 bye\r\n")
                return
            else:
                await self._say(writer, b"250-2.1.0 fine\r\n250 2.1.0 OK\r\n")

    @staticmethod
    async def _say(writer: asyncio.StreamWriter, reply: bytes) -> None:
        for index in range(len(reply)):
            writer.write(reply[index : index + 1])
            await writer.drain()


async def test_replies_in_pieces_and_on_several_lines() -> None:
    script = Fragmenting()
    server = await ScriptedServer(script).start()
    try:
        async with SmtpConnector(chain_config(server.port, connections=1)) as connector:
            outcomes = await connector.send_many(requests(8), concurrency=3)
    finally:
        await server.stop()
    assert numbers(script.stored) == Counter(range(8))
    for index, outcome in enumerate(outcomes):
        assert isinstance(outcome, SendResult), outcome
        assert outcome.response.endswith(f"X{index + 1}")  # one connection, in order
        assert outcome.response.startswith("2.0.0 queued as\n")


async def test_lockstep_server_takes_concurrent_sends_one_at_a_time(
    make_server: MakeServer,
) -> None:
    server = make_server(pipelining=False, reject_every_data=4)
    async with SmtpConnector(chain_config(server.port)) as connector:
        outcomes = await connector.send_many(requests(12), concurrency=6)
    refused = numbers(server.handler.refused_data)
    received = numbers([m.content for m in server.messages])
    assert sum(refused.values()) == 3 and sum(received.values()) == 9
    assert set(refused) | set(received) == set(range(12))
    for index, outcome in enumerate(outcomes):
        assert isinstance(outcome, ConnectorError if index in refused else SendResult)
        if isinstance(outcome, SendResult):
            assert outcome.pipelined is False
    assert all(b"RCPT" not in chunk.upper() for chunk in server.command_chunks())


async def silent_after_first_dot(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Offers PIPELINING, takes one message and then never answers its final dot."""
    await smtp_dialogue(
        reader, writer, pipelining=True, on_data_end=lambda writer: asyncio.sleep(3600)
    )


async def test_queued_message_ends_at_its_deadline_behind_a_hung_one() -> None:
    """One connection, hung after a message's dot: that message times out as "delivery
    unknown"; the one queued behind it times out before ever reaching its content."""
    server = await ScriptedServer(silent_after_first_dot).start()
    try:
        config = chain_config(
            server.port, connections=1, socketTimeout=30_000, retry={"attempts": 1, "deadline": 400}
        )
        async with SmtpConnector(config) as connector:
            first, second = await asyncio.gather(
                connector.send("a@example.org", payload={"code": "000001"}),
                connector.send("b@example.org", payload={"code": "000002"}),
                return_exceptions=True,
            )
    finally:
        await server.stop()
    assert isinstance(first, ConnectorError) and isinstance(second, ConnectorError)
    assert (first.code, first.stage) == (ErrorCode.TIMEOUT, "after_data")
    assert second.code is ErrorCode.TIMEOUT and second.stage in ("connect", "mail")


def answering_mail_with(reply: bytes) -> Any:
    """A pipelining server that answers MAIL with `reply` (and everything else honestly)."""

    async def dialogue(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await smtp_dialogue(reader, writer, pipelining=True, mail_reply=reply)

    return dialogue


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"hello there\r\n", "Malformed"),
        (b"25O OK\r\n", "Malformed"),
        (b"250 " + b"x" * 10_000 + b"\r\n", "too long"),  # a whole line, over aiosmtplib's cap
    ],
    ids=["no-code", "letter-in-code", "overlong-line"],
)
async def test_invalid_reply_in_a_burst_fails_the_send_cleanly(reply: bytes, words: str) -> None:
    server = await ScriptedServer(answering_mail_with(reply)).start()
    try:
        async with SmtpConnector(chain_config(server.port, connections=1)) as connector:
            with pytest.raises(ConnectorError) as info:
                await connector.send("user@example.org", payload={"code": "000001"})
    finally:
        await server.stop()
    assert info.value.code is ErrorCode.CONNECTION_FAILED
    assert words in info.value.message and info.value.smtp_code is None


async def test_after_a_chain_the_connection_answers_lock_step_commands_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chain hands the protocol back after each burst (its burst mode reset, as
    `exchange` resets it): the pool's QUIT at close reads its 221 at once, where a protocol
    left in burst mode would keep the reply from aiosmtplib and the QUIT would wait out its
    bound (set to 30 s here, past the test's own 10 s)."""
    from smtp_connector.delivery import session

    monkeypatch.setattr(session, "QUIT_TIMEOUT_S", 30.0)
    quits: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    writer.write(b"250 queued\r\n")
                continue
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                writer.write(b"250-scripted\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                quits.append(line)
                writer.write(b"221 bye\r\n")
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    server = await ScriptedServer(script).start()
    config = {"host": "127.0.0.1", "port": server.port, "fromEmail": "a@example.com",
              "ignoreTLS": True, "pool": {"maxConnections": 1}}  # fmt: skip
    try:
        connector = SmtpConnector(config)
        requests = [{"to": f"u{i}@example.org", "payload": {"code": "1"}} for i in range(3)]
        results = await asyncio.wait_for(connector.send_many(requests, concurrency=3), 10)
        assert all(isinstance(result, SendResult) for result in results), results
        await asyncio.wait_for(connector.aclose(), 10)
        assert quits == [b"QUIT\r\n"]
    finally:
        await server.stop()


class LaxDataAfterRefusal:
    """A server offering PIPELINING that refuses some recipients (550) yet answers DATA with 354
    even when it refused every one (RFC 2920 asks for 554 there; not every server does), and
    keeps whatever content it is given."""

    def __init__(self, refuse: set[bytes]) -> None:
        self.refuse = refuse
        self.stored: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 lax ESMTP\r\n")
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                writer.write(b"250-lax\r\n250-PIPELINING\r\n250 SIZE 100000\r\n")
            elif verb == b"RCPT":
                refused = any(address in line for address in self.refuse)
                writer.write(b"550 5.1.1 No such user\r\n" if refused else b"250 OK\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                content = b""
                while (data_line := await reader.readline()) not in (b".\r\n", b""):
                    content += data_line
                self.stored.append(content)
                writer.write(b"250 OK\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:  # MAIL, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()


async def test_a_refused_only_recipient_gets_no_content_though_data_says_354() -> None:
    """Chained sends where every third message's only recipient is refused: each of those
    fails with the server's 550 and none of their content reaches the server (the DATA the
    server opened is ended at once with the lone dot RFC 2920 asks for: an empty message to
    nobody), and every other message is delivered once."""
    refused = {f"user{i}@example.org".encode() for i in range(0, 12, 3)}
    script = LaxDataAfterRefusal(refused)
    server = await ScriptedServer(script).start()
    try:
        async with SmtpConnector(chain_config(server.port, connections=1)) as connector:
            outcomes = await connector.send_many(requests(12), concurrency=4)
    finally:
        await server.stop()
    for i, outcome in enumerate(outcomes):
        if i % 3 == 0:
            assert isinstance(outcome, ConnectorError), (i, outcome)
            assert outcome.code is ErrorCode.RECIPIENT_REJECTED and outcome.smtp_code == 550
        else:
            assert isinstance(outcome, SendResult), (i, outcome)
    delivered = [content for content in script.stored if content]
    assert numbers(delivered) == Counter(i for i in range(12) if i % 3)
    assert len(script.stored) - len(delivered) == 4  # one empty DATA per refused message
