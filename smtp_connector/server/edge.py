"""The outermost ASGI layer: a cap on requests in flight and a deadline for request bodies.

It wraps everything the app runs, the send route's short path included (`fast_send.py`), so
both paths get the same limits (finding 8):

- **Concurrency.** At most `max_concurrency` requests are handled at once; one more is
  answered 503 at once with `Retry-After: 1`, in the route's error envelope, before its body
  is read. A client that holds requests open (a trickled body) ties up at most its share.
- **Body timeout.** The time a request spends waiting for its body, in total, is capped at
  `body_timeout` seconds: a body trickled a byte a second is answered 408 and the connection
  closed, whichever route (or the short path) was reading it. Waiting stops counting once the
  whole body has arrived (a streaming response may wait for a disconnect for as long as it
  likes).

The head of a request (request line and headers) and idle keep-alive connections are bounded
in uvicorn's protocol instead (`runner.py`): no ASGI code runs before the head is complete.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Failure, render


class BodyTimedOut(BaseException):
    """Raised out of `receive` when the body's time is up. A BaseException, so no handler on
    the way (FastAPI's body parsing, Starlette's error middleware) turns it into a 400 or 500
    first: `Edge` catches it and answers 408."""


class _BodyClock:
    """`receive` with a total waiting budget until the last body chunk has arrived."""

    def __init__(self, receive: Receive, budget: float) -> None:
        self._receive = receive
        self.left = budget
        self.done = False

    async def receive(self) -> Message:
        if self.done:
            return await self._receive()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.left):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimedOut from None
        self.left -= loop.time() - started
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
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        clock = _BodyClock(receive, self.body_timeout)
        try:
            await self.app(scope, clock.receive, tracked)
        except BodyTimedOut:
            if not started:  # else the response is under way: uvicorn closes the connection
                message = (f"The request body did not arrive within {self.body_timeout:g} s "
                           "(SMTP_CONNECTOR_BODY_TIMEOUT).")  # fmt: skip
                failure = Failure(408, "request_timeout", message, headers={"Connection": "close"})
                await _answer(scope, send, failure)
        finally:
            self.in_flight -= 1


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
