"""A short path for the hottest route, `POST /v1/apps/{app_id}/messages`.

A send is the one request an auth system makes per sign-up; the admin routes are rare. Through
FastAPI each send passes eight middleware layers, a scan of a hundred-odd routes, dependency
solving and response-model validation: together more CPU than the SMTP exchange itself
(benchmarks/service.py). This ASGI layer, in front of that stack, answers a well-formed send
directly with the same calls the route makes (`keys.authenticate`, the send scope,
`MessageRequest`, `service.messages.send`) and the same responses.

Anything else falls through to FastAPI untouched, with the body replayed: other routes, a
missing, unknown or under-scoped key, a throttled client, a body that does not validate or is
too large or that the edge refuses (`input_guard.loads`), a query string, an odd content
type. Those are answered by the real route, so every refusal, its side effects (the
failed-auth brake) and its error shape stay in one place. Once the send has started nothing
falls through (that could send twice): its errors go to the app's own exception handlers, as
they would from the route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smtp_connector.queue.plain_json import ReusedEncoder
from smtp_connector.store import SEND_SCOPE, MessageRequest

from . import input_guard
from .routes.messages import outcome_headers

_PATH = re.compile(r"^/v1/apps/([^/]+)/messages$")
# The response's JSON, as `json.dumps(…, ensure_ascii=False, separators=(",", ":"))` writes
# it: that call builds its settings and its C encoder per response, these are built once.
_TO_JSON = ReusedEncoder(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")))
_MAX_KEY = 200  # the route's Header(max_length=200)


class FastSend:
    """ASGI wrapper: well-formed sends handled here, everything else passed to `app`."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        head = _headers(scope, self.max_body)
        if head is None:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive, self.max_body)
        prepared = None if body is None else await _prepare(scope, head, body)
        if prepared is None:
            await self.app(scope, input_guard.replay(messages, receive), send)
            return
        await _send(scope, send, match.group(1), head, prepared)


# (the key, the idempotency key): a plain tuple, not a frozen dataclass (whose `__init__` costs
# an `object.__setattr__` per field, ~4,000 instructions a send more; issue 26 §1).
_Head = tuple[str, str | None]


def _headers(scope: Scope, max_body: int) -> _Head | None:
    """The key and idempotency key, when the headers are the plain case; else None."""
    authorization = content_type = idempotency_raw = None
    length = -1
    for name, value in scope["headers"]:  # a repeated header: the first, as Starlette reads it
        if name == b"authorization":
            authorization = value if authorization is None else authorization
        elif name == b"content-type":
            content_type = value if content_type is None else content_type
        elif name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"idempotency-key":
            idempotency_raw = value if idempotency_raw is None else idempotency_raw
    if authorization is None or content_type is None or not 0 <= length <= max_body:
        return None
    if content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")
    key = credentials.strip() if scheme.lower() == "bearer" else None
    if not key:
        return None
    idempotency = None if idempotency_raw is None else idempotency_raw.decode("latin-1")
    if idempotency is not None and not (idempotency.strip() and len(idempotency) <= _MAX_KEY):
        return None  # empty or too long: the route refuses it
    return key, idempotency


async def _read_body(receive: Receive, max_body: int) -> tuple[list[Message], bytes | None]:
    """Every message received (for a replay) and the body; None when it is not a whole
    body within the limit (the client left, or sent more than it announced)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > max_body:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


async def _prepare(scope: Scope, head: _Head, body: bytes) -> tuple[Any, MessageRequest] | None:
    """(actor, request) when the key may send and the body is valid; None for anything the
    route should answer itself."""
    state = _state(scope)
    client = scope.get("client")
    if state["auth_throttle"].retry_after(client[0] if client else "unknown") is not None:
        return None
    try:  # nothing is sent yet: any failure (the database down, input the edge refuses) is
        # the route's to answer
        actor = await state["service"].keys.authenticate(head[0])
        if actor is None or SEND_SCOPE not in actor.scopes:
            return None
        request = MessageRequest.model_validate(input_guard.loads(body))
    except Exception:  # ValidationError, JSONDecodeError, BadInput, SQLAlchemyError …
        return None
    return actor, request


async def _send(
    scope: Scope, send: Send, app_id: str, head: _Head, prepared: tuple[Any, MessageRequest]
) -> None:
    actor, request = prepared
    service = _state(scope)["service"]
    try:
        outcome = await service.messages.send(actor, app_id, request, idempotency_key=head[1])
        encoded = _TO_JSON(outcome.to_dict()).encode()
    except Exception as exc:  # the route's exception handlers answer (and log), as for the route
        handler = _handler_for(scope, exc)
        await (await handler(Request(scope), exc))(scope, _no_receive, send)
        return
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(encoded)).encode())]  # fmt: skip
    extra = outcome_headers(outcome)
    if extra:  # a replayed answer's header; none for a new send (no comprehension to run)
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": outcome.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": encoded})


def _state(scope: Scope) -> dict[str, Any]:
    """The app's `state` as the dict Starlette's `State` keeps it in: `state.service` is found
    only by `State.__getattr__`, after the attribute lookup has raised and caught an
    AttributeError, about 4,500 instructions a read (three a send). `_state` is a private
    name: were a release to rename it, the two values are read the public way instead."""
    state = scope["app"].state
    values = state.__dict__.get("_state")
    if isinstance(values, dict):
        return values
    return {"service": state.service, "auth_throttle": state.auth_throttle}


def _handler_for(scope: Scope, exc: Exception) -> Callable[..., Any]:
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    raise exc


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def install(app: Any, max_body: int) -> None:
    """Put `FastSend` in front of the app's whole middleware stack (FastAPI builds the stack
    on the first request; this wraps what it builds)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: FastSend(build(), max_body)
