"""The outermost ASGI layer: a cap on requests in flight and a deadline for request bodies.

It wraps everything the app runs, the send route's short path included (`fast_send.py`), so
both paths get the same limits (finding 8):

- **Concurrency.** At most `max_concurrency` requests are handled at once; one more is
  answered 503 at once with `Retry-After: 1`, in the route's error envelope, before its body
  is read. A client that holds requests open (a trickled body) ties up at most its share.
- **Body timeout.** The time a request spends waiting for its body, in total, is capped at
  `body_timeout` seconds (checked every SWEEP_SECONDS): a body trickled a byte a second is
  answered 408 and the connection closed, whichever route (or the short path) was reading it.
  Waiting stops counting once the whole body has arrived (a streaming response may wait for a
  disconnect for as long as it likes).

The head of a request (request line and headers) and idle keep-alive connections are bounded
in uvicorn's protocol instead (`runner.py`): no ASGI code runs before the head is complete.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Failure, render

SWEEP_SECONDS = 0.25  # how often waiting body reads are checked against their budget


class BodyTimedOut(BaseException):
    """Raised out of `receive` when the body's time is up. A BaseException, so no handler on
    the way (FastAPI's body parsing, Starlette's error middleware) turns it into a 400 or 500
    first: `Edge` catches it and answers 408."""


class _BodyClock:
    """`receive` with a total waiting budget until the last body chunk has arrived. No timer
    per read (the send route is the hot path): `Edge` sweeps the reads that are waiting and
    cancels those over budget."""

    __slots__ = ("_receive", "done", "edge", "expired", "left", "since", "task")

    def __init__(self, edge: Edge, receive: Receive, budget: float) -> None:
        self.edge = edge
        self._receive = receive
        self.left = budget
        self.done = False
        self.expired = False
        self.since = 0.0
        self.task: asyncio.Task[Any] | None = None

    async def receive(self) -> Message:
        if self.done:
            return await self._receive()
        loop = asyncio.get_running_loop()
        self.since = loop.time()
        if self.task is None:
            self.task = asyncio.current_task()
        self.edge.watch(self)
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if self.expired and self.task is not None:
                self.task.uncancel()  # our cancellation, not the server's: a timeout
                raise BodyTimedOut from None
            raise
        finally:
            self.edge.waiting.discard(self)
            self.left -= loop.time() - self.since
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message


class Edge:
    """ASGI wrapper applying the concurrency cap and the body deadline to `app`."""

    def __init__(self, app: ASGIApp, *, body_timeout: float, max_concurrency: int) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.waiting: set[_BodyClock] = set()
        self._sweeping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrency:
            message = (f"The service is handling {self.max_concurrency} requests, its limit "
                       "(SMTP_CONNECTOR_MAX_CONCURRENCY); retry in a moment.")  # fmt: skip
            headers = {"Retry-After": "1", "Connection": "close"}
            await _answer(scope, send, Failure(503, "unavailable", message, headers=headers))
            return
        self.in_flight += 1
        try:
            await self.app(scope, _BodyClock(self, receive, self.body_timeout).receive, send)
        except BodyTimedOut:
            message = (f"The request body did not arrive within {self.body_timeout:g} s "
                       "(SMTP_CONNECTOR_BODY_TIMEOUT).")  # fmt: skip
            failure = Failure(408, "request_timeout", message, headers={"Connection": "close"})
            with suppress(RuntimeError):  # a response had started: uvicorn closes the connection
                await _answer(scope, send, failure)
        finally:
            self.in_flight -= 1

    def watch(self, clock: _BodyClock) -> None:
        """Track a waiting body read; sweep while any is waiting."""
        self.waiting.add(clock)
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        for clock in list(self.waiting):
            if now - clock.since >= clock.left and clock.task is not None and not clock.expired:
                clock.expired = True
                clock.task.cancel()
        self._sweeping = bool(self.waiting)
        if self._sweeping:
            asyncio.get_running_loop().call_later(SWEEP_SECONDS, self._sweep)


async def _answer(scope: Scope, send: Send, failure: Failure) -> None:
    """`failure` in the envelope of the route the request was for (see errors.render)."""

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await render(Request(scope), failure)(scope, nothing, send)


def install(app: Any, *, body_timeout: float, max_concurrency: int) -> None:
    """Put `Edge` around everything the app runs, the short path included (call it after
    `fast_send.install`: each wraps what `build_middleware_stack` built before)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: Edge(
        build(), body_timeout=body_timeout, max_concurrency=max_concurrency
    )
