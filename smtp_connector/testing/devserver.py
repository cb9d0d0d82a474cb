"""A local development SMTP server (aiosmtpd) that keeps and prints what it receives.

Used by `smtp-connector sink` (like MailHog, for trying an app's flows locally) and by
`smtp-connector demo`, which sends a real email through the real connector to it.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from ..errors import ConnectorError, ErrorCode


@dataclass
class ReceivedMail:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


class _Handler:
    def __init__(self, on_message: Callable[[ReceivedMail], Any] | None) -> None:
        self.messages: list[ReceivedMail] = []
        self.arrived = threading.Condition()
        self._on_message = on_message

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")  # aiosmtpd reads commands in order anyway
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = ReceivedMail(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or b""
        )
        with self.arrived:
            self.messages.append(mail)
            self.arrived.notify_all()
        if self._on_message is not None:
            self._on_message(mail)
        return "250 2.0.0 OK: queued by smtp-connector dev server"


class DevServer:
    """aiosmtpd on `host:port` (port 0 = a free one), no TLS, no AUTH, in a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_message: Callable[[ReceivedMail], Any] | None = None,
    ) -> None:
        self.host = host
        self.port = port  # 0 until start() picks a free one
        self._handler = _Handler(on_message)
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[ReceivedMail]:
        return self._handler.messages

    def start(self) -> DevServer:
        """Listen and serve in a background thread; a port that cannot be bound (in use, no
        permission, unknown host) is an `invalid_config` error naming it and what to do. A
        free port picked here can be taken before aiosmtpd binds it (another process's
        outgoing connection, say): then another is picked, a few times."""
        picked = self.port == 0
        for attempt in range(_PICKS if picked else 1):
            try:
                self.port = _bind_once(self.host, 0 if picked else self.port)
                self._controller = self._listen()
                return self
            except OSError as exc:
                if picked and exc.errno == errno.EADDRINUSE and attempt < _PICKS - 1:
                    continue
                raise ConnectorError(ErrorCode.INVALID_CONFIG, self._bind_problem(exc)) from None
        raise AssertionError("unreachable: the last pick returns or raises")  # pragma: no cover

    def _listen(self) -> Controller:
        controller = Controller(
            self._handler, hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )
        try:
            controller.start()
        except BaseException:
            controller.loop.close()  # aiosmtpd leaves its own loop open when start fails
            raise
        return controller

    def _bind_problem(self, exc: OSError) -> str:
        where = f"{self.host}:{self.port}" if self.port else self.host
        if exc.errno == errno.EADDRINUSE:
            return (
                f"Cannot listen on {where}: the port is already in use (another sink or mail "
                "server?). Pick another with --port, or --port 0 for a free one."
            )
        if exc.errno == errno.EACCES:
            return f"Cannot listen on {where}: permission denied (ports below 1024 need root)."
        if isinstance(exc, socket.gaierror):
            return f"Cannot listen on {where}: unknown host {self.host!r} ({exc.strerror})."
        return f"Cannot listen on {where}: {exc.strerror or exc}."

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self._handler.arrived:
            return self._handler.arrived.wait_for(lambda: len(self.messages) >= count, timeout)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_PICKS = 5  # free ports tried when the one picked is taken before the bind


def _bind_once(host: str, port: int) -> int:
    """Bind `host:port` as asyncio's server will (SO_REUSEADDR) and let it go: the port bound
    (a free one for 0). A port in use fails here at once; aiosmtpd reports it only after its
    5 s start timeout."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        return int(sock.getsockname()[1])
