"""Shared parts of the tests that hold a fast path equal to the full one (tests/delivery:
`test_fast_path.py`, `test_send_many_inline.py`): both run the same sends each way against the
same aiosmtpd servers and compare what a caller and the servers see, less the clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

import pytest
from smtp_servers import MakeServer, TestServer

from smtp_connector import ConnectorError, SendResult
from smtp_connector.compose import message

MESSAGE_ID = re.compile(r"<fixedtoken\.\d+@")  # the Message-ID's seconds: the clock's part
_MESSAGE_ID_BYTES = re.compile(rb"<fixedtoken\.\d+@")
# A text + HTML template whose body has a dot-led line, and a plain-text one.
PATH_TEMPLATES: list[dict[str, str]] = [
    {
        "usageType": "Generic",
        "subject": "Code {{ code }}",
        "textContent": "Your code: {{ code }}\n.{{ code }}\n",
        "htmlContent": "<p>Your code: <b>{{ code }}</b></p>",
    },
    {"usageType": "SignIn", "contentType": "text/plain", "subject": "Hi", "content": "{{code}}"},
]
REFUSED = {"refused@example.org": "550 5.1.1 No such user"}
SLOW_SENDER = {"noreply@example.com": "451 4.7.1 Slow down"}


def loops() -> list[Callable[[], asyncio.AbstractEventLoop]]:
    """asyncio's loop and uvloop's (uvicorn's default): each path is compared on both."""
    uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra")
    return [asyncio.new_event_loop, uvloop.new_event_loop]


@contextmanager
def fixed_tokens() -> Iterator[None]:
    """One Message-ID token, boundary and Date on both paths, so whole messages compare."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(message, "unique_token", lambda: "fixedtoken")
        patch.setattr(message, "_date_header", lambda: "Sun, 06 Dec 2026 12:00:00 +0000")
        yield


def stamp(content: bytes) -> bytes:
    """A message as a server received it, the Message-ID's seconds made one value."""
    return _MESSAGE_ID_BYTES.sub(b"<fixedtoken.T@", content)


def outcome_view(outcome: SendResult | ConnectorError) -> str:
    """What a caller sees of a result or an error, less the clock (durations, each
    attempt's seconds, the Message-ID's seconds)."""
    if isinstance(outcome, ConnectorError):
        view = outcome.to_dict() | {"attempts": outcome.attempts, "id": outcome.message_id}
        view |= {"details": outcome.details, "type": type(outcome).__name__}
    else:
        view = asdict(outcome) | {"type": type(outcome).__name__}
        view.pop("duration")
        for record in view["attempt_log"]:
            record.pop("seconds")
    return MESSAGE_ID.sub("<fixedtoken.T@", repr(sorted(view.items(), key=str)))


class ServerPairs:
    """A primary and a failover aiosmtpd server per PIPELINING mode, started once per test and
    shared by its examples; `reset` clears what an earlier example set up or received."""

    def __init__(self, make_server: MakeServer) -> None:
        self._make = make_server
        self._pairs: dict[bool, tuple[TestServer, TestServer]] = {}

    def pair(self, pipelining: bool) -> tuple[TestServer, TestServer]:
        if pipelining not in self._pairs:
            made = [self._make(pipelining=pipelining, reject_rcpt=REFUSED) for _ in range(2)]
            self._pairs[pipelining] = (made[0], made[1])
        return self._pairs[pipelining]

    def reset(self, pipelining: bool, first: str) -> tuple[TestServer, TestServer]:
        """Both servers cleared; the primary refuses the sender for now when `first` says so."""
        primary, failover = self.pair(pipelining)
        for server in (primary, failover):
            server.behaviour.reject_sender = {}
            server.behaviour.data_replies = []
            server.messages.clear()
        if first == "451 sender":
            primary.behaviour.reject_sender = dict(SLOW_SENDER)
        return primary, failover
