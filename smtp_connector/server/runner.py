"""`serve`'s uvicorn configuration: timeouts, proxies and logging, in one place
(`uvicorn_config`; `cli/serve_cmd.py` runs it on the sockets it bound).

What uvicorn gives and what it does not (finding 8):

- **Head timeout.** uvicorn has none: a client that connects and sends a header line now and
  then holds a connection (and its buffers) forever. `head_timeout_protocol` subclasses
  uvicorn's HTTP protocol (httptools when installed, else h11) to close a connection whose
  request head has not completed within `header_timeout` seconds: counted from the
  connection's start, and for later requests on a keep-alive connection from the packet that
  brought the first part of their head.
- **Keep-alive timeout.** uvicorn's own (`timeout_keep_alive`), from `keepalive_timeout`.
- **Body timeout, concurrency cap.** ASGI, in `edge.py`, so that they answer in the route's
  error envelope.
- **Proxies (finding 17).** uvicorn believes `X-Forwarded-For` from 127.0.0.1 by default, so a
  local client could pick any address for the failed-auth brake. Here proxy headers are off
  unless `trusted_proxies` names the proxies whose headers count.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from .access_log import log_config
from .settings import Settings

log = logging.getLogger("smtp_connector.server")


def _base_protocol() -> type[asyncio.Protocol]:
    """uvicorn's choice for `http="auto"`: httptools when installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is part of the server extra
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


def head_timeout_protocol(
    timeout: float, base: type[asyncio.Protocol] | None = None
) -> type[asyncio.Protocol]:
    """`base` (uvicorn's httptools or h11 protocol) closing connections whose request head
    takes longer than `timeout` seconds."""
    parent: Any = base or _base_protocol()

    class HeadTimeoutProtocol(parent):
        head_timeout = timeout
        _head_timer: asyncio.TimerHandle | None = None
        _head_cycle: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            waiting = before is None or before.response_complete  # for a new request's head
            super().data_received(data)
            if self.cycle is not before:
                self._disarm_head_timer()  # uvicorn made a new request cycle: the head is in
            elif waiting:
                self._arm_head_timer()  # part of a head: it has until the timer to complete
                # (a head that arrives whole, the usual case, costs no timer at all)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            if self._head_timer is None:
                self._head_cycle = self.cycle
                self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.cycle is self._head_cycle and not self.transport.is_closing():
                log.info("closed a connection whose request head took over %g s", timeout)
                self.transport.close()

    return HeadTimeoutProtocol


def uvicorn_config(app: Any, settings: Settings, *, loop: str, log_level: str) -> uvicorn.Config:
    """The uvicorn configuration `serve` runs `app` with."""
    proxies = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop=loop,
        http=head_timeout_protocol(settings.header_timeout),
        log_config=log_config(log_level),
        log_level=log_level,
        lifespan="on",
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]  # a float works
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
