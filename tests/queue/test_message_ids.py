"""Outbox message ids (queue/message_ids.py) are what `uuid.uuid4().hex` gave: 32 hex digits
of a version-4, RFC 4122 UUID, all different — across the refills of the random buffer, from
several threads at once, and in a forked child, which must not repeat its parent's ids; made
from the random bytes as `uuid.UUID(bytes=…, version=4).hex` makes them (hypothesis)."""

from __future__ import annotations

import os
import sys
import threading
import uuid
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_connector.queue.message_ids import new_message_id, version4_hex


def test_ids_are_uuid4_hex_and_unique_across_refills() -> None:
    ids = [new_message_id() for _ in range(3000)]  # about twelve refills of the buffer
    assert len(set(ids)) == len(ids)
    for message_id in ids:
        parsed = uuid.UUID(hex=message_id)
        assert parsed.hex == message_id and len(message_id) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_threads_never_share_an_id() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_message_id() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [message_id for into in found for message_id in into]
    assert len(set(ids)) == len(ids) == 8000


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_message_id()  # the parent's buffer is filled, its next ids decided
    read, write = os.pipe()
    with warnings.catch_warnings():  # 3.12+: "multi-threaded, fork may deadlock" (no locks held)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "".join(new_message_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    children = {child[i : i + 32] for i in range(0, len(child), 32)}
    parents = {new_message_id() for _ in range(10)}
    assert len(children) == 10 and not children & parents


@given(st.binary(min_size=16, max_size=16))
def test_version4_hex_is_uuids_own(random16: bytes) -> None:
    """The bits set on the bytes are those `uuid.UUID(bytes=…, version=4)` sets on its int."""
    assert version4_hex(random16) == uuid.UUID(bytes=random16, version=4).hex
