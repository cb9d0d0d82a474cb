"""A caller's checkpoint right before a message's content goes on the wire.

A queue that must never send a code twice has to know, after a crash, whether a message may
already be with the server. The last safe moment to record "from here on, it may be" is after
the server's 354 and before the message's bytes (ending in the final dot) are written: before
it, an interrupted attempt delivered nothing; after it, the server may hold the message.

The checkpoint is a context variable, so it follows the one send it was set for through
failover and retries (each attempt that reaches DATA awaits it again) without changing any
signature between the connector and the pool. The pool hands messages to one sender task per
connection, which runs in its own context: it takes the callback with `current_checkpoint()`
when the message is queued and passes it to `reach_message_data` explicitly.

    with before_message_data(record_in_flight):
        await connector.send(...)

If the callback raises, nothing is sent on that attempt and the send ends with a
non-retryable `message_rejected` error at stage `data` (the connection is dropped, since the
server is waiting for the message content).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from ..errors import ConnectorError, ErrorCode

Checkpoint = Callable[[], Awaitable[None]]

_CHECKPOINT: ContextVar[Checkpoint | None] = ContextVar("smtp_connector_checkpoint", default=None)


@contextmanager
def before_message_data(callback: Checkpoint) -> Iterator[None]:
    """Await `callback` before each attempt's message content, inside this block."""
    token = _CHECKPOINT.set(callback)
    try:
        yield
    finally:
        _CHECKPOINT.reset(token)


# The checkpoint of the send running in this context (taken when a message is queued): the
# variable's own `get`, so queueing a message runs no Python frame for it.
current_checkpoint: Callable[[], Checkpoint | None] = _CHECKPOINT.get
# `before_message_data` as the variable's own `set` and `reset`, for a caller that sets a
# checkpoint around each of many sends (the queue's worker: one per message) and so skips the
# context manager's generator: `token = set_checkpoint(cb)`, then `reset_checkpoint(token)` in
# a `finally` (tests/queue/test_worker_checkpoint.py).
set_checkpoint: Callable[[Checkpoint | None], Token[Checkpoint | None]] = _CHECKPOINT.set
reset_checkpoint: Callable[[Token[Checkpoint | None]], None] = _CHECKPOINT.reset


async def reach_message_data(server: str, callback: Checkpoint | None) -> None:
    """Called by the sender after 354, before the content: runs the send's checkpoint."""
    if callback is None:
        return
    try:
        await callback()
    except ConnectorError:
        raise
    except Exception as exc:
        raise ConnectorError(
            ErrorCode.MESSAGE_REJECTED,
            f"Not sent: the caller's checkpoint before DATA refused ({type(exc).__name__}).",
            server=server,
            retryable=False,
            stage="data",
        ) from None
