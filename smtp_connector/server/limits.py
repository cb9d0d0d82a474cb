"""Two guards in front of the routes: a request body cap (an admin API has no use for
megabytes, and an unbounded body is a cheap way to exhaust memory) and a brake on clients
that keep presenting bad keys (each failure is answered more slowly, then with 429).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Failure, render


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing passes it through to the handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body larger than {limit} bytes.")


class BodyLimit:
    """Refuse bodies over `max_bytes`: by Content-Length at once, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            failure = Failure(413, "payload_too_large", BodyTooLarge(self.max_bytes).detail)
            await render(Request(scope), failure)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


class AuthThrottle:
    """Per-client count of failed authentications in a sliding window."""

    MAX_CLIENTS = 10_000

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it is not blocked."""
        if self.limit <= 0:
            return None
        times = self._recent(client)
        if len(times) < self.limit:
            return None
        return max(times[0] + self.window - time.monotonic(), 1.0)

    async def failed(self, client: str) -> None:
        """Record a failure and answer it late: 50 ms more per recent failure, up to 1 s."""
        if self.limit <= 0:
            return
        times = self._recent(client)
        times.append(time.monotonic())
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > self.MAX_CLIENTS:
            self._failures.popitem(last=False)
        await asyncio.sleep(min(0.05 * len(times), 1.0))

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.get(client, deque())
        horizon = time.monotonic() - self.window
        while times and times[0] < horizon:
            times.popleft()
        return times
