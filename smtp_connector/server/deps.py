"""Authentication and scopes as dependencies, shared by the native routes and every dialect.

`api_key_actor` is the one place a presented key is checked (and failures throttled); each
API form only differs in where it finds the key: `Authorization: Bearer KEY` everywhere,
plus a dialect's own header or cookie. `require(scope, actor_dependency)` adds the scope
check, like privacyIDEA's `prepolicy` decorator.

(No `from __future__ import annotations` here: FastAPI must resolve the closure's
annotations at runtime.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smtp_connector.store import READ_SCOPE, SEND_SCOPE, WRITE_SCOPE, Actor, Service

from .errors import ApiFailure, Failure

ActorDependency = Callable[..., Awaitable[Actor]]

bearer = HTTPBearer(auto_error=False, description="An API key (`smtp-connector keys create`)")


async def get_service(request: Request) -> Service:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    hop on every request for an attribute read."""
    service: Service = request.app.state.service
    return service


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def api_key_actor(request: Request, raw: str | None, how: str) -> Actor:
    """The actor for key `raw`: 401 without a key, 403 for an unknown or revoked one, 429 for a
    client with too many recent failures. `how` tells the caller how to send the key."""
    throttle = request.app.state.auth_throttle
    client = _client(request)
    wait = throttle.retry_after(client)
    if wait is not None:
        raise ApiFailure(Failure(429, "rate_limited",
                                 f"Too many failed authentications; retry in {wait:.0f} s.",
                                 headers={"Retry-After": str(int(wait))}))  # fmt: skip
    if not raw:
        await throttle.failed(client)
        raise ApiFailure(Failure(401, "unauthorized", f"No API key: send it as {how}."))
    actor = await (await get_service(request)).keys.authenticate(raw.strip())
    if actor is None:
        await throttle.failed(client)
        raise ApiFailure(Failure(403, "forbidden", "Unknown or revoked API key."))
    return actor


async def bearer_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    raw = credentials.credentials if credentials else None
    return await api_key_actor(request, raw, "`Authorization: Bearer KEY`")


def require(scope: str, actor: ActorDependency = bearer_actor) -> ActorDependency:
    """A dependency giving the caller's Actor, refusing (403) keys without `scope`."""

    async def dependency(who: Annotated[Actor, Depends(actor)]) -> Actor:
        if scope not in who.scopes:
            raise ApiFailure(Failure(403, "forbidden", f"This API key lacks the {scope} scope."))
        return who

    return dependency


ServiceDep = Annotated[Service, Depends(get_service)]
Reader = Annotated[Actor, Depends(require(READ_SCOPE))]
Sender = Annotated[Actor, Depends(require(SEND_SCOPE))]
Writer = Annotated[Actor, Depends(require(WRITE_SCOPE))]
