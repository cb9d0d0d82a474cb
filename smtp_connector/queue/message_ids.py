"""Outbox message ids: random version-4 UUIDs in hex, as `uuid.uuid4().hex` makes them, with
the random bytes drawn from `os.urandom` 256 ids at a time.

`uuid.uuid4()` calls `os.urandom` for every id, and `os.urandom` releases the GIL around the
`getrandom` system call: on the event loop thread each enqueue handed the GIL to whichever
thread was waiting for it (the SQLite writer, `aiosqlite`'s, the connector builds) and then
waited to get it back. Profiled with py-spy under `benchmarks/service.py --modes sqlite --load
wrk`, that call was over half of the enqueue's own samples. The ids are the same: 122 random
bits from the same source, version 4, the RFC 4122 variant. A forked child starts with a fresh
buffer, so it never hands out ids its parent does.
"""

from __future__ import annotations

import os
import threading

_IDS_PER_READ = 256


class _Pool:
    """Random bytes for the next ids (any thread; a lock, never a GIL release, per id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._offset = 0

    def next16(self) -> bytes:
        with self._lock:
            if self._offset >= len(self._bytes):
                self._bytes, self._offset = os.urandom(16 * _IDS_PER_READ), 0
            start, self._offset = self._offset, self._offset + 16
            return self._bytes[start : start + 16]

    def forget(self) -> None:
        """After a fork: the child must not reuse the bytes its parent still hands out."""
        self._lock = threading.Lock()
        self._bytes, self._offset = b"", 0


_pool = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.forget)


def new_message_id() -> str:
    """A new message id: 32 hex digits of a random version-4 UUID."""
    return version4_hex(_pool.next16())


def version4_hex(random16: bytes) -> str:
    """`uuid.UUID(bytes=random16, version=4).hex`, with the version and variant bits set on
    the bytes rather than through `UUID`'s Python `__init__` and int arithmetic (~17,000
    instructions an enqueue, issue 26 §1): byte 6's high nibble is the version (4), byte 8's
    two high bits the RFC 4122 variant (10). tests/queue/test_message_ids.py compares both."""
    raw = bytearray(random16)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()
