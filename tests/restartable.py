"""An aiosmtpd test server that can be stopped and started again on the same port.

`TestServer` (smtp_servers.py) picks a fresh port per instance; failover, circuit-breaker and
soak tests need "the same server went away and came back": same host:port, and one record of
everything it accepted across restarts (so Message-IDs can be counted over the whole run).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any

from smtp_servers import Behaviour, Received, RecordingHandler, _Controller, free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def message_id_of(content: bytes) -> str:
    """The Message-ID header of a received message (from its header block only)."""
    head = content.split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    assert match is not None, f"no Message-ID in {head[:200]!r}"
    return match.group(1).decode("ascii")


def count_message_ids(*servers: RestartableServer) -> Counter[str]:
    """How many times each Message-ID arrived, over all `servers` and all their restarts."""
    return Counter(message_id_of(m.content) for s in servers for m in s.messages)


class RestartableServer:
    """aiosmtpd on 127.0.0.1:`port`; `stop()` closes the listener and every session, `start()`
    listens on the same port again. `messages` accumulates over restarts."""

    __test__ = False

    def __init__(self, behaviour: Behaviour | None = None, port: int | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.handler = RecordingHandler(self.behaviour)
        self.port = port or free_port()
        # Attributes the recording SMTP class updates (same names as TestServer's).
        self.connections = 0
        self.open_connections = 0
        self.peak_connections = 0
        self.chunks: deque[bytes] = deque(maxlen=64)  # bounded: soak runs send thousands
        self.starts = 0
        self._controller: _Controller | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> RestartableServer:
        assert self._controller is None, "already running"
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "enable_SMTPUTF8": True,
            "ready_timeout": 10,
            "timeout": 300,
        }
        controller = _Controller(self.handler, self, **kwargs)  # type: ignore[arg-type]
        before = self.connections
        controller.start()
        self.connections = before  # the controller's own readiness probe is not a client
        self._controller = controller
        self.starts += 1
        return self

    def stop(self) -> None:
        """Abrupt stop: the listener closes and every open session is cut, mid-command or not."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
