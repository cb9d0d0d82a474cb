"""Where a request's time goes inside `serve`: loaded by `tenant_builds.py --explain` only.

Python imports `sitecustomize` at start-up from the path, so `--explain` puts this folder on
`serve`'s PYTHONPATH and names a file in $SERVE_PROBE. Without that variable this does nothing.
It records, on CLOCK_MONOTONIC (`time.perf_counter`), which every process on the machine
shares, so the client's timestamps line up with `serve`'s:
- when each chunk of a request arrives on its connection (uvicorn's httptools protocol, on
  the event loop's thread), and when the last part of each answer is handed to the socket;
- at both moments, the loop thread's CPU time and its wait on the OS run queue so far
  (`/proc/thread-self/schedstat`, Linux), so a slow request splits into loop CPU (its own
  and other requests' work), waiting for a CPU, and the rest (the loop idle or waiting for
  the interpreter lock: for the SMTP server's reply, or for another thread of `serve`);
- every garbage-collector pass, its generation and thread.
It writes them as JSON when `serve` stops: uvicorn re-raises SIGTERM after its graceful
shutdown, and `atexit` would not run then.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import threading
import time
from typing import Any

OUT = os.environ.get("SERVE_PROBE")


def _queued() -> int:
    """This thread's time waiting on a run queue so far, in ns."""
    with open("/proc/thread-self/schedstat") as stat:
        return int(stat.read().split()[1])


def _install(out: str) -> None:
    from uvicorn.protocols.http import httptools_impl as http

    events: list[tuple[Any, ...]] = []
    clock, cpu = time.perf_counter, time.thread_time

    def on_gc(phase: str, info: dict[str, int]) -> None:
        events.append(("gc", phase, info["generation"], threading.get_native_id(), clock()))

    gc.callbacks.append(on_gc)
    received = http.HttpToolsProtocol.data_received

    def data_received(self: Any, data: bytes) -> None:
        peer = self.client[1] if self.client else 0
        events.append(("rx", peer, clock(), cpu(), _queued()))
        received(self, data)

    sent = http.RequestResponseCycle.send

    async def send(self: Any, message: Any) -> None:
        await sent(self, message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            peer = self.scope["client"][1] if self.scope.get("client") else 0
            events.append(("tx", peer, clock(), cpu(), _queued(), self.scope["path"]))

    http.HttpToolsProtocol.data_received = data_received  # type: ignore[method-assign]
    http.RequestResponseCycle.send = send  # type: ignore[method-assign]
    written = []

    def dump() -> None:
        if not written:
            written.append(True)
            with open(out, "w") as file:
                json.dump(events, file)

    reraise = signal.raise_signal

    def raise_signal(number: int) -> None:
        dump()
        reraise(number)

    signal.raise_signal = raise_signal
    atexit.register(dump)


if OUT:
    _install(OUT)
