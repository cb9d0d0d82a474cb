"""Message-IDs and MIME boundaries: a random prefix per process plus a counter. Unique within a
process, different in every other process (forked children included), never guessable."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from smtp_connector.compose.message import _UniqueTokens, make_message_id, unique_token

SCRIPT = "from smtp_connector.compose.message import unique_token; print(unique_token())"


def prefix(token: str) -> str:
    return token[:20]  # 80 random bits in hex; the counter follows


def test_unique_within_a_process() -> None:
    ids = [make_message_id("example.com") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"<[0-9a-f]{21,}\.[0-9]+@example\.com>", i) for i in ids[:100])


def test_every_process_draws_its_own_prefix() -> None:
    mine = prefix(unique_token())
    others = {
        prefix(
            subprocess.run(
                [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        for _ in range(3)
    }
    assert len(others) == 3 and mine not in others
    assert all(re.fullmatch(r"[0-9a-f]{20}", p) for p in others)


def test_a_forked_child_draws_a_new_prefix() -> None:
    """Parent and child share the counter's state at the fork: without a new prefix the child's
    first Message-ID would be the parent's next one."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next token, then leave without running pytest's exit
        os.write(write, unique_token().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert prefix(child) != prefix(unique_token())


@given(st.integers(min_value=0, max_value=2**80))
def test_a_token_is_its_prefix_and_its_counter_in_hex(count: int) -> None:
    """`%x` formatting (wire-11): the text the `:x` format spec wrote, for any counter value."""
    tokens = _UniqueTokens()
    tokens.counter = itertools.count(count)
    assert tokens.next() == f"{tokens.prefix}{count:x}"
