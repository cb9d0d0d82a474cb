"""One SMTP session on aiosmtplib: resolve, connect, greet, STARTTLS, AUTH, then deliver messages.

Each step has its own timeout (Logto's dnsTimeout / connectionTimeout / greetingTimeout /
socketTimeout) and its own name, so a failure says where it happened and `verify` can print
each step with its timing. A pool's sender task drives the session: pipelined transactions
are chained on its protocol (delivery/chain.py), lock-step ones go through `deliver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import aiosmtplib

from ..errors import Cause, ConnectorError, ErrorCode, secret_safe_logger
from ..results import Step
from .auth import auth_mechanism, authenticate, require_auth_offered, require_encrypted
from .checkpoint import Checkpoint
from .error_mapping import map_exception
from .network import AddressPolicy, connect_any, ehlo_name, local_fqdn, resolve, speaks_tls
from .pipelining import PipeliningProtocol, enable_pipelining
from .transaction import Delivery, MailTransaction

if TYPE_CHECKING:
    from ..config.views import ServerView
    from .oauth import TokenSource

log = secret_safe_logger("smtp_connector.delivery")

T = TypeVar("T")
TLS_PROBE_DELAY_S = 1.0
QUIT_TIMEOUT_S = 2.0


class SessionOptions:
    """Per-connector switches that are not part of one server's settings. A plain class, not
    a dataclass, for the import cost (see health.py's ServerHealth)."""

    __slots__ = (
        "address_policy",
        "pipelining",
        "refuse_private_hosts",
        "ssl_context",
        "token_source",
    )

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,  # None: the server never speaks TLS (`ignoreTLS`)
        token_source: TokenSource | None = None,
        pipelining: bool = True,
        refuse_private_hosts: bool = False,
        address_policy: AddressPolicy | None = None,  # the embedding host's rule (network.py)
    ) -> None:
        self.ssl_context = ssl_context
        self.token_source = token_source
        self.pipelining = pipelining
        self.refuse_private_hosts = refuse_private_hosts
        self.address_policy = address_policy


class SmtpSession:
    """An open, authenticated SMTP connection that delivers one message at a time. A plain
    class, not a dataclass, for the import cost (see health.py's ServerHealth)."""

    def __init__(self, server: ServerView, options: SessionOptions) -> None:
        self.server = server
        self.options = options
        self.steps: list[Step] = []
        self.messages_sent = 0
        self.auth_mechanism: str | None = None  # the AUTH mechanism the server accepted
        self.opened_at = 0.0
        self.last_used = 0.0
        self._smtp: aiosmtplib.SMTP | None = None
        self._stage = "connect"
        self._deadline: float | None = None
        self.name = server.address  # `host:port`, read on every message (errors name it)
        # socketTimeout in seconds, read by every chain and lock-step reply: copied, as a
        # model's attribute read passes pydantic's `__getattr__` hook (~900 instructions).
        self.socket_timeout_s = server.socket_timeout / 1000

    @property
    def alive(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    @property
    def smtp(self) -> aiosmtplib.SMTP:
        if self._smtp is None:
            raise ConnectorError(ErrorCode.CONNECTION_FAILED, "session is not open")
        return self._smtp

    @property
    def pipelining(self) -> PipeliningProtocol | None:
        """The protocol to chain pipelined transactions on, if the server offers PIPELINING
        and the connector allows it; None means lock-step."""
        smtp = self._smtp
        if smtp is None or not self.options.pipelining:
            return None
        protocol = smtp.protocol
        if not smtp.supports_extension("pipelining") or not isinstance(
            protocol, PipeliningProtocol
        ):
            return None
        return protocol

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
        fqdn = None if server.name else await local_fqdn()  # looked up once per process
        infos = await self._timed(
            "dns",
            resolve(
                server.host,
                server.effective_port,
                refuse_private=self.options.refuse_private_hosts,
                name=self.name,
                policy=self.options.address_policy,
            ),
            server.dns_timeout,
        )
        sock = await self._timed(
            "connect",
            connect_any(infos, server.local_address, server.connection_timeout / 1000),
            None,
        )
        # aiosmtplib takes the EHLO name before it connects; the socket is ours, so the local
        # address an address-literal EHLO needs is already known.
        self._smtp = aiosmtplib.SMTP(
            hostname=server.tls_server_name,
            local_hostname=ehlo_name(server.name, fqdn, sock),
            timeout=server.socket_timeout / 1000,
            use_tls=server.implicit_tls,
            start_tls=False,
            tls_context=self.options.ssl_context,
        )
        self._stage = "tls" if server.implicit_tls else "greeting"
        greeting = "tls+greeting" if server.implicit_tls else "greeting"
        await self._timed(greeting, self._greet(sock, infos[0][4]), None)
        enable_pipelining(self._smtp)
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
                    cause=Cause.IMPLICIT_TLS_REQUIRED,
                    reason="no SMTP greeting; the port answers a TLS handshake",
                )
        await connecting

    async def _probe_while_waiting(self, connecting: asyncio.Future[Any], address: tuple) -> bool:
        """Run the TLS probe beside the greeting wait; True only if the probe saw TLS before the
        greeting arrived (the greeting timeout still bounds the whole wait)."""
        probe = asyncio.ensure_future(speaks_tls(address, self.server.tls_server_name))
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
            if server.require_tls and not server.opportunistic_tls:
                raise ConnectorError(
                    ErrorCode.TLS_FAILED,
                    f"{self.name} does not offer STARTTLS but `requireTLS` is set; use the "
                    "provider's TLS port (465 with `secure: true`) or drop `requireTLS`.",
                    server=self.name,
                    retryable=False,
                    stage="tls",
                    cause=Cause.STARTTLS_MISSING,
                    reason="STARTTLS is not offered",
                )
            self._without_tls("offers no STARTTLS")
            return
        self._stage = "tls"
        try:
            await self._timed(
                "starttls",
                smtp.starttls(
                    server_hostname=server.tls_server_name, tls_context=self.options.ssl_context
                ),
                None,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # nodemailer's `opportunisticTLS`: a refused STARTTLS (a reply, not a failed
            # handshake) leaves a usable plain session.
            if not server.opportunistic_tls or exc.code < 400:
                raise
            self._stage = "ehlo"
            self._without_tls(f"refused STARTTLS ({exc.code})")
            return
        self._stage = "ehlo"
        await smtp.ehlo()

    def _without_tls(self, why: str) -> None:
        """Go on without TLS: fine for an IP-authorised relay; with credentials configured,
        stop here (`require_encrypted`), whatever `opportunisticTLS` says."""
        assert self._smtp is not None
        if self.server.opportunistic_tls:
            log.info("%s %s; opportunisticTLS: continuing without TLS", self.name, why)
        if self.server.auth.enabled:
            require_encrypted(self._smtp, self.server, self.name, why)

    async def _maybe_auth(self) -> None:
        if not self.server.auth.enabled:
            return
        smtp = self._smtp
        assert smtp is not None
        self._stage = "auth"
        require_encrypted(smtp, self.server, self.name)  # ignoreTLS with requireTLS: no leave
        require_auth_offered(smtp, self.name)
        start = time.perf_counter()
        used = await authenticate(
            smtp, self.server, auth_mechanism(self.server), self.options.token_source
        )
        self.auth_mechanism = used
        self.steps.append(Step("auth", time.perf_counter() - start, used))

    async def deliver(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        smtputf8: bool = False,
        deadline: float | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> Delivery:
        """Send one message lock-step. Raises `ConnectorError`; partial recipient rejection is
        reported in the result, total rejection raises `recipient_rejected`. Each reply is
        awaited for `socketTimeout`, but never past `deadline` (a `time.monotonic()` value);
        `checkpoint` is awaited after 354, before the content."""
        if self._smtp is None:
            raise ConnectorError(ErrorCode.CONNECTION_FAILED, "session is not open")
        self._deadline = deadline
        transaction = MailTransaction(self._smtp, self.name, self._reply_timeout)
        try:
            delivery = await transaction.run(sender, recipients, data, smtputf8, checkpoint)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                self._abort()
                raise
            self._stage = transaction.stage
            error = self._map(exc)
            broken = error.code is ErrorCode.CONNECTION_FAILED  # e.g. an invalid reply
            if error.stage in ("connect", "after_data", "data") or broken or not self.alive:
                self._abort()
            else:
                await self._quiet_reset()
            raise error from None
        self.messages_sent += 1
        self.last_used = time.monotonic()
        return delivery

    def _reply_timeout(self) -> float:
        """socketTimeout, shortened to what is left before the send's deadline."""
        timeout = self.socket_timeout_s
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

    def abort(self) -> None:
        """Drop the connection at once (no QUIT): the server may be mid-transaction."""
        self._abort()

    def _abort(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    def _map(self, exc: BaseException) -> ConnectorError:
        return self.map_error(exc, self._stage)

    def map_error(self, exc: BaseException, stage: str) -> ConnectorError:
        """`exc`, raised at `stage` on this session, as a `ConnectorError`."""
        return map_exception(
            exc,
            stage=stage,
            server=self.name,
            implicit_tls=self.server.implicit_tls,
            port=self.server.effective_port,
        )
