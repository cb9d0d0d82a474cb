"""Delivery backends chosen by `transport`: `smtp` (delivery.py) or these three for development
and tests — `memory` (an outbox list, like Django's locmem backend), `console` (prints) and
`file` (.eml files). They get the same rendered, composed and signed bytes a server would get.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..compose.message import RenderedEmail
from ..config import ServerConfig
from ..config.views import ConfigView
from ..errors import ConnectorError, ErrorCode
from ..results import SendResult, Step

if TYPE_CHECKING:
    from email.message import EmailMessage

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class Backend(Protocol):
    """What the connector needs from a transport."""

    async def send(self, email: RenderedEmail) -> SendResult: ...

    async def verify(self) -> list[tuple[str, list[Step]]]: ...

    async def aclose(self) -> None: ...

    def health(self) -> list[dict[str, object]]: ...


@dataclass
class OutboxMessage:
    """A message captured by the memory backend: what would have gone on the wire."""

    to: list[str]
    sender: str
    subject: str
    text: str | None
    html: str | None
    raw: bytes
    message_id: str
    usage_type: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        code = self.payload.get("code")
        return None if code is None else str(code)

    def parsed(self) -> EmailMessage:
        """The raw bytes read back with the stdlib parser (loaded here: a test's need)."""
        from email import message_from_bytes, policy

        return message_from_bytes(self.raw, policy=policy.default)


class NothingSent(AssertionError):
    """`Outbox.last_code`/`last` found no (coded) message for the address; the text says why."""


class Outbox(list[OutboxMessage]):
    """A process-wide list of captured messages (the pytest plugin clears it per test)."""

    _lock = threading.Lock()

    def record(self, message: OutboxMessage) -> None:
        with self._lock:
            self.append(message)

    def to(self, address: str) -> list[OutboxMessage]:
        wanted = address.lower()
        return [m for m in self if wanted in (t.lower() for t in m.to)]

    def last(self, address: str) -> OutboxMessage:
        """The latest message sent to `address` (any case); `NothingSent` says why if none."""
        messages = self.to(address)
        if not messages:
            raise NothingSent(self._nothing_for(address))
        return messages[-1]

    def last_code(self, address: str) -> str:
        """The code of the latest message sent to `address` (what a sign-in test needs).

        Raises `NothingSent` (an AssertionError, so pytest reports a failed expectation) with
        a hint instead of returning None: a None code would only fail later, further from the
        cause.
        """
        message = self.last(address)
        if message.code is None:
            raise NothingSent(
                f"The latest message to {address} ({message.usage_type}, subject "
                f"{message.subject!r}) carried no code in its payload"
                + (
                    " (it has a link: see .last(address).payload['link'])."
                    if message.payload.get("link")
                    else "."
                )
            )
        return message.code

    def _nothing_for(self, address: str) -> str:
        if not self:
            return (
                f"No message was sent to {address}: the outbox is empty. The outbox only sees "
                'connectors built with `transport: "memory"` in this process; check that the '
                "code under test uses such a config and that the send really ran (awaited, no "
                "error swallowed)."
            )
        others = sorted({t for m in self for t in m.to})
        shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        return (
            f"No message was sent to {address}; {len(self)} message(s) went to {shown}. "
            "Addresses are compared case-insensitively; check the address the test expects."
        )


OUTBOX = Outbox()

_LOCAL = ServerConfig(host="localhost", port=25, priority=0)


class _LocalBackend:
    """Shared parts of the non-SMTP backends."""

    label = "local"

    def __init__(self, config: ConfigView, prepare: Any) -> None:
        self._config = config
        self._prepare = prepare

    def _compose(self, email: RenderedEmail) -> tuple[RenderedEmail, bytes]:
        return self._prepare(email, _LOCAL)

    def _result(self, email: RenderedEmail) -> SendResult:
        return SendResult(
            message_id=email.message_id,
            accepted=email.envelope_to,
            server=self.label,
            response="250 OK (captured)",
            usage_type=email.usage_type,
        )

    async def verify(self) -> list[tuple[str, list[Step]]]:
        return [(self.label, [Step(self.label, 0.0, "no network")])]

    async def aclose(self) -> None:
        return None

    def health(self) -> list[dict[str, object]]:
        return [{"server": self.label, "status": "active", "numErrors": 0}]


class MemoryBackend(_LocalBackend):
    label = "memory"

    async def send(self, email: RenderedEmail) -> SendResult:
        prepared, data = self._compose(email)
        OUTBOX.record(
            OutboxMessage(
                to=prepared.envelope_to,
                sender=prepared.envelope_from,
                subject=prepared.subject,
                text=prepared.text,
                html=prepared.html,
                raw=data,
                message_id=prepared.message_id,
                usage_type=prepared.usage_type,
                payload=dict(email.payload),
            )
        )
        return self._result(prepared)


class ConsoleBackend(_LocalBackend):
    label = "console"

    async def send(self, email: RenderedEmail) -> SendResult:
        prepared, data = self._compose(email)
        rule = "-" * 72
        sys.stdout.write(f"{rule}\n{data.decode('utf-8', 'replace')}\n{rule}\n")
        sys.stdout.flush()
        return self._result(prepared)


class FileBackend(_LocalBackend):
    label = "file"

    def __init__(self, config: ConfigView, prepare: Any) -> None:
        super().__init__(config, prepare)
        if not config.outbox_dir:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG, "`transport: file` needs `outboxDir` (a folder path)."
            )
        if config.disable_file_access:
            # The file transport's whole job is writing files; a config that forbids file
            # access and asks for it is a contradiction to report, not to resolve silently.
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                "`transport: file` writes every message into `outboxDir`, and "
                "`disableFileAccess` forbids file access: use `transport: memory` or "
                "`console`, or unset `disableFileAccess`.",
            )
        self.folder = Path(config.outbox_dir)

    async def send(self, email: RenderedEmail) -> SendResult:
        prepared, data = self._compose(email)
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = _UNSAFE_FILENAME.sub("_", prepared.message_id.strip("<>"))
        (self.folder / f"{time.time_ns()}-{stem}.eml").write_bytes(data)
        return self._result(prepared)


LOCAL_BACKENDS = {"memory": MemoryBackend, "console": ConsoleBackend, "file": FileBackend}
