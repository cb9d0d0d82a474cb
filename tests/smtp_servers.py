"""Real SMTP servers for the tests: aiosmtpd on 127.0.0.1 (plain, STARTTLS, implicit TLS, AUTH
incl. CRAM-MD5 and XOAUTH2), and scripted raw servers for behaviours aiosmtpd cannot fake
(421 greeting, silence, dropping the connection mid-DATA or after the final dot).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_HANDED_OUT: set[tuple[str, int]] = set()
_HELD: list[socket.socket] = []


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A port for a server a test starts later. Never one this process handed out before: the
    kernel may give a just-released port again, and a server started on another test's "nothing
    listens here" port turned a failover test's dead primary into its live backup."""
    while True:
        with socket.socket(_family(host)) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if (host, port) not in _HANDED_OUT:
            _HANDED_OUT.add((host, port))
            return port


def dead_port(host: str = "127.0.0.1") -> int:
    """A port where connecting is refused for the rest of the run. The socket stays bound and
    never listens (a SYN to it is answered with a reset), so no server, in this process or in a
    `serve` it starts, can take the port while a test expects it dead."""
    sock = socket.socket(_family(host))
    sock.bind((host, 0))
    _HELD.append(sock)
    port: int = sock.getsockname()[1]
    _HANDED_OUT.add((host, port))
    return port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    peer: Any = None
    auth_login: Any = None


@dataclass
class Behaviour:
    """Knobs a test turns to make the server misbehave in a specific, real way."""

    reject_rcpt: dict[str, str] = field(default_factory=dict)  # address -> "550 ..."
    reject_sender: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)  # consumed one per DATA, then 250
    pipelining: bool = False
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    max_recipients: int | None = None
    ntlm: bool = False  # offer AUTH NTLM, checked by pyspnego against NTLM_USER_FILE
    ntlm_bindings: bytes | None = None  # the channel binding the NTLM acceptor insists on
    reject_every_data: int = 0  # n > 0: the n-th, 2n-th, ... message gets 550 after its dot
    reject_every_rcpt: int = 0  # n > 0: the n-th, 2n-th, ... RCPT gets 550


class RecordingHandler:
    """aiosmtpd handler that records what arrives and answers as `behaviour` says."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.messages: list[Received] = []
        self.ehlo_names: list[str] = []  # each EHLO/HELO argument, as the server got it
        self.auth_attempts: list[tuple[str, str]] = []  # (mechanism, login)
        self.lock = threading.Lock()
        self.rcpt_count = 0
        self.refused_rcpts: list[str] = []  # refused by reject_every_rcpt
        self.data_count = 0
        self.refused_data: list[bytes] = []  # contents refused by reject_every_data

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.ehlo_names.append(hostname)
        if self.behaviour.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.behaviour.reject_sender.get(address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.behaviour.reject_rcpt.get(address)
        if reply:
            return reply
        every = self.behaviour.reject_every_rcpt
        self.rcpt_count += 1
        if every and self.rcpt_count % every == 0:
            self.refused_rcpts.append(address)
            return "550 5.1.1 No such user (every n-th)"
        limit = self.behaviour.max_recipients
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.behaviour.data_replies:
            return self.behaviour.data_replies.pop(0)
        every = self.behaviour.reject_every_data
        self.data_count += 1
        if every and self.data_count % every == 0:
            self.refused_data.append(envelope.original_content or envelope.content)
            return "550 5.7.1 Message refused (every n-th)"
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    list(envelope.mail_options),
                    session.peer,
                    getattr(session.auth_data, "login", None),
                )
            )
        return "250 2.0.0 OK queued"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            password = auth_data.password.decode()
            self.auth_attempts.append((mechanism, login))
            ok = self.behaviour.users.get(login) == password
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        challenge = b"<12345.67890@test.local>"
        response = await server.challenge_auth(challenge)
        if not isinstance(response, bytes):
            return AuthResult(success=False, handled=True)
        login, _, digest = response.decode().partition(" ")
        self.auth_attempts.append(("CRAM-MD5", login))
        secret = self.behaviour.users.get(login)
        expected = hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest() if secret else None
        ok = expected is not None and hmac.compare_digest(expected, digest)
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(login.encode(), b""))

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Google's XOAUTH2: base64("user=U\\x01auth=Bearer T\\x01\\x01")."""
        blob = args[1] if len(args) > 1 else await server.challenge_auth("")
        raw = base64.b64decode(blob).decode() if isinstance(blob, str | bytes) else ""
        fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
        login, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        self.auth_attempts.append(("XOAUTH2", login))
        ok = self.behaviour.tokens.get(token) == login
        if not ok:
            error = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
            await server.push(f"334 {error}")
            await server._reader.readline()
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, handled=False, auth_data=LoginPassword(login.encode(), b""))


class NtlmHandler(RecordingHandler):
    """Also offers AUTH NTLM (MS-SMTPNTLM): pyspnego's acceptor checks the client's answers
    against the `DOMAIN:user:password` lines of the file `NTLM_USER_FILE` names."""

    async def auth_NTLM(self, server: SMTP, args: list[str]) -> AuthResult:
        import spnego
        from spnego.channel_bindings import GssChannelBindings

        bindings = self.behaviour.ntlm_bindings
        acceptor = spnego.server(
            protocol="ntlm",
            channel_bindings=GssChannelBindings(application_data=bindings) if bindings else None,
        )
        first = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        try:
            answer = await server.challenge_auth(acceptor.step(first) or b"")
            if not isinstance(answer, bytes):  # the client cancelled with "*"
                raise spnego.exceptions.InvalidTokenError(context_msg="cancelled")
            acceptor.step(answer)
        except spnego.exceptions.SpnegoError as error:
            self.auth_attempts.append(("NTLM", f"refused: {type(error).__name__}"))
            return AuthResult(success=False, handled=False)
        principal = acceptor.client_principal or ""
        self.auth_attempts.append(("NTLM", principal))
        return AuthResult(
            success=True, handled=False, auth_data=LoginPassword(principal.encode(), b"")
        )


class _RecordingSMTP(SMTP):
    """Counts connections and records raw chunks (to see whether commands were pipelined)."""

    def __init__(self, *args: Any, recorder: TestServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._recorder.connections += 1
        self._recorder.open_connections += 1
        self._recorder.peak_connections = max(
            self._recorder.peak_connections, self._recorder.open_connections
        )
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._recorder.open_connections -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._recorder.chunks.append(data)
        super().data_received(data)


class _Controller(Controller):
    def __init__(self, handler: RecordingHandler, recorder: TestServer, **kwargs: Any) -> None:
        self._recorder = recorder
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        return _RecordingSMTP(self.handler, recorder=self._recorder, **self.SMTP_kwargs)


class TestServer:
    """An aiosmtpd server on 127.0.0.1 with a recording handler."""

    __test__ = False

    def __init__(
        self,
        *,
        mode: str = "plain",
        server_context: ssl.SSLContext | None = None,
        behaviour: Behaviour | None = None,
        auth_required: bool = False,
        require_starttls: bool = False,
        idle_timeout: float = 300,
        host: str = "127.0.0.1",
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        handler = NtlmHandler if self.behaviour.ntlm else RecordingHandler
        self.handler = handler(self.behaviour)
        self.host = host
        self.port = free_port(host)
        self.connections = 0
        self.open_connections = 0
        self.peak_connections = 0
        self.chunks: list[bytes] = []
        kwargs: dict[str, Any] = {
            "hostname": host,
            "port": self.port,
            "authenticator": self.handler.authenticator,
            "auth_required": auth_required,
            "auth_require_tls": False,
            "enable_SMTPUTF8": True,
            "ready_timeout": 10,
            "timeout": idle_timeout,
        }
        if mode == "implicit":
            kwargs["ssl_context"] = server_context
        elif mode == "starttls":
            kwargs["tls_context"] = server_context
            kwargs["require_starttls"] = require_starttls
        self.controller = _Controller(self.handler, self, **kwargs)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> TestServer:
        self.controller.start()
        # aiosmtpd's Controller opens one connection itself to check the server is up.
        self.connections = 0
        self.peak_connections = 0
        self.chunks.clear()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def command_chunks(self) -> list[bytes]:
        return [c for c in self.chunks if b"MAIL FROM" in c.upper()]


async def stop_raw_server(server: asyncio.AbstractServer, sessions: set[asyncio.Task[Any]]) -> None:
    """Stop a raw asyncio server at once: stop listening, cut every session still open, then
    wait until the server is closed.

    Since Python 3.12 `Server.wait_closed()` also waits for every open client connection, so a
    session still inside a scripted `sleep(60)` would hold the teardown for a minute. Each
    session task must catch `CancelledError` and abort its transport (see `ScriptedServer`).
    """
    server.close()
    for task in sessions:
        task.cancel()
    await asyncio.gather(*sessions, return_exceptions=True)
    await server.wait_closed()


@dataclass
class ScriptedServer:
    """A raw TCP server in the test's own loop, answering per `script(reader, writer)`.
    `stop()` cuts the sessions still running (a script that sleeps stands for silence)."""

    script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]
    port: int = 0
    server: asyncio.AbstractServer | None = None
    connections: int = 0
    ssl_context: ssl.SSLContext | None = None
    sessions: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> ScriptedServer:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            task = asyncio.current_task()
            assert task is not None
            self.sessions.add(task)
            try:
                await self.script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            except asyncio.CancelledError:  # stop(): cut the connection, no TLS goodbye
                writer.transport.abort()
            finally:
                self.sessions.discard(task)
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await stop_raw_server(self.server, self.sessions)


async def smtp_dialogue(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    greeting: str = "220 scripted ESMTP",
    on_data_end: Callable[[asyncio.StreamWriter], Any] | None = None,
    close_in_data: bool = False,
    pipelining: bool = False,
    mail_reply: bytes | None = None,
    received: list[bytes] | None = None,
) -> None:
    """A minimal, honest SMTP server loop with hooks for the failure being tested:
    `mail_reply` answers MAIL (any bytes, malformed too), `on_data_end` the final dot;
    `received` collects each message's content (the DATA lines) as it arrives."""
    writer.write(f"{greeting}\r\n".encode())
    await writer.drain()
    if not greeting.startswith("220"):
        return
    extensions = b"250-PIPELINING\r\n" if pipelining else b""
    while line := await reader.readline():
        verb = line.strip().split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-scripted\r\n" + extensions + b"250 SIZE 1000000\r\n")
        elif verb == b"MAIL" and mail_reply is not None:
            writer.write(mail_reply)
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            if close_in_data:
                await reader.readline()
                return
            content = b""
            while (data_line := await reader.readline()) not in (b".\r\n", b""):
                content += data_line
            if received is not None:
                received.append(content)
            if on_data_end is not None:
                await on_data_end(writer)
                return
            writer.write(b"250 OK\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()


MakeServer = Callable[..., TestServer]


PASSWORD = "s3cr3t-Passw0rd!"
USER = "mailer@example.com"


def config_for(server: TestServer | int, **overrides: Any) -> dict[str, Any]:
    """A Logto-shaped config pointing at a local test server."""
    port = server if isinstance(server, int) else server.port
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": "noreply@example.com",
        "templates": [],
        "connectionTimeout": 5000,
        "greetingTimeout": 5000,
        "socketTimeout": 5000,
        "retry": {"attempts": 1},
    }
    config.update(overrides)
    return config


# -- hostile servers for the security tests ------------------------------------------------


@dataclass
class StarttlsStripper:
    """A man in the middle between the client and an honest STARTTLS server: it relays both
    ways but deletes STARTTLS from every EHLO reply, and records every byte the client sends.
    Against a client that does not insist on TLS, the credentials cross it in clear."""

    upstream_port: int
    from_client: bytearray = field(default_factory=bytearray)
    server: ScriptedServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def start(self) -> StarttlsStripper:
        self.server = await ScriptedServer(self._relay).start()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, record=True),
                self._pump(up_reader, writer, record=False),
            )
        finally:
            up_writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, record: bool
    ) -> None:
        while line := await source.readline():
            if record:
                self.from_client.extend(line)
            elif line[4:].strip().upper() == b"STARTTLS":
                continue  # the strip; a last line "250 STARTTLS" never comes from aiosmtpd
            sink.write(line)
            await sink.drain()
        sink.close()


async def endless_reply_dialogue(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, pipelining: bool
) -> None:
    """Greets and answers EHLO honestly, then answers MAIL with a reply line that never ends."""
    writer.write(b"220 endless ESMTP\r\n")
    await writer.drain()
    while line := await reader.readline():
        verb = line.strip().split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            extensions = b"250-PIPELINING\r\n" if pipelining else b""
            writer.write(b"250-endless\r\n" + extensions + b"250 SIZE 1000000\r\n")
            await writer.drain()
        elif verb == b"MAIL":
            writer.write(b"250 ")
            chunk = b"x" * 65536
            while True:  # until the client hangs up
                writer.write(chunk)
                await writer.drain()
        else:
            writer.write(b"250 OK\r\n")
            await writer.drain()


async def echoing_auth_dialogue(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: bytearray
) -> None:
    """An AUTH that fails with a 535 quoting back everything the client sent for it (some
    servers do exactly this), base64 included."""
    writer.write(b"220 echo ESMTP\r\n")
    await writer.drain()
    while line := await reader.readline():
        received.extend(line)
        verb = line.strip().split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-echo\r\n250 AUTH PLAIN LOGIN\r\n")
        elif verb == b"AUTH" and line.split()[1].upper() == b"LOGIN":
            writer.write(b"334 UGFzc3dvcmQ6\r\n")
            await writer.drain()
            answer = await reader.readline()
            received.extend(answer)
            writer.write(
                b"535 5.7.8 bad credentials " + line.strip() + b" " + answer.strip() + b"\r\n"
            )
        elif verb == b"AUTH":
            writer.write(b"535 5.7.8 bad credentials: " + line.strip() + b"\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()


LENIENT_LINE = re.compile(rb"\r\n|\r|\n")


async def lenient_dialogue(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transactions: list[bytes]
) -> None:
    """A server that, like those SMTP smuggling exploits, takes a bare CR or LF as a line end:
    it ends a message at the first line that is a lone "." under that reading, and then runs
    whatever follows as commands. Each message it accepts is appended to `transactions`."""
    writer.write(b"220 lenient ESMTP\r\n")
    await writer.drain()
    buffer, in_data, message = b"", False, b""
    while chunk := await reader.read(65536):
        buffer += chunk
        *lines, buffer = LENIENT_LINE.split(buffer)
        for line in lines:
            if in_data:
                if line == b".":
                    transactions.append(message)
                    in_data, message = False, b""
                    writer.write(b"250 OK queued\r\n")
                else:
                    message += line + b"\n"
                continue
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-lenient\r\n250 SIZE 1000000\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            elif verb:
                writer.write(b"250 OK\r\n")
        await writer.drain()
