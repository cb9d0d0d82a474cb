"""One SMTP session on aiosmtplib: resolve, connect, greet, STARTTLS, AUTH, then deliver messages.

Each step has its own timeout (Logto's dnsTimeout / connectionTimeout / greetingTimeout /
socketTimeout) and its own name, so a failure says where it happened and `verify` can print
each step with its timing. Delivery uses ESMTP PIPELINING (RFC 2920) when the server offers it:
MAIL, RCPT and DATA leave in one write and the message needs two round trips instead of
three-plus-one-per-recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse

from .config import ServerSettings
from .error_mapping import map_exception
from .errors import ConnectorError, ErrorCode
from .oauth import TokenSource

T = TypeVar("T")
TLS_PROBE_DELAY_S = 1.0
TLS_PROBE_TIMEOUT_S = 3.0
QUIT_TIMEOUT_S = 2.0
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


@dataclass
class Step:
    """One step of opening a session and how long it took (for `verify` output)."""

    name: str
    seconds: float
    detail: str = ""


@dataclass
class Delivery:
    """What the server answered for one message."""

    accepted: list[str]
    rejected: dict[str, tuple[int, str]]
    response: str
    smtp_code: int
    pipelined: bool = False


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, plus a mode that collects every reply of a burst.

    The base protocol keeps one pending reply and drops data that arrives while it is unread,
    which is right for lock-step but loses replies to pipelined commands. In burst mode replies
    are parsed as they arrive and one future completes when all of them are in.
    """

    _burst: asyncio.Future[list[SMTPResponse]] | None = None
    _burst_replies: list[SMTPResponse]
    _burst_expected = 0

    def data_received(self, data: bytes) -> None:
        burst = self._burst
        if burst is None:
            super().data_received(data)
            return
        self._buffer.extend(data)
        while not burst.done():
            try:
                response = self._read_response_from_buffer()
            except Exception as exc:  # malformed reply: surface it to the waiting sender
                burst.set_exception(exc)
                return
            if response is None:
                return
            self._burst_replies.append(response)
            if len(self._burst_replies) == self._burst_expected:
                burst.set_result(self._burst_replies)

    def _fail_burst(self, message: str) -> None:
        if self._burst is not None and not self._burst.done():
            self._burst.set_exception(aiosmtplib.SMTPServerDisconnected(message))

    def eof_received(self) -> bool:
        self._fail_burst("Unexpected EOF received")
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_burst("Connection lost")
        super().connection_lost(exc)

    async def exchange(
        self, data: bytes, replies: int, timeout: float | None
    ) -> list[SMTPResponse]:
        """Write `data` (several commands) at once and read `replies` replies in order.

        The timeout is a timer on the future rather than `asyncio.wait_for`, which would cost
        an extra event-loop iteration per exchange on the latency-critical path.
        """
        burst: asyncio.Future[list[SMTPResponse]] = self._loop.create_future()
        self._burst, self._burst_replies, self._burst_expected = burst, [], replies
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, burst)
        try:
            self.write(data)
            return await burst
        finally:
            if timer is not None:
                timer.cancel()
            self._burst = None


def _expire(burst: asyncio.Future[list[SMTPResponse]]) -> None:
    if not burst.done():
        error = aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        burst.set_exception(error)


def _ehlo_name(configured: str | None) -> str:
    """`name` from the config, else this host's name if it is a plain ASCII label."""
    if configured:
        return configured
    host = socket.gethostname()
    return host if host.isascii() and host and " " not in host else "localhost"


@dataclass
class SessionOptions:
    """Per-connector switches that are not part of one server's settings."""

    ssl_context: ssl.SSLContext
    token_source: TokenSource | None = None
    pipelining: bool = True
    refuse_private_hosts: bool = False


@dataclass
class SmtpSession:
    """An open, authenticated SMTP connection that delivers one message at a time."""

    server: ServerSettings
    options: SessionOptions
    steps: list[Step] = field(default_factory=list)
    messages_sent: int = 0
    opened_at: float = 0.0
    last_used: float = 0.0
    _smtp: aiosmtplib.SMTP | None = None
    _stage: str = "connect"
    _deadline: float | None = None

    @property
    def name(self) -> str:
        return self.server.address

    @property
    def alive(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def open(self) -> list[Step]:
        """Connect, greet, upgrade to TLS, authenticate. Raises `ConnectorError`."""
        try:
            await self._open()
        except BaseException as exc:
            self._abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise self._map(exc) from None
        self.opened_at = self.last_used = time.monotonic()
        return self.steps

    async def _open(self) -> None:
        server = self.server
        self._stage = "connect"
        infos = await self._timed("dns", self._resolve(), server.dns_timeout)
        sock = await self._timed("connect", self._connect_any(infos), None)
        self._smtp = aiosmtplib.SMTP(
            hostname=server.tls_server_name,
            local_hostname=_ehlo_name(server.name),
            timeout=server.socket_timeout / 1000,
            use_tls=server.implicit_tls,
            start_tls=False,
            tls_context=self.options.ssl_context,
        )
        self._stage = "tls" if server.implicit_tls else "greeting"
        greeting = "tls+greeting" if server.implicit_tls else "greeting"
        await self._timed(greeting, self._greet(sock, infos[0][4]), None)
        self._smtp.protocol.__class__ = PipeliningProtocol  # same layout; adds queued replies
        self._stage = "ehlo"
        await self._timed("ehlo", self._smtp.ehlo(), None)
        await self._maybe_starttls()
        await self._maybe_auth()

    async def _timed(self, name: str, awaitable: Awaitable[T], timeout_ms: int | None) -> T:
        """Await one opening step, recording how long it took (and bounding it if asked)."""
        start = time.perf_counter()
        if timeout_ms is None:
            result = await awaitable
        else:
            result = await asyncio.wait_for(awaitable, timeout_ms / 1000)
        self.steps.append(Step(name, time.perf_counter() - start))
        return result

    async def _resolve(self) -> list[tuple]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self.server.host, self.server.effective_port, type=socket.SOCK_STREAM
        )
        if self.options.refuse_private_hosts:
            _refuse_private(infos, self.name)
        return infos

    async def _connect_any(self, infos: list[tuple]) -> socket.socket:
        """TCP connect to the first address that answers within connectionTimeout."""
        loop = asyncio.get_running_loop()
        last_error: BaseException | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                if self.server.local_address:
                    sock.bind((self.server.local_address, 0))
                await asyncio.wait_for(
                    loop.sock_connect(sock, address), self.server.connection_timeout / 1000
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
                sock.close()
                last_error = exc
        assert last_error is not None
        raise last_error

    async def _greet(self, sock: socket.socket, address: tuple) -> None:
        """Wait for the 220 greeting. A silent server on a plain session may be an implicit-TLS
        port: after a short wait a side connection checks whether it speaks TLS, so that mistake
        fails in about a second instead of after greetingTimeout."""
        assert self._smtp is not None
        timeout = self.server.greeting_timeout / 1000
        connecting = asyncio.ensure_future(self._smtp.connect(sock=sock, timeout=timeout))
        if not self.server.implicit_tls and timeout > TLS_PROBE_DELAY_S:
            done, _ = await asyncio.wait({connecting}, timeout=TLS_PROBE_DELAY_S)
            if not done and await self._probe_while_waiting(connecting, address):
                connecting.cancel()
                raise ConnectorError(
                    ErrorCode.TLS_FAILED,
                    f"{self.name} sent no SMTP greeting but answers a TLS handshake: port "
                    f"{self.server.effective_port} expects implicit TLS. Set `secure: true` "
                    "(or use the provider's STARTTLS port, usually 587).",
                    server=self.name,
                    retryable=False,
                    stage="greeting",
                )
        await connecting

    async def _probe_while_waiting(
        self, connecting: asyncio.Future[object], address: tuple
    ) -> bool:
        """Run the TLS probe beside the greeting wait; True only if the probe saw TLS before the
        greeting arrived (the greeting timeout still bounds the whole wait)."""
        probe = asyncio.ensure_future(_speaks_tls(address, self.server.tls_server_name))
        done, _ = await asyncio.wait({connecting, probe}, return_when=asyncio.FIRST_COMPLETED)
        if probe in done and not connecting.done():
            return probe.result()
        probe.cancel()
        return False

    async def _maybe_starttls(self) -> None:
        smtp, server = self._smtp, self.server
        assert smtp is not None
        if server.implicit_tls or server.ignore_tls:
            return
        if not smtp.supports_extension("starttls"):
            if server.require_tls:
                raise ConnectorError(
                    ErrorCode.TLS_FAILED,
                    f"{self.name} does not offer STARTTLS but `requireTLS` is set; use the "
                    "provider's TLS port (465 with `secure: true`) or drop `requireTLS`.",
                    server=self.name,
                    retryable=False,
                    stage="tls",
                )
            return
        self._stage = "tls"
        await self._timed(
            "starttls",
            smtp.starttls(
                server_hostname=server.tls_server_name, tls_context=self.options.ssl_context
            ),
            None,
        )
        self._stage = "ehlo"
        await smtp.ehlo()

    async def _maybe_auth(self) -> None:
        auth = self.server.auth
        if not auth.enabled:
            return
        smtp = self._smtp
        assert smtp is not None
        self._stage = "auth"
        if not smtp.supports_extension("auth"):
            raise ConnectorError(
                ErrorCode.AUTH_FAILED,
                f"{self.name} offers no AUTH"
                + ("" if smtp.get_transport_info("sslcontext") else " on an unencrypted session")
                + "; credentials are configured but cannot be used (check port/TLS settings, or"
                " remove `auth` for an IP-authorised relay).",
                server=self.name,
                retryable=False,
                stage="auth",
            )
        method = "XOAUTH2" if auth.type == "oauth2" else (auth.method or "auto")
        await self._timed(f"auth ({method})", self._authenticate(method), None)

    async def _authenticate(self, method: str) -> None:
        smtp, auth = self._smtp, self.server.auth
        assert smtp is not None and auth.user is not None
        if method == "XOAUTH2":
            await self._xoauth2()
        elif method == "PLAIN":
            await smtp.auth_plain(auth.user, auth.password or "")
        elif method == "LOGIN":
            await smtp.auth_login(auth.user, auth.password or "")
        elif method == "CRAM-MD5":
            await smtp.auth_crammd5(auth.user, auth.password or "")
        else:
            await smtp.login(auth.user, auth.password or "")

    async def _xoauth2(self) -> None:
        """XOAUTH2 with the cached token; on rejection refresh once and try again."""
        smtp, source, user = self._smtp, self.options.token_source, self.server.auth.user
        assert smtp is not None and source is not None and user is not None
        try:
            await smtp.auth_xoauth2(user, await source.token())
        except aiosmtplib.SMTPAuthenticationError:
            if not source.can_refresh:
                raise
            source.invalidate()
            await smtp.auth_xoauth2(user, await source.token())

    async def deliver(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        smtputf8: bool = False,
        deadline: float | None = None,
    ) -> Delivery:
        """Send one message. Raises `ConnectorError`; partial recipient rejection is reported
        in the result, total rejection raises `recipient_rejected`. Each reply is awaited for
        `socketTimeout`, but never past `deadline` (a `time.monotonic()` value)."""
        if self._smtp is None:
            raise ConnectorError(ErrorCode.CONNECTION_FAILED, "session is not open")
        self._deadline = deadline
        try:
            delivery = await self._deliver(sender, recipients, data, smtputf8)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                self._abort()
                raise
            error = self._map(exc)
            if error.stage in ("connect", "after_data", "data") or not self.alive:
                self._abort()
            else:
                await self._quiet_reset()
            raise error from None
        self.messages_sent += 1
        self.last_used = time.monotonic()
        return delivery

    async def _deliver(
        self, sender: str, recipients: list[str], data: bytes, smtputf8: bool
    ) -> Delivery:
        smtp = self._smtp
        assert smtp is not None
        if smtputf8 and not smtp.supports_extension("smtputf8"):
            raise ConnectorError(
                ErrorCode.INVALID_RECIPIENT,
                f"{self.name} does not support SMTPUTF8, which this address needs "
                "(a non-ASCII local part).",
                server=self.name,
                retryable=False,
                stage="mail",
            )
        payload = _dot_stuff(data)
        options = _mail_options(smtp, len(payload), smtputf8)
        encoding = "utf-8" if smtputf8 else "ascii"
        if self.options.pipelining and smtp.supports_extension("pipelining"):
            return await self._pipelined(sender, recipients, payload, options, encoding)
        return await self._lockstep(sender, recipients, payload, options, encoding)

    async def _pipelined(
        self, sender: str, recipients: list[str], payload: bytes, options: list[str], enc: str
    ) -> Delivery:
        protocol = self._smtp.protocol  # type: ignore[union-attr]
        assert isinstance(protocol, PipeliningProtocol)
        commands = [
            _command("MAIL FROM:", sender, options),
            *(_command("RCPT TO:", rcpt, []) for rcpt in recipients),
            "DATA",
        ]
        self._stage = "mail"
        burst = "".join(f"{c}\r\n" for c in commands).encode(enc)
        replies = await protocol.exchange(burst, len(commands), self._reply_timeout())
        mail_reply, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
        accepted, rejected = _split_recipients(recipients, rcpt_replies)
        if data_reply.code == 354 and (mail_reply.code != 250 or not accepted):
            await protocol.exchange(b".\r\n", 1, self._reply_timeout())  # RFC 2920: end DATA
        if mail_reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(mail_reply.code, mail_reply.message, sender)
        _raise_if_all_rejected(recipients, rejected)
        if data_reply.code != 354:
            self._stage = "data"
            raise aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
        return await self._send_payload(protocol, payload, accepted, rejected, True)

    async def _send_payload(
        self,
        protocol: PipeliningProtocol,
        payload: bytes,
        accepted: list[str],
        rejected: dict[str, tuple[int, str]],
        pipelined: bool,
    ) -> Delivery:
        self._stage = "after_data"
        (final,) = await protocol.exchange(payload, 1, self._reply_timeout())
        if final.code != 250:
            self._stage = "data"
            raise aiosmtplib.SMTPDataError(final.code, final.message)
        return Delivery(accepted, rejected, final.message, final.code, pipelined)

    async def _lockstep(
        self, sender: str, recipients: list[str], payload: bytes, options: list[str], enc: str
    ) -> Delivery:
        smtp = self._smtp
        assert smtp is not None
        self._stage = "mail"
        await smtp.mail(sender, options=options, encoding=enc, timeout=self._reply_timeout())
        self._stage = "rcpt"
        rejected: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            try:
                await smtp.rcpt(rcpt, encoding=enc, timeout=self._reply_timeout())
            except aiosmtplib.SMTPRecipientRefused as exc:
                rejected[rcpt] = (exc.code, exc.message)
        _raise_if_all_rejected(recipients, rejected)
        accepted = [r for r in recipients if r not in rejected]
        self._stage = "data"
        start = await smtp.execute_command(b"DATA", timeout=self._reply_timeout())
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol = smtp.protocol
        assert isinstance(protocol, PipeliningProtocol)
        return await self._send_payload(protocol, payload, accepted, rejected, False)

    def _reply_timeout(self) -> float:
        """socketTimeout, shortened to what is left before the send's deadline."""
        timeout = self.server.socket_timeout / 1000
        if self._deadline is not None:
            timeout = min(timeout, max(self._deadline - time.monotonic(), 0.001))
        return timeout

    async def reset(self) -> None:
        """RSET: a cheap liveness check and envelope reset before reusing a pooled session."""
        assert self._smtp is not None
        await self._smtp.rset()

    async def _quiet_reset(self) -> None:
        try:
            await asyncio.wait_for(self.reset(), QUIT_TIMEOUT_S)
        except Exception:
            self._abort()

    async def close(self) -> None:
        """QUIT politely (bounded), then drop the socket whatever happened."""
        smtp = self._smtp
        if smtp is not None and smtp.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(smtp.quit(), QUIT_TIMEOUT_S)
        self._abort()

    def _abort(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    def _map(self, exc: BaseException) -> ConnectorError:
        return map_exception(
            exc,
            stage=self._stage,
            server=self.name,
            implicit_tls=self.server.implicit_tls,
            port=self.server.effective_port,
        )


def _command(verb: str, address: str, options: list[str]) -> str:
    return " ".join([f"{verb}<{address}>", *options])


def _mail_options(smtp: aiosmtplib.SMTP, size: int, smtputf8: bool) -> list[str]:
    options = []
    if smtp.supports_extension("size"):
        options.append(f"SIZE={size}")
    if smtputf8:
        options.append("SMTPUTF8")
        if smtp.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
    return options


def _dot_stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency plus the terminating `.`; input already has CRLF endings."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b".") or b"\n." in data:
        data = _DOT_AT_LINE_START.sub(b"..", data)
    return data + b".\r\n"


def _split_recipients(
    recipients: list[str], replies: list[SMTPResponse]
) -> tuple[list[str], dict[str, tuple[int, str]]]:
    accepted: list[str] = []
    rejected: dict[str, tuple[int, str]] = {}
    for rcpt, reply in zip(recipients, replies, strict=True):
        if reply.code in (250, 251):
            accepted.append(rcpt)
        else:
            rejected[rcpt] = (reply.code, reply.message)
    return accepted, rejected


def _raise_if_all_rejected(recipients: list[str], rejected: dict[str, tuple[int, str]]) -> None:
    if rejected and len(rejected) == len(recipients):
        refused = [aiosmtplib.SMTPRecipientRefused(c, m, r) for r, (c, m) in rejected.items()]
        raise aiosmtplib.SMTPRecipientsRefused(refused)


def _refuse_private(infos: list[tuple], name: str) -> None:
    """SSRF guard (as Ory Kratos has): refuse hosts resolving to loopback/private addresses."""
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local:
            raise ConnectorError(
                ErrorCode.CONNECTION_FAILED,
                f"{name} resolves to a private or loopback address ({address}) and "
                "`refusePrivateHosts` is set.",
                server=name,
                retryable=False,
                stage="connect",
            )


async def _speaks_tls(address: tuple, server_name: str | None) -> bool:
    """True when a fresh connection to `address` completes a TLS handshake (certificate not
    checked: this only tells a TLS port from a plain one)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address[0], address[1], ssl=context, server_hostname=server_name or address[0]
            ),
            TLS_PROBE_TIMEOUT_S,
        )
    except (OSError, ssl.SSLError, asyncio.TimeoutError, TimeoutError):
        return False
    writer.close()
    return True
