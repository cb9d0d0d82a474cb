"""Short interpreter-lock turns while connectors are built in threads.

A build (config validation, failover servers, TLS settings) is Python work that holds the
interpreter lock. CPython hands the lock over on request only after `sys.getswitchinterval()`
(5 ms by default): each time the event loop lets go of it to wait for a socket, a build thread
takes it, and the loop, woken by a reply a moment later, waits up to those 5 ms for it, at
every wake-up of every request. A send with a few round trips to its SMTP server then took
tens of milliseconds while another app's connector was being built (tenant_builds.py). While
any build runs, `short_turns` lowers the interval to `BUILD_TURN` seconds, so the loop gets the
lock back within that; it restores the previous interval when the last build ends.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BUILD_TURN = 0.0005  # seconds: a loop wake-up waits at most this long for a build thread

_lock = threading.Lock()  # builds may start from several loops (a cache per service)
_running = 0
_saved = 0.0


@contextmanager
def short_turns() -> Iterator[None]:
    """Keep the switch interval at most `BUILD_TURN` while the block runs (nested and
    concurrent blocks share one lowering; the last to leave restores the interval)."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved, BUILD_TURN))
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                sys.setswitchinterval(_saved)
